/**
 * Incremental prefill in generation (GenerateRequest.reuse): a condition's prompt positions < p and layers < L
 * come from the baseline run, the rest is recomputed, and decoding continues from the forked cache. The
 * generated tokens equal generating from scratch with the same hooks, log-probs within 1e-5, on every
 * family's fixture, batched with the other conditions of the prompt.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadModel } from '../../src/model/load.ts';
import { generate, generateBatch, type GenerateRequest } from '../../src/generate/generate.ts';
import { attentionEdit, resolveSpecs } from '../../src/interventions/index.ts';
import { runCondition } from '../../src/interventions/forward.ts';
import { scopeOfEdits } from '../../src/interventions/incremental.ts';

const INDEX = JSON.parse(readFileSync('fixtures/tiny/index.json', 'utf8')) as { models: Array<{ dir: string }> };
const PROMPT = [29, 87, 76, 87, 95, 7, 13, 83, 7];
const CALL = [...PROMPT, 11, 40]; // a longer teacher-forced sequence starting with the prompt (as plip copying scores)

for (const { dir } of INDEX.models) {
  test(`generation with incremental prefill equals generating from scratch ${dir}`, async () => {
    const m = await loadModel(`fixtures/tiny/${dir}`, { noTokenizer: true, backend: 'ts' });
    const nL = m.spec.nLayers;
    const base = runCondition(m, CALL, [], [], PROMPT.length - 1, 5);
    const n = 6;
    const reqs: GenerateRequest[] = [];
    const plain: GenerateRequest[] = [];
    for (let L = 0; L < nL; L++) {
      for (const first of [4, PROMPT.length - 1, PROMPT.length + 2]) {
        const sources = Array.from({ length: PROMPT.length + n - first }, (_, i) => first + i);
        const edits = resolveSpecs([{ kind: 'knockout', layers: L, heads: 'all', edges: [{ sources, targets: [first - 2, first - 1] }] }], m, PROMPT.length + n, { onMaskedEdges: 'drop' });
        const hooks = attentionEdit(edits);
        plain.push({ promptIds: PROMPT, maxTokens: n, stopAtEos: false, hooks });
        reqs.push({ promptIds: PROMPT, maxTokens: n, stopAtEos: false, hooks, reuse: { state: base.state!, scope: scopeOfEdits(edits)! } });
      }
    }
    const got = generateBatch(m, reqs, { batchSize: 4 });
    let differs = 0;
    const baseline = generate(m, PROMPT, { maxTokens: n, stopAtEos: false });
    got.forEach((g, i) => {
      const ref = generate(m, PROMPT, plain[i]!);
      assert.deepEqual(g.ids, ref.ids, `condition ${i}: tokens`);
      g.logprobs.forEach((x, j) => assert.ok(Math.abs(x - ref.logprobs[j]!) <= 1e-5, `condition ${i} step ${j}: ${x} vs ${ref.logprobs[j]}`));
      if (JSON.stringify(ref.logprobs) !== JSON.stringify(baseline.logprobs)) differs++;
    });
    assert.ok(differs > 0, 'the edits change some generations');
    assert.throws(() => generateBatch(m, [{ promptIds: [1, 2], maxTokens: 2, reuse: { state: base.state!, scope: { layer: 0, position: 0 } } }]), /do not start with the prompt/);
  });
}
