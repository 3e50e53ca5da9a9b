/**
 * Patching setters on the tiny llama fixture, against exact expectations: patching a run with itself is a
 * no-op; patching resid_pre of layer 0 at every position with a donor reproduces the donor's logits;
 * rows/heads outside the map are untouched; pattern transplant through a non-identity map equals the
 * hand-computed renormalised row; cached decoding with patch hooks equals the uncached run; clear errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/model/load.ts';
import { alignByPrefixSuffix, identityMap, patchActivation, patchPattern, patternCoverage } from '../../src/interventions/index.ts';

const model = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
const A = [29, 87, 76, 87, 95, 7, 13, 83, 7];
const B = [29, 87, 76, 40, 41, 7, 13, 83, 7]; // differs at positions 3, 4
const NAMES = ['blocks.0.hook_resid_pre', 'blocks.1.hook_resid_pre', 'blocks.1.attn.hook_z', 'blocks.1.attn.hook_pattern', 'blocks.0.attn.hook_pattern'];
const donorA = model.runWithCache(A, { names: NAMES });
const donorB = model.runWithCache(B, { names: NAMES });
const maxAbs = (x: ArrayLike<number>, y: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
};

test('alignByPrefixSuffix maps the common prefix and suffix one to one and leaves the differing middle unmapped', () => {
  const r = alignByPrefixSuffix([1, 2, 3, 4, 5, 6], [1, 2, 9, 9, 9, 5, 6]);
  assert.deepEqual([...r.map].sort((a, b) => a[0] - b[0]), [[0, 0], [1, 1], [4, 5], [5, 6]]);
  assert.deepEqual(r.unmapped, [2, 3]);
  assert.deepEqual([...alignByPrefixSuffix(A, A).map.values()], [...identityMap(A.length).values()]);
});

test('patching a run with itself is a no-op; resid_pre L0 at every position reproduces the donor exactly', () => {
  const self = model.forward(A, { hooks: [patchActivation({ hook: 'blocks.1.hook_resid_pre', donor: donorA.cache.get('blocks.1.hook_resid_pre'), positions: identityMap(A.length) })] });
  assert.deepEqual(self.logits!.data, donorA.logits!.data);
  const all = model.forward(A, { hooks: [patchActivation({ hook: 'blocks.0.hook_resid_pre', donor: donorB.cache.get('blocks.0.hook_resid_pre'), positions: identityMap(A.length) })] });
  assert.ok(maxAbs(all.logits!.data, donorB.logits!.data) < 1e-6);
  assert.ok(maxAbs(donorA.logits!.data, donorB.logits!.data) > 1e-2, 'the two prompts differ');
});

test('an activation patch changes only the mapped rows (and later positions), and per-head z patches only that head', () => {
  const r = model.runWithCache(A, { names: NAMES }, { hooks: [patchActivation({ hook: 'blocks.1.hook_resid_pre', donor: donorB.cache.get('blocks.1.hook_resid_pre'), positions: new Map([[4, 4]])})] });
  const got = r.cache.get('blocks.1.hook_resid_pre');
  const D = got.shape[2]!;
  for (let t = 0; t < A.length; t++) {
    const want = (t === 4 ? donorB : donorA).cache.get('blocks.1.hook_resid_pre').data.subarray(t * D, (t + 1) * D);
    assert.deepEqual(got.data.subarray(t * D, (t + 1) * D), want, `row ${t}`);
  }
  const V = model.spec.vocabSize;
  assert.deepEqual(r.logits!.data.subarray(0, 4 * V), donorA.logits!.data.subarray(0, 4 * V), 'positions before the patch are unchanged');
  const z = model.runWithCache(A, { names: NAMES }, { hooks: [patchActivation({ hook: 'blocks.1.attn.hook_z', donor: donorB.cache.get('blocks.1.attn.hook_z'), positions: new Map([[8, 8]]), heads: [2] })] }).cache.get('blocks.1.attn.hook_z');
  const [, , H, Dh] = z.shape as [number, number, number, number];
  const zA = donorA.cache.get('blocks.1.attn.hook_z').data;
  const zB = donorB.cache.get('blocks.1.attn.hook_z').data;
  for (let h = 0; h < H; h++) {
    const o = (8 * H + h) * Dh;
    assert.deepEqual(z.data.subarray(o, o + Dh), (h === 2 ? zB : zA).subarray(o, o + Dh), `head ${h}`);
  }
});

test('pattern transplant through a non-identity map equals the hand-computed renormalised donor row', () => {
  const donorSeq = [29, 87, 76, 5, 5, 5, 87, 95, 7, 13, 83, 7]; // 3 extra tokens in the middle
  const d = model.runWithCache(donorSeq, { names: ['blocks.0.attn.hook_pattern'] });
  const { map } = alignByPrefixSuffix(A, donorSeq);
  const dp = d.cache.get('blocks.0.attn.hook_pattern');
  const patch = { layer: 0, donor: dp, positions: map, heads: [1] };
  const r = model.runWithCache(A, { names: ['blocks.0.attn.hook_pattern'] }, { hooks: [patchPattern(patch)] });
  const p = r.cache.get('blocks.0.attn.hook_pattern');
  const base = donorA.cache.get('blocks.0.attn.hook_pattern');
  const [, H, T] = p.shape as [number, number, number, number];
  const Td = donorSeq.length;
  for (const q of [5, 8]) {
    const dq = map.get(q)!;
    let s = 0;
    for (let k = 0; k <= q; k++) s += dp.data[(1 * Td + dq) * Td + map.get(k)!]!;
    assert.ok(Math.abs(s - patternCoverage(patch, q)[0]!) < 1e-6);
    assert.ok(s < 1 - 1e-4, 'donor mass on the three extra tokens is not carried over');
    let rowSum = 0;
    for (let k = 0; k < T; k++) {
      const want = k <= q ? dp.data[(1 * Td + dq) * Td + map.get(k)!]! / s : 0;
      assert.ok(Math.abs(p.get(0, 1, q, k) - want) < 1e-6, `q${q} k${k}`);
      rowSum += p.get(0, 1, q, k);
    }
    assert.ok(Math.abs(rowSum - 1) < 1e-6);
  }
  for (let h = 0; h < H; h++) if (h !== 1) for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) assert.equal(p.get(0, h, q, k), base.get(0, h, q, k));
});

test('cached step-by-step decoding with patch hooks equals the uncached run', () => {
  const hooks = [
    patchActivation({ hook: 'blocks.1.hook_resid_pre', donor: donorB.cache.get('blocks.1.hook_resid_pre'), positions: new Map([[3, 3], [7, 7]]) }),
    patchPattern({ layer: 1, donor: donorB.cache.get('blocks.1.attn.hook_pattern'), positions: identityMap(A.length), heads: [0] }),
  ];
  const full = model.forward(A, { hooks }).logits!.data;
  const cache = model.newKVCache();
  const V = model.spec.vocabSize;
  let m = maxAbs(model.forward(A.slice(0, 2), { hooks, kvCache: cache }).logits!.data, full.subarray(0, 2 * V));
  for (let t = 2; t < A.length; t++) m = Math.max(m, maxAbs(model.forward([A[t]!], { hooks, kvCache: cache, logits: 'last' }).logits!.data, full.subarray(t * V, (t + 1) * V)));
  assert.ok(m <= 1e-4, `cached vs uncached differ by ${m}`);
});

test('bad patches fail with clear messages', () => {
  const d = donorB.cache.get('blocks.1.hook_resid_pre');
  assert.throws(() => patchActivation({ hook: 'blocks.1.attn.hook_pattern', donor: d, positions: new Map() }), /not a patchable activation.*patchPattern/);
  assert.throws(() => patchActivation({ hook: 'blocks.1.attn.hook_z', donor: d, positions: new Map() }), /has shape \[1, 9, \d+\], expected \[1, T, H, Dh\]/);
  assert.throws(() => patchActivation({ hook: 'blocks.1.hook_resid_pre', donor: d, positions: new Map([[2, 99]]) }), /donor position 99 .* out of range \(the donor has token positions 0\.\.8\)/);
  assert.throws(() => patchActivation({ hook: 'blocks.1.hook_resid_pre', donor: d, positions: new Map(), heads: [0] }), /heads are only allowed for per-head hooks/);
  assert.throws(() => patchPattern({ layer: 1, donor: d, positions: new Map() }), /expected \[1, H, Td, Td\]/);
});

test('pattern transplant respects a sliding window: keys outside it stay 0', () => {
  const r = model.runWithCache(A, { names: ['blocks.0.attn.hook_pattern'] }, { hooks: [patchPattern({ layer: 0, donor: donorB.cache.get('blocks.0.attn.hook_pattern'), positions: identityMap(A.length), slidingWindow: 3 })] });
  const p = r.cache.get('blocks.0.attn.hook_pattern');
  const [, H, T] = p.shape as [number, number, number, number];
  for (let h = 0; h < H; h++)
    for (let q = 0; q < T; q++) {
      let sum = 0;
      for (let k = 0; k < T; k++) {
        if (k > q || q - k >= 3) assert.equal(p.get(0, h, q, k), 0, `h${h} q${q} k${k}`);
        sum += p.get(0, h, q, k);
      }
      assert.ok(Math.abs(sum - 1) < 1e-6);
    }
});
