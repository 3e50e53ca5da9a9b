/**
 * Name-swap patching on the model organism (held-out copying prompts): the name travels in the residual
 * stream at the name tokens up to layer 3 and reaches the last position only in layer 3, through attention
 * outputs (hook_z) of layer-3 heads, not through the attention pattern. Also: donors differ from the
 * recipient only inside the name, resume gives the same result, CLI errors are clear.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/model/load.ts';
import { loadCopyingPrompts } from '../../src/corpus/prompts.ts';
import { makePair, runPatching, type PatchPair, type PatchRecord } from '../../src/experiments/patch/experiment.ts';
import { patchRecordSchema, patchSummarySchema, resultsDocSchema } from '../../src/experiments/patch/schema.ts';
import { steerRecordSchema, steerSummarySchema } from '../../src/experiments/steer/schema.ts';
import { ResultsStore, TOOL_NAME, TOOL_VERSION, type Provenance } from '../../src/report/results.ts';

const PROMPTS = 'training/eval/eval_prompts.json';
const model = await loadModel('models/plip-tiny-code');
const prompts = loadCopyingPrompts(PROMPTS).filter((p) => p.group === 'python_doctest' || p.group === 'rust_test_mod');
const dir = mkdtempSync(join(tmpdir(), 'plip-patch-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

test('donor prompts differ from the recipient only inside the name tokens (identity position map)', () => {
  for (const p of prompts.filter((x) => x.group === 'rust_test_mod').slice(0, 4)) {
    const pair = makePair(model, p, prompts, 1, ['>>>', '#[test]']) as PatchPair;
    assert.ok(!('reason' in pair), JSON.stringify(pair));
    assert.equal(pair.donor.length, pair.recipient.length);
    const name = new Set(pair.classes.name);
    let diff = 0;
    pair.recipient.forEach((t, i) => {
      if (t !== pair.donor[i]) {
        diff++;
        assert.ok(name.has(i), `position ${i} differs outside the name`);
      }
    });
    assert.ok(diff > 0);
    assert.notEqual(pair.a1, pair.b1);
    const decoded = model.tokenizer!.decode(pair.donor, { skipSpecialTokens: true });
    assert.ok(decoded.includes(`test_${pair.nameB}`), 'the test function name is swapped too');
    assert.ok(!decoded.includes(pair.nameA));
  }
});

test('the planted path: name tokens → (layer-3 attention outputs) → last position; the pattern alone carries nothing', () => {
  const r = runPatching(model, prompts, { layers: [2, 3], limit: 5, seed: 1, nBoot: 200 });
  for (const g of ['python_doctest', 'rust_test_mod']) {
    const eff = (c: string) => r.summary.conditions.find((x) => x.group === g && x.condition === c)?.meanEffect ?? NaN;
    assert.ok(eff('resid_pre L2 name') > 0.9, `${g}: resid_pre L2 at the name ${eff('resid_pre L2 name')}`);
    assert.ok(eff('resid_pre L3 name') > 0.9, `${g}: resid_pre L3 at the name ${eff('resid_pre L3 name')}`);
    assert.ok(Math.abs(eff('resid_post L2 marker')) < 0.1, `${g}: resid_post L2 at marker..last ${eff('resid_post L2 marker')}`);
    assert.ok(eff('resid_post L3 marker') > 0.9, `${g}: resid_post L3 at marker..last ${eff('resid_post L3 marker')}`);
    assert.ok(Math.abs(eff('resid_pre L3 other')) < 0.1);
    const heads3 = Array.from({ length: model.spec.nHeads }, (_, h) => eff(`z L3.h${h} last`));
    const heads2 = Array.from({ length: model.spec.nHeads }, (_, h) => eff(`z L2.h${h} last`));
    assert.ok(heads3.reduce((s, v) => s + v, 0) > 0.5, `${g}: layer-3 heads ${heads3.map((v) => v.toFixed(2))}`);
    assert.ok(Math.max(...heads2.map(Math.abs)) < 0.1, `${g}: layer-2 heads ${heads2.map((v) => v.toFixed(2))}`);
    assert.ok(Math.abs(eff('pattern L3')) < 0.1, `${g}: pattern L3 ${eff('pattern L3')}`);
  }
});

test('plip patch CLI: results file and clear errors', () => {
  const out = join(dir, 'patch.json');
  const env = { ...process.env, PLIP_NO_PROGRESS: '1' };
  const args = ['bin/plip.mjs', 'patch', '--prompts', PROMPTS, '--groups', 'python_doctest', '--layers', '3', '--no-heads', '--limit', '2', '--out', out];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /python_doctest\s+resid_post L3 marker/);
  const doc = resultsDocSchema(patchRecordSchema, patchSummarySchema).parse(JSON.parse(readFileSync(out, 'utf8')));
  assert.equal(doc.header.experiment, 'patch');
  assert.equal(doc.records.length, 2);
  const bad = spawnSync(process.execPath, ['bin/plip.mjs', 'patch', '--prompts', PROMPTS, '--groups', 'nope', '--out', join(dir, 'x.json')], { encoding: 'utf8', env });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--groups: unknown group 'nope'/);
  const badLayer = spawnSync(process.execPath, ['bin/plip.mjs', 'patch', '--prompts', PROMPTS, '--layers', '7', '--out', join(dir, 'y.json')], { encoding: 'utf8', env });
  assert.notEqual(badLayer.status, 0);
  assert.match(badLayer.stderr, /--layers/);
});

test('an interrupted run resumes without losing or duplicating records and gives the same summary', () => {
  const o = { layers: [3], heads: false, limit: 3, seed: 2, nBoot: 100 };
  const sub = prompts.filter((p) => p.group === 'python_doctest');
  const full = runPatching(model, sub, o);
  const header = { tool: { name: TOOL_NAME, version: TOOL_VERSION }, experiment: 'patch', schemaVersion: 1, model: { id: 'm' }, corpus: { path: PROMPTS, sha256: 'x', nSamples: 3 }, settings: o, seed: 2, argv: [], startedAt: 'x' } as unknown as Provenance;
  const out = join(dir, 'resume.json');
  let n = 0;
  assert.throws(() => runPatching(model, sub, { ...o, out, onProgress: () => { if (++n === 1) throw new Error('simulated crash'); } }), /simulated crash/);
  const again = runPatching(model, sub, { ...o, out });
  assert.equal(again.resumed, 1);
  assert.equal(again.records.length, full.records.length);
  assert.deepEqual(again.summary, full.summary);
});

test('the committed organism results (training/logs/plip_steer.json, plip_patch.json) match the record schemas', () => {
  const steer = resultsDocSchema(steerRecordSchema, steerSummarySchema).parse(JSON.parse(readFileSync('training/logs/plip_steer.json', 'utf8')));
  assert.equal(steer.header.experiment, 'steer');
  assert.ok(steer.records.length >= 40);
  const patch = resultsDocSchema(patchRecordSchema, patchSummarySchema).parse(JSON.parse(readFileSync('training/logs/plip_patch.json', 'utf8')));
  assert.equal(patch.header.experiment, 'patch');
  assert.equal(patch.records.length, 100);
});

test('patchReach: smallest Holm-adjusted p of the exact two-sided Wilcoxon family (hand-computed), stated in the output', async () => {
  const { patchReach } = await import('../../src/experiments/patch/experiment.ts');
  const { renderPatch } = await import('../../src/experiments/patch/render.ts');
  const r = patchReach('g', 6, 4); // 4 · 2 · 2^-6 = 0.125
  assert.ok(Math.abs(r.minP - 0.125) < 1e-12);
  assert.equal(r.reachable, false);
  assert.equal(patchReach('g', 10, 4).reachable, true); // 8/1024
  const text = renderPatch({ nPairs: 0, excluded: [], conditions: [], correction: 'Holm', reach: [r] });
  assert.match(text, /warning: g: smallest reachable Holm-adjusted p = 0\.125 \(n = 6, 4 conditions/);
});
