import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadModel } from '../../src/model/load.ts';
import { runExperiment } from '../../src/experiments/contract.ts';
import { locatePrompts, promptTokens, type LocatedPrompt } from '../../src/corpus/test-prompts.ts';
import { loadStudyPrompts } from '../../src/study/prompts.ts';
import { buildSemanticPositionMap } from '../../src/interventions/position-map.ts';
import { transplantPattern } from '../../src/interventions/transplant.ts';
import type { CompletionScorer } from '../../src/experiments/shared/generated-test.ts';
import { transplantExperiment, transplantInput, type TransplantInput } from '../../src/experiments/transplant/experiment.ts';
import { donorQueryOf, transplantTestRows } from '../../src/experiments/transplant/hooks.ts';
import { buildPairs, pairMap, shuffledMap } from '../../src/experiments/transplant/pairs.ts';
import { createRng } from '../../src/stats/rng.ts';
import { summarizeTransplant } from '../../src/experiments/transplant/stats.ts';
import { ARMS, transplantSummarySchema, type TransplantRecord } from '../../src/experiments/transplant/schema.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const PROMPTS = join(ROOT, 'prompts/organism.json');
const model = await loadModel(join(ROOT, 'models/plip-tiny-code'));
const tok = model.tokenizer!;
const groups = loadStudyPrompts({ python: PROMPTS, rust: PROMPTS });
const located = await locatePrompts([...groups.python.slice(0, 12), ...groups.rust.slice(0, 6)]);

/** A deliberately simple scorer for the experiment's mechanics (the real one is src/score). */
const regexScorer: CompletionScorer = {
  score: (p, completion) => {
    const called = new RegExp(`(?<![A-Za-z0-9_.:])${p.name}\\(`).test(completion);
    return { called, arityOk: called, paramNamesOk: null, syntaxOk: true, executed: null };
  },
};

test('buildPairs: Rust recipients in file order, Python donors by parameter count (each used once), Rust control donors with as many parameters', async () => {
  const { pairs, skipped } = await buildPairs(located.located, tok);
  assert.ok(pairs.length >= 4, `${pairs.length} pairs, skipped: ${JSON.stringify(skipped)}`);
  const donors = new Set<string>();
  for (const p of pairs) {
    assert.equal(p.recipient.prompt.language, 'rust');
    assert.equal(p.donor.prompt.language, 'python');
    assert.equal(p.controlDonor.prompt.language, 'rust');
    assert.equal(p.pairing, 'params');
    assert.equal(p.donor.prompt.params.length, p.recipient.prompt.params.length);
    assert.equal(p.controlDonor.prompt.params.length, p.recipient.prompt.params.length);
    assert.notEqual(p.controlDonor.prompt.name, p.recipient.prompt.name);
    assert.ok(!donors.has(p.donor.prompt.id), `donor ${p.donor.prompt.id} used twice`);
    donors.add(p.donor.prompt.id);
  }
  // the first unused Python prompt with as many parameters, in file order
  const first = pairs[0]!;
  const py = located.located.filter((l) => l.prompt.language === 'python');
  assert.equal(first.donor.prompt.id, py.find((l) => l.prompt.params.length === first.recipient.prompt.params.length)!.prompt.id);
  // a Python prompt with the recipient's name is preferred over an earlier one with as many parameters
  const r0 = first.recipient;
  const src = py.filter((l) => l.prompt.id !== first.donor.prompt.id).find((l) => l.prompt.params.length === r0.prompt.params.length)!.prompt;
  const renamed = { ...src, id: 'py_same', name: r0.prompt.name, prompt: src.prompt.replaceAll(src.name, r0.prompt.name), reference: src.reference.replaceAll(src.name, r0.prompt.name) };
  const extra = await locatePrompts([renamed]);
  const byName = await buildPairs([first.donor, extra.located[0]!, r0, first.controlDonor], tok);
  assert.equal(byName.pairs[0]!.pairing, 'name');
  assert.equal(byName.pairs[0]!.donor.prompt.id, 'py_same');
  const lonely = await buildPairs([r0], tok);
  assert.equal(lonely.pairs.length, 0);
  assert.match(lonely.skipped[0]!.reason, /no unused Python donor with \d parameter\(s\)/);
});

