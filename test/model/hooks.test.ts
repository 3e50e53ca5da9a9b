/**
 * Hook semantics: capture only what is asked, replacement propagates, absolute positions under a
 * KV cache, NaN-free fully-masked rows, and clear errors for unknown names / wrong shapes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/model/load.ts';
import { Tensor } from '../../src/tensor/tensor.ts';
import type { HookContext } from '../../src/hooks/types.ts';

const DIR = '../shared/models/stories260K';
const IDS = [1, 410, 469, 347, 260, 279, 300];

test('runWithCache captures only the requested hooks and layers, with the documented shapes', async () => {
  const m = await loadModel(DIR, { noTokenizer: true, backend: 'ts' });
  const { cache } = m.runWithCache(IDS, { names: ['attn.hook_pattern', 'hook_embed', 'blocks.4.hook_resid_post'], layers: [1, 4] });
  assert.deepEqual(cache.names().sort(), ['blocks.1.attn.hook_pattern', 'blocks.4.attn.hook_pattern', 'blocks.4.hook_resid_post', 'hook_embed'].sort());
  const T = IDS.length;
  assert.deepEqual(cache.pattern(1).shape, [1, 8, T, T]);
  assert.deepEqual(cache.get('hook_embed').shape, [1, T, 64]);
  assert.throws(() => cache.pattern(0), /was not captured/);
  // every shape of every hook point
  const all = m.runWithCache(IDS).cache;
  assert.equal(all.names().length, m.hookNames().length);
  assert.deepEqual(all.get('blocks.0.attn.hook_q').shape, [1, T, 8, 8]);
  assert.deepEqual(all.get('blocks.0.attn.hook_k').shape, [1, T, 8, 8], 'K is exposed per query head under GQA');
  assert.deepEqual(all.get('blocks.0.attn.hook_attn_scores').shape, [1, 8, T, T]);
  assert.deepEqual(all.get('blocks.0.mlp.hook_post').shape, [1, T, 172]);
  assert.deepEqual(all.get('hook_logits').shape, [1, T, 512]);
  // scores are -Infinity exactly where the causal mask is; pattern rows sum to 1 with causal zeros
  const sc = all.get('blocks.2.attn.hook_attn_scores');
  const pat = all.pattern(2);
  for (let h = 0; h < 8; h++)
    for (let q = 0; q < T; q++) {
      let s = 0;
      for (let k = 0; k < T; k++) {
        const v = pat.get(0, h, q, k);
        if (k > q) {
          assert.equal(sc.get(0, h, q, k), -Infinity);
          assert.equal(v, 0);
        } else assert.ok(Number.isFinite(sc.get(0, h, q, k)));
        s += v;
      }
      assert.ok(Math.abs(s - 1) < 1e-6);
    }
});

test('GQA: query heads of one group see identical keys', async () => {
  const m = await loadModel(DIR, { noTokenizer: true, backend: 'ts' });
  const k = m.runWithCache(IDS, { names: ['blocks.0.attn.hook_k'] }).cache.get('blocks.0.attn.hook_k');
  for (let t = 0; t < IDS.length; t++) for (let d = 0; d < 8; d++) assert.equal(k.get(0, t, 0, d), k.get(0, t, 1, d));
});

test('a hook that replaces a tensor changes everything downstream, and only downstream', async () => {
  const m = await loadModel(DIR, { noTokenizer: true, backend: 'ts' });
  const base = m.runWithCache(IDS, { names: ['hook_resid_post'] });
  const zeroMlp = { name: 'blocks.2.hook_mlp_out', fn: (t: Tensor) => new Tensor(new Float32Array(t.size), t.shape) };
  const edited = m.runWithCache(IDS, { names: ['hook_resid_post', 'blocks.2.hook_mlp_out'] }, { hooks: [zeroMlp] });
  assert.ok(edited.cache.get('blocks.2.hook_mlp_out').data.every((x) => x === 0), 'cache shows the edited tensor');
  for (let l = 0; l < 2; l++) assert.deepEqual(edited.cache.residPost(l).data, base.cache.residPost(l).data, `layer ${l} unchanged`);
  assert.notDeepEqual(edited.cache.residPost(2).data, base.cache.residPost(2).data);
  assert.notDeepEqual(edited.logits!.data, base.logits!.data);
});

test('hooks receive absolute positions, also with a KV cache', async () => {
  const m = await loadModel(DIR, { noTokenizer: true, backend: 'ts' });
  const seen: Array<{ q: number[]; k: number[] }> = [];
  const hook = { name: 'blocks.0.attn.hook_pattern', fn: (_t: Tensor, ctx: HookContext) => void seen.push({ q: [...ctx.queryPositions], k: [...(ctx.keyPositions ?? [])] }) };
  const kv = m.newKVCache();
  m.forward(IDS.slice(0, 4), { kvCache: kv, hooks: [hook] });
  m.forward(IDS.slice(4, 5), { kvCache: kv, hooks: [hook] });
  assert.deepEqual(seen[0], { q: [0, 1, 2, 3], k: [0, 1, 2, 3] });
  assert.deepEqual(seen[1], { q: [4], k: [0, 1, 2, 3, 4] });
});

test('a fully masked attention row gives an all-zero pattern row and no NaN anywhere', async () => {
  const m = await loadModel(DIR, { noTokenizer: true, backend: 'ts' });
  const T = IDS.length;
  const maskRow = {
    name: 'blocks.1.attn.hook_attn_scores',
    fn: (t: Tensor) => {
      for (let k = 0; k < T; k++) t.set(-Infinity, 0, 3, 5, k);
    },
  };
  const r = m.runWithCache(IDS, { names: ['blocks.1.attn.hook_pattern', 'blocks.1.attn.hook_z'] }, { hooks: [maskRow] });
  for (let k = 0; k < T; k++) assert.equal(r.cache.pattern(1).get(0, 3, 5, k), 0);
  for (let d = 0; d < 8; d++) assert.equal(r.cache.get('blocks.1.attn.hook_z').get(0, 5, 3, d), 0);
  assert.ok(r.logits!.data.every(Number.isFinite));
});

test('unknown hook names and wrong replacement shapes are clear errors', async () => {
  const m = await loadModel(DIR, { noTokenizer: true, backend: 'ts' });
  assert.throws(() => m.runWithHooks(IDS, [{ name: 'blocks.0.attn.hook_patern', fn: () => {} }]), /unknown hook point 'blocks.0.attn.hook_patern'/);
  assert.throws(() => m.runWithCache(IDS, { names: ['attn.hook_nope'] }), /unknown hook name/);
  assert.throws(() => m.runWithCache(IDS, { layers: [9] }), /layer 9 is out of range/);
  assert.throws(
    () => m.runWithHooks(IDS, [{ name: 'blocks.0.hook_resid_pre', fn: () => Tensor.zeros([1, 2, 3]) }]),
    /returned shape \[1, 2, 3\], expected \[1, 7, 64\]/,
  );
  assert.throws(() => m.forward([1, 9999]), /token id 9999 at position 1 is outside the vocabulary/);
});
