/**
 * The steering experiment on the model organism and the real PLIP corpus: levels are reached exactly
 * (measured from the edited pattern), calibration levels equal the reference group's mean natural mass,
 * the planted layer-3 mechanism shows a dose-response that matched random keys do not, an interrupted run
 * resumes to the same result, and bad options fail with clear messages (library and CLI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/model/load.ts';
import { loadCorpus } from '../../src/corpus/index.ts';
import { runSteer, type SteerOkRecord, type SteerRecord } from '../../src/experiments/steer/experiment.ts';
import { spearman } from '../../src/experiments/steer/stats.ts';
import { resultsDocSchema, steerRecordSchema, steerSummarySchema } from '../../src/experiments/steer/schema.ts';
import { ResultsStore, TOOL_NAME, TOOL_VERSION, type Provenance } from '../../src/report/results.ts';

const CORPUS = '../shared/corpus/attention_samples_universal.json';
const model = await loadModel('models/plip-tiny-code');
const corpus = await loadCorpus(CORPUS);
const dir = mkdtempSync(join(tmpdir(), 'plip-steer-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const OPTS = { layers: [0, 3], levels: [0, 0.2, 0.5, 1], controls: 2, seed: 1, limit: 5, groups: ['python_doctest', 'rust_test'], calibrateTo: 'python_doctest' };
const run = runSteer(model, corpus, OPTS);
const ok = run.records.filter((r): r is SteerOkRecord => r.status === 'ok');

test('spearman: ties get average ranks; constant input is undefined', () => {
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.ok(Math.abs(spearman([1, 2, 3, 4], [1, 1, 2, 2])! - 0.8944271909999159) < 1e-12);
  assert.equal(spearman([1, 2, 3], [5, 5, 5]), null);
});

test('every steered and control condition reaches its level (measured from the edited pattern)', () => {
  for (const r of run.records) steerRecordSchema.parse(r);
  assert.ok(ok.length >= 12, `applicable records: ${ok.length}`);
  assert.ok(run.summary.maxMassError !== null && run.summary.maxMassError < 1e-5, `max mass error ${run.summary.maxMassError}`);
  for (const r of ok)
    for (const l of r.levels) {
      assert.ok(Math.abs(l.steer.achievedMass - l.level) < 1e-5);
      assert.ok(Math.abs(l.control.achievedMass - l.level) < 1e-5);
    }
});

test('calibration levels are the reference group’s mean natural mass per (layer, head); only other groups are calibrated', () => {
  const cal = run.calibration!;
  assert.equal(cal.group, 'python_doctest');
  for (const L of [0, 3]) {
    const py = ok.filter((r) => r.group === 'python_doctest' && r.unit.layers[0] === L);
    assert.equal(py.length, cal.n);
    for (let h = 0; h < model.spec.nHeads; h++) {
      const mean = py.reduce((s, r) => s + r.baselineMass[0]![h]!, 0) / py.length;
      assert.ok(Math.abs(mean - cal.mass[L]![h]!) < 1e-6, `L${L} h${h}`);
    }
  }
  for (const r of ok) {
    if (r.group === 'python_doctest') assert.equal(r.calibrated, null);
    else {
      assert.deepEqual(r.calibrated!.levels[0], cal.mass[r.unit.layers[0]!]);
      assert.ok(r.calibrated!.steer.massError < 1e-5);
    }
  }
});

test('the planted mechanism: at layer 3, taking the marker’s attention off the function hurts the real doctest line; matched keys and layer 0 do not', () => {
  const cell = (g: string, u: string) => run.summary.cells.find((c) => c.group === g && c.unit.id === u)!;
  const py3 = cell('python_doctest', 'L3');
  const zero = py3.levels.find((l) => l.level === 0)!;
  assert.ok(zero.medianKlSteer! > 1, `L3 level 0 KL steer ${zero.medianKlSteer}`);
  assert.ok(zero.medianDNllSteer! > 0.2, `L3 level 0 ΔNLL steer ${zero.medianDNllSteer}`);
  assert.ok(Math.abs(zero.medianDNllControl!) < 0.05, `L3 level 0 ΔNLL control ${zero.medianDNllControl}`);
  assert.ok(zero.medianKlControl! < 0.05, `L3 level 0 KL control ${zero.medianKlControl}`);
  assert.ok(py3.trend.medianRhoSteer! < 0, `more attention to the function, lower NLL: ρ = ${py3.trend.medianRhoSteer}`);
  // whole-identifier targets (the default) draw as many control keys as function tokens, so the control mass grows with them
  assert.ok(py3.medianNaturalMass! > 3 * py3.medianNaturalMassControl!, `the marker attends to the function far more than to matched keys (${py3.medianNaturalMass} vs ${py3.medianNaturalMassControl})`);
  // the primary test (trend across levels, Holm over units only) reaches α at n = 5, and says which way
  const t = py3.trend.permutation!;
  assert.equal(t.direction, 'increasing', 'more mass on the function helps the real line more than on random keys');
  assert.ok(t.pHolm! < 0.05, `primary trend Holm p ${t.pHolm}`);
  const reach = run.summary.reach!.find((r) => r.group === 'python_doctest')!;
  assert.equal(reach.trend.reachable, true);
  assert.equal(reach.levels.reachable, false, '2 units × 4 levels × 2/2^5 = 0.5: the per-level tests cannot reach α');
  assert.ok(Math.abs(reach.levels.minP - 0.5) < 1e-12);
  const zero0 = cell('python_doctest', 'L0').levels.find((l) => l.level === 0)!;
  assert.ok(Math.abs(zero0.medianDNllSteer!) < 0.05, `L0 level 0 ΔNLL steer ${zero0.medianDNllSteer}`);
  assert.ok(zero0.medianKlSteer! < 0.05, `L0 level 0 KL steer ${zero0.medianKlSteer}`);
});

test('an interrupted run resumes without losing or duplicating records, and gives the same summary', () => {
  const out = join(dir, 'steer.json');
  const header: Provenance = { tool: { name: TOOL_NAME, version: TOOL_VERSION }, experiment: 'steer', schemaVersion: 1, model: { id: 't' } as never, corpus: { path: CORPUS, sha256: corpus.sha256, nSamples: 1 }, settings: OPTS, seed: 1, argv: [], startedAt: 'x' };
  const small = { ...OPTS, limit: 2 };
  const full = runSteer(model, corpus, small);
  let n = 0;
  assert.throws(() => runSteer(model, corpus, { ...small, out, onProgress: () => { if (++n === 3) throw new Error('simulated crash'); } }), /simulated crash/);
  const resumed = runSteer(model, corpus, { ...small, out });
  assert.equal(resumed.resumed, 3);
  assert.equal(resumed.records.length, full.records.length);
  assert.equal(new Set(resumed.records.map((r) => r.key)).size, full.records.length);
  assert.deepEqual(resumed.summary, full.summary);
});

test('bad options fail with clear messages', () => {
  assert.throws(() => runSteer(model, corpus, { levels: [0, 1.5] }), /levels: 1\.5 is not an attention mass in \[0, 1\]/);
  assert.throws(() => runSteer(model, corpus, { calibrateTo: 'nope' }), /calibrateTo: corpus has no group 'nope'/);
  assert.throws(() => runSteer(model, corpus, { layers: [9] }), /layers: layer 9 is out of range/);
  assert.throws(() => runSteer(model, corpus, { levels: [0.2, 0.2] }), /levels: duplicate levels/);
});

test('plip steer CLI: writes the results file; bad input exits non-zero with a message naming the option', () => {
  const out = join(dir, 'cli.json');
  const env = { ...process.env, PLIP_NO_PROGRESS: '1' };
  const r = spawnSync(process.execPath, ['bin/plip.mjs', 'steer', '--corpus', CORPUS, '--layers', '3', '--levels', '0,0.5', '--limit', '2', '--controls', '1', '--out', out], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /python_doctest · L3/);
  assert.match(r.stdout, /attention mass check: max \|measured − intended\| = /);
  assert.match(r.stdout, /PRIMARY dose-response trend \(within-sample permutation, two-sided/);
  assert.match(r.stdout, /per-level \(secondary\): smallest reachable Holm-adjusted p = /);
  const doc = resultsDocSchema(steerRecordSchema, steerSummarySchema).parse(JSON.parse(readFileSync(out, 'utf8')));
  assert.equal(doc.header.experiment, 'steer');
  assert.ok(doc.records.length >= 4);
  const bad = spawnSync(process.execPath, ['bin/plip.mjs', 'steer', '--corpus', CORPUS, '--levels', '0,2', '--out', join(dir, 'bad.json')], { encoding: 'utf8', env });
  assert.equal(bad.status, 2, 'usage error');
  assert.match(bad.stderr, /--levels: '2' is not an attention mass in \[0, 1\]/);
  const badHeads = spawnSync(process.execPath, ['bin/plip.mjs', 'steer', '--corpus', CORPUS, '--heads', '9', '--out', join(dir, 'bad3.json')], { encoding: 'utf8', env });
  assert.equal(badHeads.status, 2, 'usage error');
  assert.match(badHeads.stderr, /--heads: index 9 in '9' is out of range/);
  assert.ok(!existsSync(join(dir, 'bad3.json.progress.jsonl')), 'a run that failed before any record leaves no progress file');
  const badCorpus = join(dir, 'bad-corpus.json');
  writeFileSync(badCorpus, '{"_format_version": "2.0", "python_doctest": [{"id": 1}]}');
  const bc = spawnSync(process.execPath, ['bin/plip.mjs', 'steer', '--corpus', badCorpus, '--out', join(dir, 'bad2.json')], { encoding: 'utf8', env });
  assert.notEqual(bc.status, 0);
  assert.match(bc.stderr, /bad-corpus\.json/);
});

test('the committed organism results (training/logs/plip_steer.json) are reproduced with --targets corpus --marker-token first', () => {
  const doc = JSON.parse(readFileSync('training/logs/plip_steer.json', 'utf8'));
  const st = doc.header.settings;
  const r = runSteer(model, corpus, { layers: [3], levels: st.levels, controls: st.controls, calibrateTo: st.calibrateTo, groups: st.groups, minKey: st.minKey, seed: doc.header.seed, targets: 'corpus', markerToken: 'first', nPermutations: 99 });
  const want = new Map<string, SteerOkRecord>(doc.records.filter((x: SteerRecord) => x.status === 'ok').map((x: SteerOkRecord) => [x.key, x]));
  const got = r.records.filter((x): x is SteerOkRecord => x.status === 'ok');
  assert.equal(got.length, 20);
  for (const g of got) {
    const w = want.get(g.key)!;
    assert.ok(w, g.key);
    assert.deepEqual(g.targets, w.targets);
    assert.deepEqual(g.controlKeys, w.controlKeys);
    // float32 engine: same inputs, same code path; 1e-5 relative (the parity standard is 1e-4)
    g.levels.forEach((l, i) => assert.ok(Math.abs(l.steer.kl - w.levels[i]!.steer.kl) <= 1e-5 * Math.max(1, w.levels[i]!.steer.kl), `${g.key} ℓ=${l.level}: KL ${l.steer.kl} vs ${w.levels[i]!.steer.kl}`));
    // a mean of float32 attention masses: the vectorised softmax (native/plip_ops.cc) rounds differently from the float64 one at ~1e-8
    if (w.calibrated) assert.ok(Math.abs(g.calibrated!.levelMean - w.calibrated.levelMean) < 1e-6, `${g.key}: calibration level ${g.calibrated!.levelMean} vs ${w.calibrated.levelMean}`);
  }
});
