/**
 * plip report (no browser): a report of every committed organism result kind validates, renders its
 * figures with vega, names no external URL; the token view's attention equals the engine's pattern;
 * Wilson intervals match hand-computed values; bad files give errors naming the file and field;
 * --figures writes standalone SVGs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildReport, exportFigures, parseResults, readResults } from '../../src/report/html/build.ts';
import { wilson } from '../../src/report/html/stats.ts';
import { loadModel } from '../../src/model/load.ts';
import { knownKinds } from '../../src/report/html/registry.ts';
import { EXTERNAL_URL, KINDS, RESULTS } from './fixtures.ts';

test('Wilson score interval: hand-computed values', () => {
  // 5/10: centre (0.5 + 1.92/10)/(1 + 3.8415/10) = 0.5, half = 1.96/1.38415 · sqrt(0.025 + 0.0096) = 0.2634
  const a = wilson(5, 10);
  assert.ok(Math.abs(a.lo! - 0.2366) < 1e-4 && Math.abs(a.hi! - 0.7634) < 1e-4, JSON.stringify(a));
  const b = wilson(0, 10);
  assert.equal(b.lo, 0);
  assert.ok(Math.abs(b.hi! - 0.2775) < 1e-4, JSON.stringify(b));
  const c = wilson(46, 50);
  assert.ok(Math.abs(c.lo! - 0.8112) < 1e-3 && Math.abs(c.hi! - 0.9685) < 1e-3, JSON.stringify(c));
  assert.deepEqual(wilson(0, 0), { estimate: null, lo: null, hi: null });
  assert.throws(() => wilson(11, 10), /outside/);
});

test('every committed result kind has a renderer', () => {
  for (const k of KINDS) assert.ok(knownKinds().includes(k), k);
});

test('a report of each kind: schema-valid, figures rendered by vega, tables, provenance, no external URL', async () => {
  const expectFigures: Record<string, string[]> = {
    scan: ['scan-layer-curve', 'scan-head-heatmap-t', 'scan-head-heatmap-mean', 'scan-sample-distribution'],
    knockout: ['knockout-kl-distribution', 'knockout-layer-curve'],
    copying: ['copying-rates', 'copying-logprob-distribution'],
    steer: ['steer-dose-kl', 'steer-dose-dMeanNll', 'steer-calibrated-distribution'],
    patch: ['patch-resid-heatmap', 'patch-head-heatmap', 'patch-pattern-layer-curve', 'patch-effect-distribution'],
    preservation: ['preservation-rates', 'preservation-relative-change'],
    transplant: ['transplant-rates', 'transplant-preserved-diff', 'transplant-logp-distribution'],
    'steer-generation': ['steer-generation-calibration', 'steer-generation-dose-response'],
  };
  for (const kind of KINDS) {
    const doc = readResults(RESULTS[kind]);
    const r = await buildReport([doc]);
    const figs = r.parts[0]!.figures;
    assert.deepEqual(figs.map((f) => f.id), expectFigures[kind], kind);
    for (const f of figs) {
      assert.match(f.svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, `${kind}/${f.id} standalone SVG keeps its namespace`);
      assert.ok((f.svg.match(/<path|<rect|<line/g) ?? []).length > 10, `${kind}/${f.id} has marks`);
    }
    assert.equal(EXTERNAL_URL.exec(r.html), null, `${kind}: report names an external URL: ${EXTERNAL_URL.exec(r.html)?.[0]}`);
    assert.equal((r.html.match(/<svg/g) ?? []).length, figs.length, `${kind}: one inline SVG per figure`);
    assert.match(r.html, /<caption>Provenance<\/caption>/);
    assert.ok(r.html.includes(doc.header.corpus!.sha256), `${kind}: provenance shows the input sha256`);
    assert.ok(r.html.includes(`seed</th><td><code>${doc.header.seed}`), `${kind}: provenance shows the seed`);
    assert.ok(!/\bNaN\b|>undefined<|>null</.test(r.html.replace(/<svg[\s\S]*?<\/svg>/g, '')), `${kind}: no NaN/undefined/null cell`);
  }
});

test('success criteria: met / not met as the results say (organism)', async () => {
  const ko = await buildReport([readResults(RESULTS.knockout)]);
  const c = ko.parts[0]!.section.criteria.find((x) => /statistically significant/.test(x.name))!;
  const doc = JSON.parse(readFileSync(RESULTS.knockout, 'utf8'));
  assert.equal(c.met, doc.summary.verdict.met);
  const cp = await buildReport([readResults(RESULTS.copying)]);
  const drop = cp.parts[0]!.section.criteria.find((x) => />20%/.test(x.name))!;
  // organism: L3 knockout takes the copying rate from 92% to 0% in both groups with Holm p < 0.05
  assert.equal(drop.met, true, drop.detail);
  assert.equal(cp.parts[0]!.section.criteria.find((x) => /2\+ models/.test(x.name))!.met, null);
  assert.match(cp.html, /class="met">met</);
});

test('preservation: the results\' Wilson intervals are the report\'s Wilson; criteria as the experiment evaluated them', async () => {
  const doc = readResults(RESULTS.preservation);
  const s = doc.summary as { comparisons: Array<{ baseline: { k: number; n: number; lo: number; hi: number } }>; criteria: Array<{ met: boolean }> };
  for (const c of s.comparisons) {
    const w = wilson(c.baseline.k, c.baseline.n);
    assert.ok(Math.abs(w.lo! - c.baseline.lo) < 1e-12 && Math.abs(w.hi! - c.baseline.hi) < 1e-12);
  }
  const r = await buildReport([doc]);
  const crit = r.parts[0]!.section.criteria;
  assert.deepEqual(crit.slice(0, s.criteria.length).map((c) => c.met), s.criteria.map((c) => c.met));
  assert.match(r.parts[0]!.section.intro, /^Caveat: with n = 6 prompts/);
});

test('replication across models: decided when one report holds results of 2+ models', async () => {
  const doc = readResults(RESULTS.copying);
  const other = structuredClone(doc);
  other.path = 'other.json';
  other.header.model = { ...other.header.model, id: 'other-model' };
  const both = await buildReport([doc, other]);
  for (const p of both.parts) {
    const c = p.section.criteria.find((x) => x.name === 'Effect replicates across 2+ models')!;
    assert.equal(c.met, true, c.detail);
    assert.match(c.detail, /2 models .*models\/plip-tiny-code shows the drop; other-model shows the drop/);
  }
  // the second model without the effect (every unit's effect flag off): not replicated
  const none = structuredClone(other);
  for (const s of (none.summary as { stats: Array<{ effect: boolean }> }).stats) s.effect = false;
  const mixed = await buildReport([doc, none]);
  const c = mixed.parts[0]!.section.criteria.find((x) => x.name === 'Effect replicates across 2+ models')!;
  assert.equal(c.met, false, c.detail);
  assert.match(c.detail, /other-model does not show the drop/);
  // one model twice is still one model
  const same = await buildReport([doc, { ...doc, path: 'again.json' }]);
  assert.equal(same.parts[0]!.section.criteria.find((x) => x.name === 'Effect replicates across 2+ models')!.met, null);
});

test('token view (--model): attention from the marker recomputed equals the engine pattern', async () => {
  const model = await loadModel('models/plip-tiny-code');
  const doc = readResults(RESULTS.scan);
  const r = await buildReport([doc], { model, sample: 'py_simple_add' });
  const tv = r.parts[0]!.section.tokenViews[0]!;
  const rec = (doc.records as Array<{ id: string; marker: { token: number }; targetTokens: number[]; nTokens: number }>).find((x) => x.id === 'py_simple_add')!;
  assert.equal(tv.query, rec.marker.token);
  assert.deepEqual(tv.highlight, rec.targetTokens);
  assert.equal(tv.tokens.length, rec.nTokens);
  const best = (doc.summary as { bestLayer: { layer: number } }).bestLayer.layer;
  const corpus = JSON.parse(readFileSync(doc.header.corpus!.path, 'utf8'));
  const code: string = Object.values(corpus).flat().find((s) => (s as { id?: string }).id === 'py_simple_add')!['code' as never];
  const ids = model.tokenizer!.encode(code);
  const name = `blocks.${best}.attn.hook_pattern`;
  const p = model.runWithCache(ids, { names: [name] }).cache.get(name);
  const T = ids.length;
  for (let k = 0; k < T; k++) {
    let m = 0;
    for (let h = 0; h < model.spec.nHeads; h++) m += p.data[(h * T + tv.query) * T + k]! / model.spec.nHeads;
    assert.ok(Math.abs(tv.values[k]! - m) < 1e-12, `key ${k}`);
  }
  // scan records the mean over targets of this value: the recomputed row must reproduce it
  const obs = (doc.records as Array<{ id: string; layers: Array<{ layer: number; mean: { observed: number } }> }>).find((x) => x.id === 'py_simple_add')!.layers.find((l) => l.layer === best)!.mean.observed;
  const fromView = rec.targetTokens.reduce((a, k) => a + tv.values[k]!, 0) / rec.targetTokens.length;
  assert.ok(Math.abs(fromView - obs) < 1e-5, `${fromView} vs recorded ${obs}`);
  assert.match(r.html, /class="tok query"/);
  assert.equal(EXTERNAL_URL.exec(r.html), null);
  await assert.rejects(buildReport([doc], { model, sample: 'no_such_sample' }), /--sample 'no_such_sample' is not a sample/);
});

test('bad results files: errors name the file and the field', async () => {
  assert.throws(() => parseResults('{"header": ', 'x.json'), /x\.json: malformed JSON/);
  assert.throws(() => parseResults('', 'x.json'), /x\.json: empty file/);
  assert.throws(() => parseResults('{"records": [], "summary": {}}', 'x.json'), /x\.json: missing 'header'/);
  assert.throws(() => parseResults('{"header": {"experiment": "scan"}, "records": []}', 'x.json'), /x\.json: missing 'summary' — the run is unfinished/);
  assert.throws(() => readResults('no/such/file.json'), /no\/such\/file\.json: file not found/);
  const unknown = parseResults('{"header": {"experiment": "nope"}, "records": [], "summary": {}}', 'u.json');
  await assert.rejects(buildReport([unknown]), /u\.json: no report renderer for experiment 'nope' \(known: .*scan/);
  const doc = JSON.parse(readFileSync(RESULTS.scan, 'utf8'));
  delete doc.records[3].uniformNull;
  await assert.rejects(buildReport([parseResults(JSON.stringify(doc), 'bad-scan.json')]), /bad-scan\.json: not a valid scan results file — records\.3\.uniformNull/);
  // .jsonl form of the same document renders too
  const good = JSON.parse(readFileSync(RESULTS.knockout, 'utf8'));
  const jsonl = [{ type: 'header', ...good.header }, ...good.records.map((r: object) => ({ type: 'record', ...r })), { type: 'summary', ...good.summary }].map((x) => JSON.stringify(x)).join('\n');
  const r = await buildReport([parseResults(jsonl, 'k.jsonl')]);
  assert.equal(r.parts[0]!.figures.length, 2);
});

test('--figures: standalone SVG per figure (PNG left to the rasteriser)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'plip-fig-'));
  const r = await buildReport([readResults(RESULTS.scan), readResults(RESULTS.patch)]);
  const ex = await exportFigures(r, dir);
  assert.equal(ex.svg.length, 8);
  assert.equal(ex.png.length, 0);
  assert.deepEqual(readdirSync(dir).sort(), ex.svg.map((p) => p.slice(dir.length + 1)).sort());
  for (const f of ex.svg) assert.match(readFileSync(f, 'utf8'), /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[\s\S]*<\/svg>$/);
});
