/**
 * Report of a phase-4 `plip steer-gen` result (real small organism run): the calibration heatmap holds the
 * header's layer × head grids, the dose-response points and bands are the results' rates and Wilson CIs per
 * series, the ceiling is the trend test's, the executed-pass series appears only when the tests ran, the
 * criteria are the experiment's with the reachable-α statement, and a bad file names the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildReport, parseResults, readResults } from '../../src/report/html/build.ts';
import type { SteerGenSummary } from '../../src/experiments/steer-generation/schema.ts';
import { EXTERNAL_URL, RESULTS } from './fixtures.ts';

type Row = Record<string, string | number | null>;
const data = (spec: unknown) => (spec as { data: { values: Row[] } }).data.values;

test('steer-generation: calibration heatmap = header grids; dose-response = results rates, Wilson CIs, ceiling; tables; no URL', async () => {
  const doc = readResults(RESULTS['steer-generation']);
  const s = doc.summary as SteerGenSummary;
  const cal = (doc.header.settings as { calibration: { python: number[][]; rust: number[][] } }).calibration;
  const r = await buildReport([doc]);
  const part = r.parts[0]!;
  assert.deepEqual(part.figures.map((f) => f.id), ['steer-generation-calibration', 'steer-generation-dose-response']);
  for (const f of part.figures) assert.ok((f.svg.match(/<path|<rect|<line/g) ?? []).length > 10, `${f.id} has marks`);
  assert.equal(EXTERNAL_URL.exec(r.html), null);

  const heat = data(part.section.figures[0]!.spec);
  assert.equal(heat.length, 2 * cal.python.length * cal.python[0]!.length);
  for (const [lang, grid] of [['Python', cal.python], ['Rust', cal.rust]] as const)
    grid.forEach((row, l) => row.forEach((m, h) => assert.equal(heat.find((x) => x.facet === lang && x.y === `L${l}` && x.x === h)!.value, m, `${lang} L${l} H${h}`)));

  const dose = data(part.section.figures[1]!.spec);
  const curve = s.doses.filter((d) => d.multiple !== null);
  assert.ok(curve.length >= 3);
  for (const d of curve) {
    const steered = dose.find((x) => x.kind === 'curve' && x.facet === d.unit && x.series === 'steered (function tokens)' && x.level === d.multiple)!;
    assert.deepEqual([steered.value, steered.lo, steered.hi], [d.preserved.rate, d.preserved.lo, d.preserved.hi], d.label);
    const control = dose.find((x) => x.kind === 'curve' && x.facet === d.unit && x.series === 'control (matched random keys)' && x.level === d.multiple)!;
    assert.deepEqual([control.value, control.lo, control.hi], [d.control.rate, d.control.lo, d.control.hi], `${d.label} control`);
  }
  // absolute doses (over-steering) are not plotted on the multiple axis
  assert.equal(dose.filter((x) => x.kind === 'curve' && x.series === 'steered (function tokens)').length, curve.length);
  assert.deepEqual(dose.filter((x) => x.kind === 'ceiling').map((x) => [x.facet, x.level]), s.trends.map((t) => [t.unit, t.ceilingMultiple]));
  assert.ok(!dose.some((x) => String(x.facet).includes('executed')), 'no executed-pass series when the tests did not run');

  const doseTable = part.section.tables.find((t) => t.caption.startsWith('Per unit and dose'))!;
  assert.equal(doseTable.rows.length, s.doses.length);
  assert.match(doseTable.caption, s.correction.alphaReachable ? /α = 0\.05 is reachable/ : /α = 0\.05 is NOT reachable/);
  assert.match(doseTable.caption, new RegExp(`smallest reachable adjusted p ${s.correction.minReachableP.toPrecision(3)}`));
  assert.equal(part.section.tables.find((t) => t.caption.startsWith('Trend'))!.rows.length, s.trends.length);
  assert.equal(part.section.tables.find((t) => t.caption.startsWith('Calibration per layer'))!.rows.length, cal.python.length);
  assert.deepEqual(part.section.criteria.map((c) => c.met), s.criteria.map((c) => c.met));
  assert.match(r.html, /Caveat: with n = 6 prompts/);
});

test('steer-generation: executed tests add the pass-rate series (its own facet, the results\' CIs)', async () => {
  const doc = readResults(RESULTS['steer-generation']);
  const s = doc.summary as SteerGenSummary;
  const pass = { k: 2, n: 6, rate: 2 / 6, lo: 0.0968, hi: 0.7000 };
  s.baseline.executedPass = pass;
  s.doses.forEach((d, i) => (d.executedPass = { ...pass, k: i, rate: i / 6 }));
  const r = await buildReport([{ ...doc, path: 'executed.json' }]);
  const dose = data(r.parts[0]!.section.figures[1]!.spec);
  for (const d of s.doses.filter((x) => x.multiple !== null)) {
    const p = dose.find((x) => x.kind === 'curve' && x.facet === `${d.unit} · executed test passes` && x.series === 'steered (function tokens)' && x.level === d.multiple)!;
    assert.equal(p.value, d.executedPass!.rate);
  }
  assert.ok(dose.some((x) => x.facet === `L3 · preserved`));
  assert.ok(r.parts[0]!.figures[1]!.svg.includes('executed test passes'));
});

test('steer-generation: a bad file names the field', async () => {
  const doc = JSON.parse(readFileSync(RESULTS['steer-generation'], 'utf8'));
  delete doc.summary.doses[1].preserved.lo;
  await assert.rejects(buildReport([parseResults(JSON.stringify(doc), 'bad-sg.json')]), /bad-sg\.json: not a valid steer-generation results file — summary\.doses\.1\.preserved\.lo/);
  const doc2 = JSON.parse(readFileSync(RESULTS['steer-generation'], 'utf8'));
  doc2.records[0].units[0].doses[0].treated.preserved = 'yes';
  await assert.rejects(buildReport([parseResults(JSON.stringify(doc2), 'bad-sg2.json')]), /bad-sg2\.json: .*records\.0\.units\.0\.doses\.0\.treated\.preserved/);
});

test('steer-generation token view (--model): the query is the test marker, the outlined tokens the function tokens', async () => {
  const { loadModel } = await import('../../src/model/load.ts');
  const model = await loadModel('models/plip-tiny-code');
  const doc = readResults(RESULTS['steer-generation']);
  const rec = (doc.records as Array<{ id: string; marker: { first: number; last: number; text: string }; targets: number[]; name: string }>)[1]!;
  const r = await buildReport([doc], { model, sample: rec.id });
  const tv = r.parts[0]!.section.tokenViews[0]!;
  assert.equal(tv.query, rec.marker.first);
  assert.equal(tv.tokens.slice(rec.marker.first, rec.marker.last + 1).join('').trim(), rec.marker.text);
  assert.ok(rec.targets.map((k) => tv.tokens[k]).join('').includes(rec.name), 'the function tokens spell the name');
  assert.deepEqual(tv.highlight, rec.targets);
  const sum = tv.values.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < 1e-6, `attention row sums to 1 (${sum})`);
  await assert.rejects(buildReport([doc], { model, sample: 'nope' }), /--sample 'nope' is not a prompt/);
});
