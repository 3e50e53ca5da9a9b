/**
 * Family parity: logits, every layer's resid_post and every attention pattern against the
 * PyTorch reference fixtures (scripts/reference/make_fixtures.py), max abs error ≤ 1e-4.
 * Also cached (token-by-token) vs uncached decoding on the same fixtures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadModel } from '../../src/model/load.ts';
import { loadBlasBackend } from '../../src/tensor/select.ts';

const INDEX = JSON.parse(readFileSync('fixtures/tiny/index.json', 'utf8')) as { models: Array<{ dir: string; family: string }> };
const REQUIRED = ['llama', 'mistral', 'qwen2', 'gemma', 'phi3', 'starcoder2', 'gpt2', 'gpt_neox'];
const FAMILIES = INDEX.models.map((m) => m.dir);

test('fixtures cover every family the study needs', () => {
  const fams = new Set(INDEX.models.map((m) => m.family));
  for (const f of REQUIRED) assert.ok(fams.has(f), `no parity fixture for ${f}`);
});
const TOL = 1e-4;

interface Golden {
  family: string;
  prompts: number[][];
  outputs: Array<{ logits: number[][]; resid_post: number[][][]; patterns: number[][][][] }>;
}

function maxAbsDiff(a: ArrayLike<number>, b: number[]): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const backends: Array<'ts' | 'blas'> = ['ts'];
if (loadBlasBackend() || process.env.CI === 'true') backends.push('blas');

for (const family of FAMILIES) {
  for (const backend of backends) {
    test(`parity ${family} (${backend}) vs PyTorch reference`, async () => {
      const dir = `fixtures/tiny/${family}`;
      const golden = JSON.parse(readFileSync(`${dir}/golden.json`, 'utf8')) as Golden;
      const m = await loadModel(dir, { noTokenizer: true, backend });
      assert.equal(m.spec.family, INDEX.models.find((x) => x.dir === family)!.family);
      golden.prompts.forEach((ids, p) => {
        const out = golden.outputs[p]!;
        const { logits, cache } = m.runWithCache(ids, { names: ['hook_resid_post', 'attn.hook_pattern'] });
        const dl = maxAbsDiff(logits!.data, out.logits.flat());
        assert.ok(dl <= TOL, `${family} prompt ${p}: logits max abs error ${dl}`);
        for (let l = 0; l < m.spec.nLayers; l++) {
          const dr = maxAbsDiff(cache.residPost(l).data, out.resid_post[l]!.flat());
          assert.ok(dr <= TOL, `${family} prompt ${p} layer ${l}: resid_post max abs error ${dr}`);
          const dp = maxAbsDiff(cache.pattern(l).data, out.patterns[l]!.flat(2));
          assert.ok(dp <= TOL, `${family} prompt ${p} layer ${l}: pattern max abs error ${dp}`);
        }
      });
    });
  }

  test(`cached vs uncached decoding ${family}`, async () => {
    const dir = `fixtures/tiny/${family}`;
    const golden = JSON.parse(readFileSync(`${dir}/golden.json`, 'utf8')) as Golden;
    const m = await loadModel(dir, { noTokenizer: true, backend: 'ts' });
    const ids = golden.prompts[golden.prompts.length - 1]!;
    const full = m.forward(ids).logits!.data;
    const V = m.spec.vocabSize;
    const kv = m.newKVCache(2);
    // prefill 3 tokens, then one at a time (exercises cache growth)
    const first = m.forward(ids.slice(0, 3), { kvCache: kv }).logits!.data;
    assert.ok(maxAbsDiff(first, Array.from(full.subarray(0, 3 * V))) <= TOL);
    for (let t = 3; t < ids.length; t++) {
      const step = m.forward([ids[t]!], { kvCache: kv }).logits!.data;
      const d = maxAbsDiff(step, Array.from(full.subarray(t * V, (t + 1) * V)));
      assert.ok(d <= TOL, `${family}: cached step ${t} differs by ${d}`);
    }
    assert.equal(kv.length, ids.length);
  });
}
