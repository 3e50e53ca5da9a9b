/**
 * Hook semantics: capture only what is asked, replacement propagates, absolute positions under a
 * KV cache, NaN-free fully-masked rows, and clear errors for unknown names / wrong shapes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/model/load.ts';
import { Tensor } from '../../src/tensor/tensor.ts';
import type { HookContext } from '../../src/hooks/types.ts';
import { readFileSync } from 'node:fs';
import { LAYER_HOOK_TEMPLATES, MODEL_HOOKS } from '../../src/hooks/names.ts';

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
  assert.throws(() => m.runWithHooks(IDS, [{ name: 'blocks.0.attn.hook_patern', fn: () => {} }]), /unknown hook point: 'blocks.0.attn.hook_patern' is not a hook point name/);
  assert.throws(() => m.runWithCache(IDS, { names: ['attn.hook_nope'] }), /unknown hook name/);
  assert.throws(() => m.runWithCache(IDS, { layers: [9] }), /layer 9 is out of range/);
  assert.throws(
    () => m.runWithHooks(IDS, [{ name: 'blocks.0.hook_resid_pre', fn: () => Tensor.zeros([1, 2, 3]) }]),
    /returned shape \[1, 2, 3\], expected \[1, 7, 64\]/,
  );
  assert.throws(() => m.forward([1, 9999]), /token id 9999 at position 1 is outside the vocabulary/);
});

const FIXTURES = (JSON.parse(readFileSync('fixtures/tiny/index.json', 'utf8')) as { models: Array<{ dir: string }> }).models.map((m) => m.dir);

for (const fam of FIXTURES) {
  test(`${fam}: every listed hook point fires exactly once per forward (per layer), also with a KV cache`, async () => {
    const m = await loadModel(`fixtures/tiny/${fam}`, { noTokenizer: true, backend: 'ts' });
    const listed = m.hookNames();
    assert.equal(new Set(listed).size, listed.length, 'hook names are unique');
    const counts = new Map<string, number>();
    const hook = { name: () => true, fn: (_t: Tensor, ctx: HookContext) => void counts.set(ctx.name, (counts.get(ctx.name) ?? 0) + 1) };
    const ids = [1, 5, 9, 3];
    const check = (what: string) => {
      for (const n of listed) assert.equal(counts.get(n) ?? 0, 1, `${fam} ${what}: '${n}' fired ${counts.get(n) ?? 0} times`);
      for (const n of counts.keys()) assert.ok(listed.includes(n), `${fam} ${what}: '${n}' fired but is not listed`);
      counts.clear();
    };
    m.runWithHooks(ids, [hook]);
    check('full forward');
    const kv = m.newKVCache();
    m.runWithHooks(ids.slice(0, 3), [], { kvCache: kv });
    m.runWithHooks(ids.slice(3), [hook], { kvCache: kv });
    check('cached decoding step');
    // every point is listed per layer, and each point is present exactly when the spec has the feature
    const s = m.spec;
    const perLayer = LAYER_HOOK_TEMPLATES.filter((t) => listed.includes(t.replace('{L}', '0')));
    for (let l = 0; l < s.nLayers; l++) for (const t of perLayer) assert.ok(listed.includes(t.replace('{L}', String(l))), `${t} at layer ${l}`);
    assert.equal(listed.includes('blocks.0.attn.hook_rot_q'), s.rotary !== null);
    assert.equal(listed.includes('blocks.0.hook_resid_mid'), !s.parallelResidual);
    assert.equal(listed.includes(MODEL_HOOKS.hook_pos_embed), s.positional === 'learned');
    // runWithCache on every listed point captures every one of them
    assert.equal(m.runWithCache(ids).cache.names().length, listed.length);
  });
}

test('hook points a family does not have are errors naming the hook and the missing feature', async () => {
  const gpt2 = await loadModel('fixtures/tiny/gpt2', { noTokenizer: true, backend: 'ts' });
  assert.ok(!gpt2.hookNames().some((n) => n.includes('hook_rot_')), 'GPT-2 has no rotary hook points');
  assert.throws(() => gpt2.runWithHooks([1, 2], [{ name: 'blocks.0.attn.hook_rot_q', fn: () => {} }]), /'blocks\.0\.attn\.hook_rot_q'.*rotary/);
  assert.throws(() => gpt2.runWithCache([1, 2], { names: ['attn.hook_rot_k'] }), /hook_rot_k.*rotary/);
  assert.throws(() => gpt2.runWithHooks([1, 2], [{ name: 'blocks.9.hook_resid_pre', fn: () => {} }]), /layer 9 is out of range/);
  const neox = await loadModel('fixtures/tiny/gpt_neox', { noTokenizer: true, backend: 'ts' });
  assert.throws(() => neox.runWithHooks([1, 2], [{ name: 'blocks.0.hook_resid_mid', fn: () => {} }]), /hook_resid_mid.*sequential residual/);
});

test('non-finite logits are an error naming the position, not a result', async () => {
  const m = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
  const nanAt3 = { name: 'blocks.0.hook_resid_post', fn: (t: Tensor) => void (t.data[3 * m.spec.dModel] = NaN) };
  assert.throws(() => m.runWithHooks([1, 5, 9, 3], [nanAt3]), /non-finite logit \(NaN\) at token position \d+, vocab id \d+/);
  assert.throws(() => m.runWithCache([1, 5, 9, 3], {}, { hooks: [nanAt3] }), /non-finite logit/);
  const inf = { name: 'hook_logits', fn: (t: Tensor) => void (t.data[7] = Infinity) };
  assert.throws(() => m.runWithHooks([1, 5], [inf]), /non-finite logit \(Infinity\) at token position 0, vocab id 7/);
  assert.throws(() => m.runWithHooks([1, 5], [inf], { logits: 'last' }), /at token position 1, vocab id 7/);
  assert.ok(m.forward([1, 5]).logits!.data.every(Number.isFinite));
});
