/**
 * Interventions under a KV cache: the hooks see only the newest query row(s) and use absolute positions,
 * so step-by-step decoding with the hooks equals the uncached forward on the full sequence (≤ 1e-4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/model/load.ts';
import { generate } from '../../src/generate/generate.ts';
import { logSoftmax } from '../../src/metrics/distribution.ts';
import { attentionEdit, resolveSpecs, type AttentionMaskSpec } from '../../src/interventions/index.ts';

const SPECS: AttentionMaskSpec[] = [
  { kind: 'knockout', layers: 1, heads: 'all', edges: [{ sources: '*', targets: [1, 2] }] },
  { kind: 'scale', factor: 0.5, layers: 0, heads: [1], edges: [{ sources: '3..8', targets: [0] }] },
  { kind: 'knockout', layers: 0, heads: [0], edges: [{ sources: [4], targets: '*' }] },
  { kind: 'scale', factor: 0, layers: 'all', heads: [2], edges: [{ sources: [6, 7], targets: [5, 6] }] },
  { kind: 'set', level: 0.7, layers: 1, heads: [0, 1], edges: [{ sources: '*', targets: [3, 4] }] },
];

for (const fam of ['llama', 'gpt2']) {
  test(`${fam}: cached step-by-step decoding with intervention hooks equals the uncached forward`, async () => {
    const m = await loadModel(`fixtures/tiny/${fam}`, { noTokenizer: true, backend: 'ts' });
    const seq = [29, 87, 76, 87, 95, 7, 13, 83, 7, 11, 40];
    const V = m.spec.vocabSize;
    const hooks = attentionEdit(resolveSpecs(SPECS, m, seq.length));
    const full = m.forward(seq, { hooks }).logits!.data;
    const plain = m.forward(seq).logits!.data;
    const cache = m.newKVCache();
    const prefill = 3;
    const first = m.forward(seq.slice(0, prefill), { hooks, kvCache: cache }).logits!.data;
    let maxd = 0;
    for (let i = 0; i < prefill * V; i++) maxd = Math.max(maxd, Math.abs(first[i]! - full[i]!));
    for (let p = prefill; p < seq.length; p++) {
      const row = m.forward([seq[p]!], { hooks, kvCache: cache, logits: 'last' }).logits!.data;
      for (let v = 0; v < V; v++) maxd = Math.max(maxd, Math.abs(row[v]! - full[p * V + v]!));
    }
    assert.ok(maxd <= 1e-4, `cached vs uncached differ by ${maxd}`);
    let eff = 0;
    for (let i = 0; i < full.length; i++) eff = Math.max(eff, Math.abs(full[i]! - plain[i]!));
    assert.ok(eff > 1e-3, 'the edits do change the logits');
  });
}

test('generate() with intervention hooks: greedy tokens and log-probs equal the uncached intervened forward', async () => {
  const m = await loadModel('../shared/models/stories260K', { backend: 'ts' });
  const prompt = m.tokenizer!.encode('Once upon a time');
  const n = 12;
  const specs: AttentionMaskSpec[] = [{ kind: 'knockout', layers: '1..3', heads: 'all', edges: [{ sources: '*', targets: [1, 2] }] }];
  const hooks = attentionEdit(resolveSpecs(specs, m, prompt.length + n));
  const g = generate(m, prompt, { maxTokens: n, temperature: 0, hooks, stopAtEos: false });
  const seq = [...prompt, ...g.ids];
  const logits = m.forward(seq, { hooks }).logits!.data;
  const V = m.spec.vocabSize;
  for (let s = 0; s < g.ids.length; s++) {
    const pos = prompt.length - 1 + s;
    const lp = logSoftmax(logits.subarray(pos * V, (pos + 1) * V));
    let best = 0;
    for (let v = 1; v < V; v++) if (lp[v]! > lp[best]!) best = v;
    assert.equal(g.ids[s], best, `step ${s}`);
    assert.ok(Math.abs(g.logprobs[s]! - lp[best]!) <= 1e-4);
  }
  const plain = generate(m, prompt, { maxTokens: n, temperature: 0, stopAtEos: false });
  assert.notDeepEqual(plain.logprobs, g.logprobs, 'the knockout changes the generation');
});