test('donorQueryOf: marker rows from the map, later rows by offset from the prompt end, clamped to the donor marker and its last row', async () => {
  const { pairs } = await buildPairs(located.located, tok, 1);
  const map = pairs[0]!.map;
  const rLen = map.recipient.nTokens;
  const dLen = map.donor.nTokens;
  const dLast = Math.max(...map.donor.regions.marker);
  const f = donorQueryOf(map, 'test', dLen + 10);
  for (const q of map.queries) assert.equal(f(q.recipient), q.donor);
  assert.equal(f(0), undefined, 'rows before the marker are never edited');
  assert.equal(f(rLen), dLen, 'the first generated row takes the donor first generated row');
  assert.equal(f(rLen + 3), dLen + 3);
  assert.equal(f(rLen + 50), dLen + 9, 'past the donor test: its last row');
  assert.equal(f(Math.max(...map.recipient.regions.marker) + 1), Math.max(dLast, dLen - (rLen - Math.max(...map.recipient.regions.marker) - 1)));
  assert.equal(donorQueryOf(map, 'marker', dLen + 10)(rLen), undefined);
});

test('shuffledMap: function-key entries go to matched random non-function keys (a bijection), marker entries and queries unchanged', async () => {
  const { pairs } = await buildPairs(located.located, tok, 1);
  const map = pairs[0]!.map;
  const pos = promptTokens(tok, pairs[0]!.recipient);
  const fn = [...new Set(map.keys.filter((e) => e.kind !== 'marker').map((e) => e.recipient))].sort((a, b) => a - b);
  const s = shuffledMap(map, [...pos.avoid, ...pos.targets], createRng(0, 'x'));
  assert.equal(s.keys.length, fn.length);
  assert.equal(new Set(s.keys).size, fn.length);
  const markerFirst = Math.min(...map.recipient.regions.marker);
  for (const k of s.keys) {
    assert.ok(!fn.includes(k) && !pos.targets.includes(k) && !pos.avoid.includes(k), `key ${k} is a function, marker or special token`);
    assert.ok(k >= 1 && k < markerFirst);
  }
  assert.equal(s.map.keys.length, map.keys.length);
  s.map.keys.forEach((e, i) => {
    const o = map.keys[i]!;
    assert.equal(e.donor, o.donor);
    assert.equal(e.weight, o.weight);
    assert.equal(e.recipient, o.kind === 'marker' ? o.recipient : s.keys[fn.indexOf(o.recipient)]);
  });
  assert.deepEqual(s.map.queries, map.queries);
  assert.deepEqual(shuffledMap(map, [...pos.avoid, ...pos.targets], createRng(0, 'x')), s, 'seeded: the same draw');
});

test("transplantTestRows with rows 'marker' equals transplantPattern (the primitive) on the prompt", async () => {
  const { pairs } = await buildPairs(located.located, tok, 1);
  const p = pairs[0]!;
  const L = 2;
  const name = `blocks.${L}.attn.hook_pattern`;
  const dIds = promptTokens(tok, p.donor).ids;
  const rIds = promptTokens(tok, p.recipient).ids;
  const donor = model.runWithCache(dIds, { names: [name] }).cache.get(name);
  const a = model.runWithCache(rIds, { names: [name] }, { hooks: transplantPattern({ layer: L, donor, map: p.map }) }).cache.get(name);
  const b = model.runWithCache(rIds, { names: [name] }, { hooks: transplantTestRows({ layer: L, donor, map: p.map, rows: 'marker' }) }).cache.get(name);
  const base = model.runWithCache(rIds, { names: [name] }).cache.get(name);
  let maxDiff = 0;
  let moved = 0;
  for (let i = 0; i < a.data.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a.data[i]! - b.data[i]!));
    moved = Math.max(moved, Math.abs(a.data[i]! - base.data[i]!));
  }
  assert.ok(maxDiff < 1e-7, `max diff ${maxDiff}`);
  assert.ok(moved > 1e-3, 'the transplant changes the marker rows');
});

