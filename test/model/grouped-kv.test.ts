/**
 * Keys and values stay GQA-grouped (rotary on the key/value heads, groups expanded while writing the cache)
 * unless a hook listens at attn.hook_k / hook_v / hook_rot_k. Both ways must give the same logits and the
 * same KV cache bit for bit, on every family's fixture and both backends, for a prefill and for decoding
 * steps; and a hook at any of those points still sees [batch, pos, n_heads, d_head] and still takes effect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadModel } from '../../src/model/load.ts';
import { loadBlasBackend } from '../../src/tensor/select.ts';
import type { Hook } from '../../src/hooks/types.ts';
import type { HookedModel } from '../../src/model/model.ts';
import type { KVCache } from '../../src/model/kv-cache.ts';

const INDEX = JSON.parse(readFileSync('fixtures/tiny/index.json', 'utf8')) as { models: Array<{ dir: string }> };
const backends: Array<'ts' | 'blas'> = ['ts'];
if (loadBlasBackend() || process.env.CI === 'true') backends.push('blas');
const PROMPT = [29, 87, 76, 87, 95, 7, 13, 83, 7, 11];
const DECODE = [40, 3, 17];

/** Read-only hooks on every layer's k/v points: they force the expanded path without changing anything. */
function watchers(m: HookedModel, point: string, seen: number[][]): Hook[] {
  return Array.from({ length: m.spec.nLayers }, (_, l) => ({ name: `blocks.${l}.${point}`, fn: (t) => void seen.push([...t.shape]) }));
}

function cacheBits(c: KVCache, m: HookedModel): Uint32Array[] {
  const out: Uint32Array[] = [];
  for (let l = 0; l < m.spec.nLayers; l++)
    for (let h = 0; h < m.spec.nHeads; h++) out.push(new Uint32Array(c.keys(l, h, c.length).slice().buffer), new Uint32Array(c.values(l, h, c.length).slice().buffer));
  return out;
}

/** Prefill then single-token steps with a KV cache; logits bits of every call and the final cache. */
function run(m: HookedModel, hooks: Hook[]): { logits: Uint32Array[]; cache: Uint32Array[] } {
  const kv = m.newKVCache(PROMPT.length + DECODE.length);
  const logits: Uint32Array[] = [];
  const first = m.forward(PROMPT, { kvCache: kv, hooks, logits: 'all' });
  logits.push(new Uint32Array(first.logits!.data.slice().buffer));
  for (const id of DECODE) logits.push(new Uint32Array(m.forward([id], { kvCache: kv, hooks, logits: 'last' }).logits!.data.slice().buffer));
  return { logits, cache: cacheBits(kv, m) };
}

for (const backend of backends) {
  for (const { dir } of INDEX.models) {
    test(`${dir} (${backend}): grouped keys/values equal the expanded path bit for bit (prefill, decode, cache)`, async () => {
      const m = await loadModel(`fixtures/tiny/${dir}`, { noTokenizer: true, backend });
      const plain = run(m, []);
      for (const point of ['attn.hook_k', 'attn.hook_v', ...(m.spec.rotary ? ['attn.hook_rot_k'] : [])]) {
        const seen: number[][] = [];
        const watched = run(m, watchers(m, point, seen));
        assert.deepEqual(watched.logits, plain.logits, `${point}: logits differ`);
        assert.deepEqual(watched.cache, plain.cache, `${point}: KV cache differs`);
        assert.equal(seen.length, m.spec.nLayers * (1 + DECODE.length));
        assert.deepEqual(seen[0], [1, PROMPT.length, m.spec.nHeads, m.spec.dHead], `${point} sees one head per query head`);
      }
    });
  }
}

test('a hook that edits attn.hook_v or hook_rot_k still changes the output (the expanded path is taken)', async () => {
  const m = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
  assert.ok(m.spec.nKvHeads! < m.spec.nHeads, 'the llama fixture has grouped key/value heads');
  const base = m.forward(PROMPT).logits!.data;
  for (const point of ['attn.hook_v', 'attn.hook_rot_k']) {
    // zero the keys/values of query head 1 only (a per-query-head edit, not expressible on grouped heads)
    const hook: Hook = { name: `blocks.0.${point}`, fn: (t) => { const [, T, H, Dh] = t.shape as number[]; for (let p = 0; p < T!; p++) t.data.fill(0, (p * H! + 1) * Dh!, (p * H! + 2) * Dh!); } };
    const got = m.forward(PROMPT, { hooks: [hook] }).logits!.data;
    let d = 0;
    for (let i = 0; i < base.length; i++) d = Math.max(d, Math.abs(base[i]! - got[i]!));
    assert.ok(d > 1e-4, `${point}: editing one query head's ${point} changed nothing (max |Δ| ${d})`);
  }
});
