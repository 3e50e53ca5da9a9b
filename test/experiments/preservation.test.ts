import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadModel } from '../../src/model/load.ts';
import { generate } from '../../src/generate/generate.ts';
import { runExperiment } from '../../src/experiments/contract.ts';
import { preservationExperiment, preservationInput, armEdit, type CompletionScorer } from '../../src/experiments/preservation/experiment.ts';
import { locatePrompts, promptTokens } from '../../src/corpus/test-prompts.ts';
import { summarizePreservation } from '../../src/experiments/preservation/stats.ts';
import type { StudyPrompt } from '../../src/study/prompts.ts';
import type { PreservationRecord } from '../../src/experiments/preservation/schema.ts';
import { testEnd } from '../../src/score/test-end.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const model = await loadModel(join(ROOT, 'models/plip-tiny-code'));
const evalSets = JSON.parse(readFileSync(join(ROOT, 'training/eval/eval_prompts.json'), 'utf8'));

function studyPrompts(n: number): StudyPrompt[] {
  const py = evalSets.python_doctest.slice(0, n).map((p: { id: string; name: string; prompt: string; full: string }) => ({
    id: p.id, language: 'python', name: p.name, params: [], category: 'organism', prompt: p.prompt, reference: p.full,
  }));
  const rs = evalSets.rust_test_top.slice(0, n).map((p: { id: string; name: string; prompt: string }) => ({
    id: p.id, language: 'rust', name: p.name, params: [], category: 'organism', prompt: p.prompt, reference: p.prompt.split('#[test]')[0]!,
  }));
  return [...py, ...rs];
}

/** A deliberately simple scorer for the experiment's mechanics (the real one is src/score). */
const regexScorer: CompletionScorer = {
  score: (p, completion) => {
    const called = new RegExp(`(?<![A-Za-z0-9_.:])${p.name}\\(`).test(completion);
    return { called, arityOk: called, paramNamesOk: null, syntaxOk: true, executed: null };
  },
};

test('locatePrompts: targets cover the whole name and every parameter, not just their first token', async () => {
  const p: StudyPrompt = {
    id: 'x', language: 'python', name: 'part_reorder', params: ['farm', 'scene'], category: 'c',
    prompt: 'def part_reorder(farm, scene):\n    """Drop.\n\n    >>> ', reference: 'def part_reorder(farm, scene):\n    return farm[scene:]\n',
  };
  const { located, skipped } = await locatePrompts([p]);
  assert.equal(skipped.length, 0);
  const spans = located[0]!.spans.map((s) => [s.kind, p.prompt.slice(s.start, s.end)]);
  assert.deepEqual(spans, [['keyword', 'def'], ['name', 'part_reorder'], ['param', 'farm'], ['param', 'scene']]);
  const pos = promptTokens(model.tokenizer!, located[0]!);
  const enc = model.tokenizer!.encodeWithOffsets(p.prompt);
  // every token overlapping `part_reorder` is a target
  const nameToks = enc.ids.map((_, i) => i).filter((i) => enc.offsets[i]![0] < 16 && enc.offsets[i]![1] > 4);
  for (const t of nameToks) assert.ok(pos.targets.includes(t), `name token ${t} missing from ${pos.targets}`);
  assert.ok(nameToks.length >= 2, 'the organism splits this name into several tokens');
  assert.equal(p.prompt.slice(enc.offsets[pos.marker.first]![0], enc.offsets[pos.marker.last]![1]).trim(), '>>>');
});

