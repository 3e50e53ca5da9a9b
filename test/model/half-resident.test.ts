/**
 * bf16/f16 checkpoints stay 16-bit in memory and compute the same numbers as the float32-resident path.
 *
 * For every family's parity fixture, the weights are rounded to bf16 and written to disk; the model loaded
 * from that checkpoint (bf16-resident) is compared with the same weights widened to float32
 * (`widenModelWeights`, the old float32-resident path):
 * - ts backend: logits and every resid_post bit-identical, prefill and cached decoding;
 * - blas backend: prefill bit-identical where m > 1 goes through the same sgemm on widened tiles; on the
 *   'avx2' and 'avx512' kernels every bf16 product has its own kernels (register-blocked up to 32 / 64 rows,
 *   the packed bf16 GEMM above), within 1e-5;
 *   a batched prefill of 6 prompts (72 rows) within 1e-5; cached
 *   decode steps (m = 1, the direct bf16 GEMV) within 1e-5 of the float32 path. Where the CPU has AMX,
 *   also with the 'amx' kernel (products of more than 8 rows on AMX tiles, summed in AMX's order):
 *   prefill logits and resid_post within 1e-5.
 * The fixtures stored as BF16/F16 (qwen2, gemma) also pass the PyTorch parity test in parity.test.ts,
 * now bf16/f16-resident.
 *
 * Load-time rejection of non-finite weights: a checkpoint with one NaN (or Inf) is an error naming the
 * file and the tensor, from the library and from the CLI (exit 1), never a run with null logits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rewriteCheckpoint, type Poison } from './fixture-copy.ts';
import { loadModel } from '../../src/model/load.ts';
import { HookedModel } from '../../src/model/model.ts';
import { widenModelWeights, modelWeightBytes, productMatrices } from '../../src/model/weights.ts';
import { halfKernel, halfSmallRows, loadBlasBackend } from '../../src/tensor/select.ts';

const INDEX = JSON.parse(readFileSync('fixtures/tiny/index.json', 'utf8')) as { models: Array<{ dir: string; family: string }> };
const GOLDEN_PROMPT = (dir: string) => {
  const g = JSON.parse(readFileSync(`fixtures/tiny/${dir}/golden.json`, 'utf8')) as { prompts: number[][] };
  return g.prompts[g.prompts.length - 1]!;
};

const tmpRoot = mkdtempSync(join(tmpdir(), 'plip-half-'));
process.on('exit', () => rmSync(tmpRoot, { recursive: true, force: true }));

/** Copies a fixture with every tensor rewritten as `dtype` (round-to-nearest-even), optionally poisoned. */
const rewrite = (dir: string, dtype: 'BF16' | 'F16' | 'F32', poison?: Poison): string => rewriteCheckpoint(`fixtures/tiny/${dir}`, dtype, tmpRoot, poison);

function identical(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.fail(`${what}: element ${i} differs: ${a[i]} vs ${b[i]}`);
}

function close(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  assert.ok(m <= tol, `${what}: max |diff| ${m} > ${tol}`);
}

const backends: Array<'ts' | 'blas'> = ['ts'];
if (loadBlasBackend() || process.env.CI === 'true') backends.push('blas');

// On blas: the kernel the addon chose, and the ones under it this CPU also runs (where it chose 'amx', also
// 'avx512'; where it chose 'avx512' or 'amx', also 'avx2', the kernel of AVX2-only machines).
const loaded = loadBlasBackend() ? halfKernel() : undefined;
const blasKernels: Array<string | undefined> = loaded === 'amx' ? ['avx512', 'amx', 'avx2'] : loaded === 'avx512' ? ['avx512', 'avx2'] : [loaded];

for (const { dir } of INDEX.models) {
  for (const backend of backends) {
    for (const kernel of backend === 'blas' ? blasKernels : [undefined]) {
      test(`bf16-resident ${dir} (${backend}${kernel ? `, ${kernel}` : ''}) equals the float32 path of the same rounded weights`, async () => {
        if (kernel) halfKernel(kernel as 'amx');
        try {
          const path = rewrite(dir, 'BF16');
          const half = await loadModel(path, { noTokenizer: true, backend });
          // Every matrix is 16-bit in memory; norms and biases (O(d_model)) are float32.
          const W = half.weights;
          for (const w of [W.embed, ...productMatrices(W)]) {
            assert.equal(w.dtype, 'bf16');
            assert.ok(w.data instanceof Uint16Array);
          }
          const wide = new HookedModel(half.spec, widenModelWeights(W), half.backend, null, half.info);
          assert.equal(wide.weights.embed.dtype, 'f32');
          assert.ok(modelWeightBytes(W) < 0.6 * modelWeightBytes(wide.weights), 'the bf16 model holds about half the bytes');

          const ids = GOLDEN_PROMPT(dir);
          const a = half.runWithCache(ids, { names: ['hook_resid_post'] });
          const b = wide.runWithCache(ids, { names: ['hook_resid_post'] });
          // amx tiles and the avx512 / avx2 kernels (register-blocked up to 64 / 32 rows, the packed bf16 GEMM
          // above) sum in their own order
          const ownOrder = kernel === 'amx' || kernel === 'avx512' || kernel === 'avx2';
          const same = ownOrder ? (x: Float32Array, y: Float32Array, what: string) => close(x, y, 1e-5, what) : identical;
          assert.ok(kernel !== 'amx' || ids.length > 8, 'the prompt is long enough for the AMX tiles');
          same(a.logits!.data, b.logits!.data, `${dir} prefill logits`);
          for (let l = 0; l < half.spec.nLayers; l++) same(a.cache.residPost(l).data, b.cache.residPost(l).data, `${dir} resid_post ${l}`);

          // a batch of more rows than any small-m kernel takes (6 prompts: the packed bf16 GEMM on avx512, AMX
          // tiles, widened tiles + sgemm elsewhere)
          const rows = Array.from({ length: 6 }, (_, r) => ({ tokens: ids.map((t, i) => (i === 0 ? t : (t + r) % half.spec.vocabSize)) }));
          assert.ok(rows.length * ids.length > (halfSmallRows('bf16') ?? 0), 'the batch has more rows than the small-m kernels take');
          const ba = half.forwardBatch(rows).logits!.data, bb = wide.forwardBatch(rows).logits!.data;
          if (backend === 'ts') identical(ba, bb, `${dir} batched prefill logits`);
          else close(ba, bb, 1e-5, `${dir} batched prefill logits`);

          // cached decoding: m = 1 linears (the GEMV path on blas)
          const ka = half.newKVCache(ids.length), kb = wide.newKVCache(ids.length);
          half.forward(ids.slice(0, 2), { kvCache: ka });
          wide.forward(ids.slice(0, 2), { kvCache: kb });
          for (let t = 2; t < ids.length; t++) {
            const sa = half.forward([ids[t]!], { kvCache: ka }).logits!.data;
            const sb = wide.forward([ids[t]!], { kvCache: kb }).logits!.data;
            if (backend === 'ts') identical(sa, sb, `${dir} decode step ${t}`);
            else close(sa, sb, 1e-5, `${dir} decode step ${t}`);
          }
        } finally {
          if (loaded) halfKernel(loaded as 'amx');
        }
      });
    }
  }
}

