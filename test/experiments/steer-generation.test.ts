import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { loadModel } from '../../src/model/load.ts';
import { attentionEdit } from '../../src/interventions/attention.ts';
import { layerHook } from '../../src/hooks/names.ts';
import { runExperiment } from '../../src/experiments/contract.ts';
import { preservationInput, type CompletionScorer } from '../../src/experiments/preservation/experiment.ts';
import { doseEdits, doseLevel, steerGenExperiment } from '../../src/experiments/steer-generation/experiment.ts';
import { calibrationSchema, promptMass } from '../../src/experiments/steer-generation/calibration.ts';
import { summarizeSteerGen, trendTest } from '../../src/experiments/steer-generation/stats.ts';
import { locatePrompts, promptTokens } from '../../src/corpus/test-prompts.ts';
import { loadStudyPrompts } from '../../src/study/prompts.ts';
import type { SteerGenRecord } from '../../src/experiments/steer-generation/schema.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const model = await loadModel(join(ROOT, 'models/plip-tiny-code'));
const PROMPTS = join(ROOT, 'prompts/organism.json');
const groups = loadStudyPrompts({ python: PROMPTS, rust: PROMPTS });
const regexScorer: CompletionScorer = {
  score: (p, c) => {
    const called = new RegExp(`(?<![A-Za-z0-9_.:])${p.name}\\(`).test(c);
    return { called, arityOk: called, paramNamesOk: null, syntaxOk: true, executed: null };
  },
};

test('dose edits: treated sets the function tokens of each head to its own level, holding the control keys; control moves the same mass onto the control keys', async () => {
  const { located } = await locatePrompts([groups.rust[0]!]);
  const pos = promptTokens(model.tokenizer!, located[0]!);
  const cal = calibrationSchema.parse({ kind: 'plip-calibration', model: 'm', targets: 'signature', python: Array.from({ length: 4 }, (_, l) => Array.from({ length: 6 }, (_, h) => 0.05 * (h + 1) + 0.01 * l)), rust: Array.from({ length: 4 }, () => Array(6).fill(0.01)), n: { python: 1, rust: 1 }, pythonMean: 0.2, rustMean: 0.01 });
  const unit = { id: 'L3', mode: 'per-layer' as const, layers: [3] };
  const dose = { label: 'steered (×1)', multiple: 1, absolute: null };
  const ctlKeys = [2, 3].filter((k) => !pos.targets.includes(k));
  const T = pos.ids.length;
  const treated = doseEdits('treated', dose, unit, cal, 6, pos.marker.first, T, pos.targets, ctlKeys);
  const control = doseEdits('control', dose, unit, cal, 6, pos.marker.first, T, pos.targets, ctlKeys);
  const pattern = (edits: ReturnType<typeof doseEdits>) => model.runWithCache(pos.ids, { names: [layerHook(3, 'attn.hook_pattern')] }, { hooks: attentionEdit(edits) }).cache.get(layerHook(3, 'attn.hook_pattern'));
  const base = model.runWithCache(pos.ids, { names: [layerHook(3, 'attn.hook_pattern')] }).cache.get(layerHook(3, 'attn.hook_pattern'));
  const pt = pattern(treated);
  const pc = pattern(control);
  const S = T;
  const at = (p: typeof pt, h: number, q: number, k: number) => p.data[(h * T + q) * S + k]!;
  for (let h = 0; h < 6; h++) {
    const q = T - 1;
    const level = doseLevel(dose, cal.python[3]![h]!);
    const mass = (p: typeof pt, keys: number[]) => keys.reduce((a, k) => a + at(p, h, q, k), 0);
    assert.ok(Math.abs(mass(pt, pos.targets) - level) < 1e-5, `head ${h}: treated mass ${mass(pt, pos.targets)} ≠ level ${level}`);
    // control keys are held in the treated row, the function tokens keep their natural mass in the control row
    assert.ok(Math.abs(mass(pt, ctlKeys) - mass(base, ctlKeys)) < 1e-5);
    assert.ok(Math.abs(mass(pc, pos.targets) - mass(base, pos.targets)) < 1e-5, `head ${h}: control changed the function tokens' mass`);
    const delta = level - mass(base, pos.targets);
    assert.ok(Math.abs(mass(pc, ctlKeys) - (mass(base, ctlKeys) + delta)) < 1e-5, `head ${h}: control keys did not receive Δ`);
  }
});