test('locatePrompts: a Rust marker #[test] spans its tokens; a prompt without the function is skipped with the reason', async () => {
  const ps = studyPrompts(1).filter((p) => p.language === 'rust');
  const bad = { ...ps[0]!, id: 'bad', name: 'not_defined_here' };
  const { located, skipped } = await locatePrompts([ps[0]!, bad]);
  assert.equal(located.length, 1);
  assert.deepEqual(skipped, [{ id: 'bad', group: 'rust', reason: "function 'not_defined_here' is not defined before the marker" }]);
  const pos = promptTokens(model.tokenizer!, located[0]!);
  const enc = model.tokenizer!.encodeWithOffsets(ps[0]!.prompt);
  const text = ps[0]!.prompt.slice(enc.offsets[pos.marker.first]![0], enc.offsets[pos.marker.last]![1]);
  assert.equal(text.trim(), '#[test]');
  assert.ok(pos.marker.last > pos.marker.first, '#[test] is more than one token');
  assert.ok(pos.targets.every((t) => t < pos.marker.first));
});

test('preservation on the organism: baseline = plain generation; L3 knockout lowers preservation, its control does not; records validate; resume is exact', async () => {
  const located = await locatePrompts(studyPrompts(6));
  const dir = mkdtempSync(join(tmpdir(), 'plip-pres-'));
  const promptsPath = join(dir, 'prompts.json');
  writeFileSync(promptsPath, JSON.stringify({}));
  const input = preservationInput(promptsPath, located, regexScorer);
  const options = { layers: [3], modes: ['per-layer' as const], n: 6, maxNewTokens: 20, controls: 1, nBoot: 200 };
  const out = join(dir, 'pres.json');
  const partial = runExperiment(preservationExperiment, model, input, { options, out, seed: 1, stopAfter: 5 });
  assert.equal(partial.complete, false);
  const r = runExperiment(preservationExperiment, model, input, { options, out, seed: 1 });
  assert.equal(r.resumed, 5);
  const fresh = runExperiment(preservationExperiment, model, input, { options, seed: 1 });
  assert.deepEqual(r.records, fresh.records, 'a resumed run equals an uninterrupted one');
  for (const rec of r.records) preservationExperiment.recordSchema.parse(rec);
  preservationExperiment.summarySchema.parse(r.summary);

  // baseline goes through the same generate() as any plain run
  const lp = located.located[0]!;
  const pos = promptTokens(model.tokenizer!, lp);
  const g = generate(model, pos.ids, { maxTokens: 20, stopWhen: (t) => testEnd('python', t) !== null });
  const text = model.tokenizer!.decode(g.ids, { skipSpecialTokens: true });
  const rec0 = r.records.find((x) => x.id === lp.prompt.id)!;
  assert.equal(rec0.baseline.completion, text.slice(0, testEnd('python', text) ?? text.length));

  const rate = (xs: PreservationRecord[], f: (x: PreservationRecord) => boolean) => xs.filter(f).length / xs.length;
  const py = r.records.filter((x) => x.language === 'python');
  const base = rate(py, (x) => x.baseline.preserved);
  const ko = rate(py, (x) => x.units[0]!.arms.find((a) => a.condition === 'knockout')!.treated.preserved);
  const ctl = rate(py, (x) => x.units[0]!.arms.find((a) => a.condition === 'knockout')!.controls[0]!.preserved);
  assert.ok(base >= 0.75, `baseline ${base}`);
  assert.ok(ko <= 0.25, `knockout ${ko}`);
  assert.ok(ctl >= 0.5, `control ${ctl}`);
  // Rust tests here are named test_NAME after the marker: knocking out the signature leaves that copy
  // readable; with 'signature+name' it is knocked out too and Rust copying drops as well
  const rs = (targets: 'signature' | 'signature+name') =>
    runExperiment(preservationExperiment, model, { ...input, prompts: input.prompts.filter((p) => p.prompt.language === 'rust') }, { options: { ...options, conditions: ['knockout'], targets }, seed: 1 }).records;
  const koRate = (xs: PreservationRecord[]) => rate(xs, (x) => x.units[0]!.arms[0]!.treated.preserved);
  assert.ok(koRate(rs('signature+name')) < koRate(rs('signature')), 'knocking out the test name copy lowers Rust preservation further');
  const s = r.summary!;
  assert.equal(s.correction.tests, 2 * 1 * 2); // 2 languages × 1 unit × 2 conditions
  assert.equal(s.correction.minReachableP, Math.min(1, 4 * 2 * 0.5 ** 6));
  const koRow = s.comparisons.find((c) => c.language === 'python' && c.condition === 'knockout' && c.criterion === 'preserved')!;
  assert.equal(koRow.vsBaseline.direction, 'decrease');
});

