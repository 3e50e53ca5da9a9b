/**
 * The newer edit kinds (amplify on both bases, set with held keys, set-control) under a KV cache: cached
 * step-by-step decoding with the hooks equals the uncached forward (≤ 1e-4), including a sliding-window
 * family (mistral, window 4) where the key states come from the engine's own mask.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/model/load.ts';
import { attentionEdit, resolveSpecs, type AttentionMaskSpec } from '../../src/interventions/index.ts';

const SPECS: AttentionMaskSpec[] = [
  { kind: 'knockout', layers: 0, heads: [3], edges: [{ sources: '*', targets: [2] }] },
  { kind: 'amplify', layers: 0, heads: [0, 1], edges: [{ sources: '*', targets: [1, 3] }] },
  { kind: 'amplify', factor: 3, basis: 'mass', layers: 1, heads: [2], edges: [{ sources: '4..10', targets: [4] }] },
  { kind: 'set', level: 0.4, onInfeasible: 'cap', layers: 1, heads: [0], edges: [{ sources: '*', targets: [5, 6], hold: [1, 2] }] },
  { kind: 'set-control', level: 0.3, onInfeasible: 'cap', layers: 1, heads: [1], edges: [{ sources: '*', targets: [3, 7], match: [5, 6] }] },
  { kind: 'set', level: 0.5, layers: 0, heads: [3], edges: [{ sources: '*', targets: [1, 2, 3] }] }, // key 2 knocked out above: shared by 1, 3
];

for (const fam of ['llama', 'gpt2', 'mistral']) {
  test(`${fam}: amplify / set with hold / set-control — cached step-by-step decoding equals the uncached forward`, async () => {
    const m = await loadModel(`fixtures/tiny/${fam}`, { noTokenizer: true, backend: 'ts' });
    const seq = [29, 87, 76, 87, 95, 7, 13, 83, 7, 11, 40];
    const V = m.spec.vocabSize;
    const hooks = attentionEdit(resolveSpecs(SPECS, m, seq.length, { onMaskedEdges: 'drop' })); // mistral: 4..10 → 4 leaves the window
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