test('calibration: per-head mass is measured on the test rows and lies in [0, 1]', async () => {
  const { located } = await locatePrompts([groups.python[0]!]);
  const m = promptMass(model, located[0]!, regexScorer, 20, 'signature');
  assert.equal(m.length, 4);
  assert.equal(m[0]!.length, 6);
  for (const row of m) for (const x of row) assert.ok(x >= 0 && x <= 1 + 1e-6);
});

test('trendTest: an increasing dose-response is detected, a flat one is not', () => {
  const inc = Array.from({ length: 12 }, (_, i) => [0, i % 3 === 0 ? 0 : 1, 1, 1]);
  const flat = Array.from({ length: 12 }, () => [1, 1, 1, 1]);
  const dose = [0, 1, 2, 3];
  const a = trendTest(inc, dose, 999, 1, 't');
  assert.equal(a.direction, 'increasing');
  assert.ok(a.p < 0.01, String(a.p));
  const b = trendTest(flat, dose, 999, 1, 't');
  assert.equal(b.direction, 'flat');
  assert.equal(b.p, 1);
  const dec = trendTest(inc.map((r) => [...r].reverse()), dose, 999, 1, 't');
  assert.equal(dec.direction, 'decreasing');
  assert.ok(dec.p > 0.9);
});

test('steer-gen on the organism (small): records and summary validate; criteria state n, correction and reachability', async () => {
  const located = await locatePrompts([...groups.python.slice(0, 4), ...groups.rust.slice(0, 4)]);
  const r = runExperiment(steerGenExperiment, model, preservationInput(PROMPTS, located, regexScorer), { options: { layers: [3], modes: ['per-layer'], multiples: [0, 1], n: 4, maxNewTokens: 24, nPermutations: 199 }, seed: 0 });
  for (const rec of r.records) steerGenExperiment.recordSchema.parse(rec);
  const s = steerGenExperiment.summarySchema.parse(r.summary);
  assert.equal(s.n, 4);
  assert.equal(s.correction.tests, 3); // ×0, ×1, over-steered
  assert.equal(s.correction.alphaReachable, false); // 3 × 2 × 0.5^4 = 0.375
  assert.equal(s.criteria.length, 2);
  assert.ok(s.criteria.every((c) => !c.met));
  assert.ok(s.calibration.pythonMean > 0);
});

test('summarizeSteerGen: a hand-built improvement at ×1 vs baseline and control meets the first criterion', () => {
  const o = (p: boolean) => ({ completion: '', stop: 'test_end' as const, called: p, arityOk: p, paramNamesOk: null, syntaxOk: true, executed: null, preserved: p });
  const unit = { id: 'L0', mode: 'per-layer' as const, layers: [0] };
  const doses = [{ label: '×0', multiple: 0, absolute: null }, { label: 'steered (×1)', multiple: 1, absolute: null }, { label: '×2', multiple: 2, absolute: null }];
  const recs: SteerGenRecord[] = Array.from({ length: 14 }, (_, i) => ({
    key: `r${i}`, id: `r${i}`, name: 'f', category: 'c', marker: { first: 4, last: 5, text: '#[test]' }, targets: [1], controlKeys: [[2]],
    baseline: o(false),
    units: [{ unit, doses: [
      { label: '×0', multiple: 0, absolute: null, treated: o(false), controls: [o(false)] },
      { label: 'steered (×1)', multiple: 1, absolute: null, treated: o(i < 12), controls: [o(false)] },
      { label: '×2', multiple: 2, absolute: null, treated: o(i < 12), controls: [o(false)] },
    ] }],
  }));
  const cal = { kind: 'plip-calibration' as const, model: 'm', targets: 'signature' as const, python: [[0.1]], rust: [[0.02]], n: { python: 1, rust: 1 }, pythonMean: 0.1, rustMean: 0.02 };
  const s = summarizeSteerGen(recs, { units: [unit], doses, alpha: 0.05, nPermutations: 999, calibration: cal }, 0, [], []);
  const c = s.criteria[0]!;
  assert.equal(c.met, true);
  assert.ok(Math.abs(c.value! - 12 / 14) < 1e-12);
  const steered = s.doses.find((d) => d.label === 'steered (×1)')!;
  assert.equal(steered.vsBaseline.gained, 12);
  assert.ok(Math.abs(steered.pHolmBaseline - 3 * 2 * 0.5 ** 12) < 1e-12);
  assert.equal(s.criteria[1]!.met, true);
  assert.equal(s.trends[0]!.ceilingMultiple, 1);
  assert.equal(s.calibration.ratio, 5);
});