test('identity pair: a Rust prompt transplanted into itself (pattern, resid, attn_out, control) leaves generation and log p unchanged; a Python donor does not', async () => {
  const { pairs } = await buildPairs(located.located, tok, 1);
  const real = pairs[0]!;
  const r = real.recipient;
  const self = await pairMap(r, r, tok);
  for (const e of self.keys) {
    assert.equal(e.donor, e.recipient);
    assert.equal(e.weight, 1);
  }
  const input: TransplantInput = { path: PROMPTS, sha256: 'x', pairs: [{ ...real, recipient: { ...r, prompt: { ...r.prompt, id: `${r.prompt.id}_self` } }, donor: r, controlDonor: r, map: self, controlMap: self }, real], skipped: [], scorer: regexScorer };
  const run = runExperiment(transplantExperiment, model, input, { options: { layers: [1], n: 2, maxNewTokens: 24, nBoot: 100 }, seed: 0 });
  const [id, other] = run.records;
  assert.equal(id!.donor.completion, id!.baseline.outcome.completion, 'the donor (the prompt itself) writes the baseline test');
  for (const arm of id!.units[0]!.arms.filter((a) => a.arm !== 'shuffled')) {
    assert.equal(arm.outcome.completion, id!.baseline.outcome.completion, `${arm.arm}: identity transplant changed the test`);
    assert.ok(Math.abs(arm.logpCall! - id!.baseline.logpCall!) < 1e-4, `${arm.arm}: log p ${arm.logpCall} vs ${id!.baseline.logpCall}`);
    if (arm.fnMass !== null) assert.ok(Math.abs(arm.fnMass - id!.units[0]!.fnMassBaseline) < 1e-6);
  }
  // the same recipient with the real Python donor: the pattern arm moves the function-token mass and log p
  const pat = other!.units[0]!.arms.find((a) => a.arm === 'pattern')!;
  assert.ok(Math.abs(pat.fnMass! - other!.units[0]!.fnMassBaseline) > 0.01, `fn mass ${pat.fnMass} vs ${other!.units[0]!.fnMassBaseline}`);
  assert.ok(Math.abs(pat.logpCall! - other!.baseline.logpCall!) > 1e-3);
});

test('transplant on the organism: records and summary validate, the stored map is buildSemanticPositionMap\'s, resume after stopAfter equals an uninterrupted run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'plip-transplant-'));
  const input = await transplantInput(PROMPTS, located, model, regexScorer, 3);
  assert.equal(input.pairs.length, 3);
  const options = { layers: [3], n: 3, maxNewTokens: 20, nBoot: 100 };
  const out = join(dir, 'tp.json');
  const partial = runExperiment(transplantExperiment, model, input, { options, out, seed: 2, stopAfter: 1 });
  assert.equal(partial.complete, false);
  assert.equal(partial.records.length, 1);
  const r = runExperiment(transplantExperiment, model, input, { options, out, seed: 2 });
  assert.equal(r.resumed, 1);
  const fresh = runExperiment(transplantExperiment, model, input, { options, seed: 2 });
  assert.deepEqual(r.records, fresh.records, 'a resumed run equals an uninterrupted one');
  assert.deepEqual(r.summary, fresh.summary);
  for (const rec of r.records) {
    transplantExperiment.recordSchema.parse(JSON.parse(JSON.stringify(rec)));
    const pair = input.pairs.find((p) => p.recipient.prompt.id === rec.id)!;
    const s = (lp: LocatedPrompt) => ({ language: lp.prompt.language, text: lp.prompt.prompt, function: lp.prompt.name });
    assert.deepEqual(rec.map, await buildSemanticPositionMap(s(pair.donor), s(pair.recipient), tok));
    assert.deepEqual(rec.controlMap, await buildSemanticPositionMap(s(pair.controlDonor), s(pair.recipient), tok));
    assert.deepEqual(rec.units[0]!.arms.map((a) => a.arm), [...ARMS]);
  }
  transplantExperiment.summarySchema.parse(r.summary);
  assert.equal(r.summary!.correction.mcnemar.tests, 5);
  assert.equal(r.summary!.correction.mcnemar.alphaReachable, false, 'n = 3 cannot reach α');
  assert.ok(r.summary!.caveats.some((c) => /smallest reachable p/.test(c)));
  assert.match(transplantExperiment.render(r.summary!, r), /NOT reachable/);
});