test('summarizePreservation: hand-built records give the hand-computed McNemar, Wilson and criteria', () => {
  const o = (preserved: boolean) => ({ completion: '', stop: 'test_end' as const, called: preserved, arityOk: preserved, paramNamesOk: null, syntaxOk: true, executed: null, preserved });
  const unit = { id: 'L0', mode: 'per-layer' as const, layers: [0] };
  // 12 Python prompts: baseline all preserved; knockout loses 10; control keeps all; amplify changes nothing
  const recs: PreservationRecord[] = Array.from({ length: 12 }, (_, i) => ({
    key: `p${i}`, id: `p${i}`, language: 'python', name: 'f', category: 'c', marker: { first: 5, last: 5, text: '>>>' }, targets: [1], controlKeys: [[2]], promptTokens: 6,
    baseline: o(true),
    units: [{ unit, arms: [
      { condition: 'knockout', factor: null, treated: o(i >= 10), controls: [o(true)] },
      { condition: 'amplify', factor: 2, treated: o(true), controls: [o(true)] },
    ] }],
  }));
  const s = summarizePreservation(recs, { units: [unit], arms: [{ condition: 'knockout', factor: null }, { condition: 'amplify', factor: 2 }], alpha: 0.05, dropThreshold: 0.2, nBoot: 500 }, 0, [], []);
  const ko = s.comparisons.find((c) => c.condition === 'knockout' && c.criterion === 'preserved')!;
  assert.equal(ko.vsBaseline.lost, 10);
  assert.equal(ko.vsBaseline.gained, 0);
  assert.ok(Math.abs(ko.vsBaseline.p - 2 * 0.5 ** 10) < 1e-12);
  // Holm over 2 tests: the smaller p doubles
  assert.ok(Math.abs(ko.pHolmBaseline! - 4 * 0.5 ** 10) < 1e-12);
  assert.ok(Math.abs(ko.relChange! - -10 / 12) < 1e-12);
  assert.equal(ko.treated.k, 2);
  const koCrit = s.criteria.find((c) => c.criterion.startsWith('knockout'))!;
  assert.equal(koCrit.met, true);
  const ampCrit = s.criteria.find((c) => c.criterion.startsWith('amplify'))!;
  assert.equal(ampCrit.met, false);
  assert.equal(s.correction.alphaReachable, true);
  // the same data with 3 prompts cannot reach α: stated, and nothing is met
  const s3 = summarizePreservation(recs.slice(0, 3), { units: [unit], arms: [{ condition: 'knockout', factor: null }], alpha: 0.05, dropThreshold: 0.2, nBoot: 200 }, 0, [], []);
  assert.equal(s3.correction.alphaReachable, false);
  assert.ok(s3.caveats.some((c) => /smallest reachable p/.test(c)));
  assert.equal(s3.criteria[0]!.met, false);
});

test('armEdit: knockout edits marker→function edges from the marker on; amplify is +ln 2 on the logit basis', () => {
  const k = armEdit({ factor: null }, [3], [0, 1], 5, 8, [1, 2]);
  assert.equal(k.kind, 'knockout');
  assert.deepEqual(k.rules, [{ sources: [5, 6, 7], targets: [1, 2] }]);
  const a = armEdit({ factor: 2 }, [3], [0], 5, 6, [1]);
  assert.equal(a.kind, 'amplify');
  assert.equal(a.factor, 2);
  assert.equal(a.basis, 'logit');
});