test('f16 checkpoints are f16-resident too and equal the float32 path (ts, bit for bit)', async () => {
  const path = rewrite('llama', 'F16');
  const half = await loadModel(path, { noTokenizer: true, backend: 'ts' });
  assert.equal(half.weights.layers[0]!.Wq.dtype, 'f16');
  const wide = new HookedModel(half.spec, widenModelWeights(half.weights), half.backend, null, half.info);
  const ids = GOLDEN_PROMPT('llama');
  identical(half.forward(ids).logits!.data, wide.forward(ids).logits!.data, 'f16 logits');
});

for (const [dtype, value, label] of [
  ['BF16', Number.NaN, 'NaN'],
  ['F32', Number.POSITIVE_INFINITY, 'Infinity'],
  ['F16', 1e6, 'Infinity'], // overflows f16 to +Inf when written
] as const) {
  test(`a ${dtype} checkpoint with a ${label} weight is rejected at load, naming the file and the tensor`, async () => {
    const path = rewrite('llama', dtype, { tensor: (names) => names.find((n) => n.endsWith('layers.1.mlp.down_proj.weight'))!, index: 37, value });
    await assert.rejects(
      loadModel(path, { noTokenizer: true, backend: 'ts' }),
      (e: Error) => {
        assert.match(e.message, new RegExp(`${join(path, 'model.safetensors').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
        assert.match(e.message, /tensor 'model\.layers\.1\.mlp\.down_proj\.weight'/);
        assert.match(e.message, new RegExp(`non-finite value \\(${label}\\) at element \\[0, 37\\]`));
        return true;
      },
    );
  });
}

test('plip logits on a checkpoint with a NaN weight exits 1 with the error, writing nothing', () => {
  const path = rewrite('llama', 'BF16', { tensor: (names) => names.find((n) => n === 'model.embed_tokens.weight')!, index: 5, value: Number.NaN });
  const out = join(tmpRoot, 'nan-logits.json');
  const r = spawnSync(process.execPath, ['bin/plip.mjs', 'logits', '--model', path, '--text', 'def f', '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 1, `exit status (stderr: ${r.stderr})`);
  assert.match(r.stderr, /tensor 'model\.embed_tokens\.weight' holds a non-finite value \(NaN\)/);
  assert.equal(existsSync(out), false);
});

test('writeRandomCheckpoint writes a loadable bf16 checkpoint one tensor at a time (the benchmarks use it)', async () => {
  const { writeRandomCheckpoint } = await import('../../src/model/random.ts');
  for (const dir of ['qwen2', 'gemma', 'llama']) {
    const out = mkdtempSync(join(tmpRoot, `random-${dir}-`));
    const bytes = writeRandomCheckpoint(`fixtures/tiny/${dir}`, out, { seed: 3, dtype: 'BF16' });
    const m = await loadModel(out, { noTokenizer: true, backend: 'ts' });
    assert.equal(m.weights.layers[0]!.Wq.dtype, 'bf16');
    // matrices 2 bytes per element as written; norms and biases (written as bf16) widened to 4
    const W = m.weights;
    let vecElems = (W.lnFinal.w.length + (W.lnFinal.b?.length ?? 0)) | 0;
    for (const l of W.layers) for (const v of [l.ln1.w, l.ln1.b, l.ln2?.w, l.ln2?.b, l.bq, l.bk, l.bv, l.bo, l.bgate, l.bin, l.bout]) vecElems += v?.length ?? 0;
    assert.equal(modelWeightBytes(W), bytes + 2 * vecElems);
    const logits = m.forward(GOLDEN_PROMPT(dir)).logits!.data;
    assert.ok(logits.every(Number.isFinite));
  }
  assert.throws(() => writeRandomCheckpoint('fixtures/tiny/gpt2', join(tmpRoot, 'random-gpt2')), /fused or transposed/);
});
