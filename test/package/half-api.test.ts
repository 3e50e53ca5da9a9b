/**
 * The bf16-resident, batched and incremental engine is reachable from the public entry point (src/index.ts),
 * and behaves there as documented: bf16 logits equal the float32 widening's, a ragged batch equals each row
 * alone, and a batched knockout sweep equals the conditions run one by one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as plip from '../../src/index.ts';

/** The Qwen2 fixture's dimensions (q/k/v biases, GQA), random weights. */
const CFG = 'fixtures/tiny/qwen2';

test('public API: bf16 weights stay 16-bit and give the float32 widening\'s logits', () => {
  const m = plip.randomModelFromConfig(CFG, { seed: 3, backend: 'ts', dtype: 'bf16' });
  assert.equal(m.weights.layers[0]!.Wq.dtype, 'bf16');
  const wide = new plip.HookedModel(m.spec, plip.widenModelWeights(m.weights), m.backend, null, m.info);
  assert.equal(wide.weights.layers[0]!.Wq.dtype, 'f32');
  const Wq = m.weights.layers[0]!.Wq;
  assert.equal(plip.weightBytes(Wq), 2 * plip.weightLength(Wq));
  assert.ok(plip.modelWeightBytes(wide.weights) > 1.8 * plip.modelWeightBytes(m.weights), 'widening doubles the matrices');
  const ids = [1, 5, 9, 20, 17, 3];
  const a = m.forward(ids).logits!.data, b = wide.forward(ids).logits!.data;
  assert.deepEqual(Array.from(a), Array.from(b));
  // one value round trip through the exported converters
  assert.equal(plip.weightValue(plip.halfWeight('bf16', Uint16Array.of(plip.f32BitsToBf16(new Uint32Array(Float32Array.of(1.5).buffer)[0]!))), 0), 1.5);
});

test('public API: forwardBatch on a ragged batch equals each row alone (≤ 1e-4)', () => {
  const m = plip.randomModelFromConfig(CFG, { seed: 4, backend: 'ts', dtype: 'bf16' });
  const rows = [[1, 2, 3, 4, 5, 6, 7], [8, 9], [10, 11, 12, 13]];
  const r = plip.forwardBatch(m, rows.map((tokens) => ({ tokens })));
  const V = m.spec.vocabSize, Tmax = 7;
  rows.forEach((ids, b) => {
    const alone = m.forward(ids).logits!.data;
    const got = r.logits!.data.subarray(b * Tmax * V, (b * Tmax + ids.length) * V);
    let d = 0;
    for (let i = 0; i < alone.length; i++) d = Math.max(d, Math.abs(alone[i]! - got[i]!));
    assert.ok(d <= 1e-4, `row ${b}: max |Δ| ${d}`);
  });
});

test('public API: forwardWithInterventions (incremental, batched) equals each condition run in full', () => {
  const m = plip.randomModelFromConfig(CFG, { seed: 5, backend: 'ts', dtype: 'bf16' });
  const ids = [1, 40, 41, 42, 7, 8, 9, 10, 11];
  const conds = [0, 1].map((l) => [{ kind: 'knockout' as const, layers: l, heads: 'all' as const, edges: [{ sources: [6, 8], targets: [1, 2, 3] }] }]);
  const inc = plip.forwardWithInterventions(m, ids, conds);
  const full = plip.withFullRecompute(() => plip.forwardWithInterventions(m, ids, conds));
  inc.forEach((r, i) => {
    assert.equal(r.intervened.incremental, true);
    assert.notEqual(full[i]!.intervened.incremental, true);
    assert.ok(Math.abs(r.metrics.kl - full[i]!.metrics.kl) <= 1e-6, `condition ${i}: KL ${r.metrics.kl} vs ${full[i]!.metrics.kl}`);
    assert.ok(r.metrics.kl > 0, 'the knockout changes the output');
  });
});