test('summarizeTransplant: hand-built records give the hand-computed McNemar, permutation p, Holm and criteria', () => {
  const o = (preserved: boolean) => ({ completion: '', stop: 'test_end' as const, called: preserved, arityOk: preserved, paramNamesOk: null, syntaxOk: true, executed: null, preserved });
  const unit = { id: 'L3', mode: 'per-layer' as const, layers: [3] };
  const dummy = { id: 'd', name: 'd', language: 'python' as const, completion: '', tokens: 1 };
  // 10 pairs: baseline preserves pairs 0–1; pattern all 10; resid and attn_out as baseline; control none.
  // log p: baseline −2, pattern −1, resid/attn_out −2, control −3.
  const recs = Array.from({ length: 10 }, (_, i) => ({
    key: `r${i}`, id: `r${i}`, name: 'f', category: 'c', pairing: 'params', donor: dummy, controlDonor: dummy, map: null, controlMap: null, promptTokens: 5,
    baseline: { outcome: o(i < 2), logpCall: -2 },
    units: [{ unit, fnMassBaseline: 0.1, arms: [
      { arm: 'pattern', outcome: o(true), logpCall: -1, fnMass: 0.3 },
      { arm: 'resid', outcome: o(i < 2), logpCall: -2, fnMass: null },
      { arm: 'attn_out', outcome: o(i < 2), logpCall: -2, fnMass: null },
      { arm: 'control', outcome: o(false), logpCall: -3, fnMass: 0.2 },
      { arm: 'shuffled', outcome: o(i < 2), logpCall: -2, fnMass: 0.09 },
    ] }],
  })) as unknown as TransplantRecord[];
  const s = summarizeTransplant(recs, { units: [unit], alpha: 0.05, nBoot: 200, nPermutations: 999 }, 0, [], []);
  transplantSummarySchema.parse(s);
  const row = (arm: string) => s.comparisons.find((c) => c.arm === arm)!;
  const close = (a: number | null, b: number) => assert.ok(a !== null && Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  // vs baseline (Holm over 5): raw pattern 2·0.5^8, control 2·0.5^2 = 0.5, resid/attn_out/shuffled 1
  assert.deepEqual([row('pattern').vsBaseline.lost, row('pattern').vsBaseline.gained], [0, 8]);
  close(row('pattern').vsBaseline.p, 2 * 0.5 ** 8);
  close(row('pattern').pHolmBaseline, 5 * 2 * 0.5 ** 8);
  close(row('control').pHolmBaseline, 1); // max(5·p1, 4·0.5) capped at 1
  assert.equal(row('control').vsBaseline.direction, 'decrease');
  // vs control (Holm over 3): pattern gains 10 → 2·0.5^10, ×3; resid 2 gained → 0.5, ×2 = 1
  close(row('pattern').vsControl!.p, 2 * 0.5 ** 10);
  close(row('pattern').pHolmControl, 3 * 2 * 0.5 ** 10);
  close(row('resid').pHolmControl, 1);
  assert.equal(row('control').vsControl, null);
  assert.equal(row('shuffled').vsShuffled, null);
  // vs shuffled (Holm over 3): pattern gains 8 → 2·0.5^8, ×3
  close(row('pattern').vsShuffled!.p, 2 * 0.5 ** 8);
  close(row('pattern').pHolmShuffled, 3 * 2 * 0.5 ** 8);
  close(row('attn_out').pHolmShuffled, 1);
  close(row('pattern').diff, 0.8);
  // log p: constant differences, exact sign-flip (n = 10): p = 2/2^10; Holm over 5 (two at 2/1024)
  close(row('pattern').logpVsBaseline.meanDiff, 1);
  close(row('pattern').logpVsBaseline.p, 2 / 1024);
  close(row('pattern').logpVsBaseline.pHolm, 5 * 2 / 1024);
  close(row('control').logpVsBaseline.pHolm, 5 * 2 / 1024);
  close(row('pattern').logpVsShuffled!.pHolm, 3 * 2 / 1024);
  close(row('resid').logpVsShuffled!.p, 1);
  close(row('resid').logpVsBaseline.p, 1);
  close(row('pattern').logpVsControl!.meanDiff, 2);
  close(row('pattern').logpVsControl!.pHolm, 3 * 2 / 1024);
  close(row('pattern').fnMass, 0.3);
  close(row('pattern').fnMassBaseline, 0.1);
  // Wilson of 2/10
  assert.equal(s.baseline.preserved.k, 2);
  assert.ok(Math.abs(s.baseline.preserved.lo! - 0.0567) < 1e-3 && Math.abs(s.baseline.preserved.hi! - 0.5098) < 1e-3);
  // correction and criteria
  close(s.correction.mcnemar.minReachableP, 5 * 2 * 0.5 ** 10);
  assert.equal(s.correction.mcnemar.alphaReachable, true);
  close(s.correction.logp.minReachableP, 5 * 2 / 1024);
  const [pres, lp] = s.criteria;
  assert.equal(pres!.met, true);
  close(pres!.p, 5 * 2 * 0.5 ** 8);
  close(pres!.value, 0.8);
  assert.equal(pres!.n, 10);
  assert.equal(lp!.met, true);
  close(lp!.value, 1);
  // with the shuffled control as good as the pattern, neither criterion is met
  const tie = recs.map((r) => ({ ...r, units: [{ ...r.units[0]!, arms: r.units[0]!.arms.map((a) => (a.arm === 'shuffled' ? { ...a, outcome: o(true), logpCall: -1 } : a)) }] }));
  const t = summarizeTransplant(tie, { units: [unit], alpha: 0.05, nBoot: 200, nPermutations: 999 }, 0, [], []);
  assert.deepEqual(t.criteria.map((c) => c.met), [false, false]);
  // the same records with the pattern gaining only 4 pairs: not significant after Holm → not met
  const weak = recs.map((r, i) => ({ ...r, units: [{ ...r.units[0]!, arms: r.units[0]!.arms.map((a) => (a.arm === 'pattern' ? { ...a, outcome: o(i < 6) } : a)) }] }));
  const w = summarizeTransplant(weak, { units: [unit], alpha: 0.05, nBoot: 200, nPermutations: 999 }, 0, [], []);
  assert.equal(w.criteria[0]!.met, false);
  close(w.comparisons.find((c) => c.arm === 'pattern')!.vsBaseline.p, 2 * 0.5 ** 4);
});

test('plip transplant: usage errors exit 2 naming the flag; a small run writes records and a summary that validate', async () => {
  const { spawnSync } = await import('node:child_process');
  const { readFileSync } = await import('node:fs');
  const plip = (...args: string[]) => spawnSync(process.execPath, ['bin/plip.mjs', 'transplant', '--model', 'models/plip-tiny-code', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PLIP_NO_PROGRESS: '1' } });
  const dir = mkdtempSync(join(tmpdir(), 'plip-transplant-cli-'));
  const noPy = plip('--prompts', 'prompts/real-rust.json', '--out', join(dir, 'a.json'));
  assert.equal(noPy.status, 2, noPy.stderr);
  assert.match(noPy.stderr, /--prompts: .*no "python" group/);
  const win = plip('--prompts', 'prompts/organism.json', '--mode', 'window', '--out', join(dir, 'b.json'));
  assert.equal(win.status, 2, win.stderr);
  assert.match(win.stderr, /--mode: transplant units are per-layer or all-layers/);
  const out = join(dir, 'c.json');
  const ok = plip('--prompts', 'prompts/organism.json', '--layers', '2', '--n', '1', '--max-new-tokens', '12', '--no-execute', '--out', out);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /Phase 5 — Python→Rust attention transplant \(n = 1 pairs/);
  const doc = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(doc.header.experiment, 'transplant');
  for (const r of doc.records) transplantExperiment.recordSchema.parse(r);
  transplantExperiment.summarySchema.parse(doc.summary);
  assert.equal(doc.records[0].baseline.outcome.executed, null, '--no-execute runs nothing');
});
