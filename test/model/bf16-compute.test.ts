/**
 * `--compute bf16`: bf16 weight products with activations rounded to bf16 (native/plip_bf16_dot.h, AVX512-BF16).
 *
 * Where the CPU has avx512_bf16:
 * - the kernel against an independent TypeScript reference (x rounded to bf16 by src/io/dtype.ts's
 *   round-to-nearest-even, products and sums in float64): within 1e-5 · Σ|x̃·w| per output, on shapes that cross
 *   every block edge (4 × 4 blocks, k below / across 32); a row's outputs equal bit for bit alone or batched;
 *   the mode is real (outputs differ from the float32-activation product, by no more than bf16 rounding of x);
 * - a bf16 checkpoint of every family's fixture loaded with compute 'bf16' against a ts-backend model whose
 *   weight products round their activations the same way: logits within 1e-4 · (1 + |logit|);
 * - the CLI: `plip logits --compute bf16` runs on the bundled (bf16) model and records `compute: "bf16"`;
 *   on a float32 checkpoint it exits 2 naming --compute.
 * - a study model entry with compute 'bf16' loads in that mode; with PLIP_BF16_COMPUTE=0 the CLI refuses it
 *   (exit 2, the reason on stderr), as on a CPU without the instructions.
 * Everywhere else: loading with compute 'bf16' (also a study model's) is refused with the reason (no silent
 * float32 run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { f32BitsToBf16 } from '../../src/io/dtype.ts';
import { PlipOptionError } from '../../src/io/errors.ts';
import { BUNDLED_MODEL, loadModel } from '../../src/model/load.ts';
import { HookedModel } from '../../src/model/model.ts';
import { bf16ComputeUnavailableReason, loadBlasBackend, nativeAddonPath } from '../../src/tensor/select.ts';
import { tsBackend } from '../../src/tensor/ts-backend.ts';
import type { MatmulBackend } from '../../src/tensor/backend.ts';
import { rewriteCheckpoint } from './fixture-copy.ts';
import { openStudyModel } from '../../src/study/run.ts';

const why = bf16ComputeUnavailableReason();
const tmpRoot = mkdtempSync(join(tmpdir(), 'plip-bf16c-'));
process.on('exit', () => rmSync(tmpRoot, { recursive: true, force: true }));
const INDEX = JSON.parse(readFileSync('fixtures/tiny/index.json', 'utf8')) as { models: Array<{ dir: string }> };

/** x rounded to bf16 (round to nearest even), as float32 values. */
function roundBf16(x: Float32Array): Float32Array {
  const bits = new Uint32Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  const out = new Uint32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f32BitsToBf16(bits[i]!) << 16;
  return new Float32Array(out.buffer);
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

interface Addon {
  linearBf16Compute(x: Float32Array, w: Uint16Array, kind: number, bias: Float32Array | null, m: number, k: number, n: number, out: Float32Array): void;
  linearHalf(x: Float32Array, w: Uint16Array, kind: number, bias: Float32Array | null, m: number, k: number, n: number, out: Float32Array): void;
}
// the addon the backend loaded (the same module instance: require caches by path)
const addon = (): Addon => (loadBlasBackend(), createRequire(import.meta.url)(nativeAddonPath()) as Addon);

if (why === null) {
  const SHAPES = [
    { m: 1, k: 1, n: 1 },
    { m: 1, k: 31, n: 5 },
    { m: 1, k: 896, n: 130 },
    { m: 2, k: 33, n: 7 },
    { m: 4, k: 64, n: 4 },
    { m: 5, k: 95, n: 9 },
    { m: 7, k: 32, n: 17 },
    { m: 13, k: 200, n: 31 },
    { m: 70, k: 127, n: 66 },
  ];
  for (const s of SHAPES) {
    for (const withBias of [false, true]) {
      test(`linearBf16Compute [${s.m}×${s.k}]·[${s.n}×${s.k}]ᵀ${withBias ? ' + bias' : ''} equals the bf16-rounded-activation product (float64 reference)`, () => {
        const r = rng(s.m * 7 + s.k * 131 + s.n * 17 + (withBias ? 1 : 0));
        const x = Float32Array.from({ length: s.m * s.k }, r);
        const w = Uint16Array.from({ length: s.n * s.k }, () => f32BitsToBf16(new Uint32Array(Float32Array.of(r()).buffer)[0]!));
        const wf = new Float32Array(new Uint32Array(Array.from(w, (h) => h << 16)).buffer);
        const bias = withBias ? Float32Array.from({ length: s.n }, r) : null;
        const got = new Float32Array(s.m * s.n);
        addon().linearBf16Compute(x, w, 0, bias, s.m, s.k, s.n, got);
        const xr = roundBf16(x);
        let differs = false;
        const f32 = new Float32Array(s.m * s.n);
        addon().linearHalf(x, w, 0, bias, s.m, s.k, s.n, f32);
        for (let i = 0; i < s.m; i++) {
          for (let j = 0; j < s.n; j++) {
            let ref = bias ? bias[j]! : 0, scale = bias ? Math.abs(bias[j]!) : 0, scaleX = scale;
            for (let p = 0; p < s.k; p++) {
              ref += xr[i * s.k + p]! * wf[j * s.k + p]!;
              scale += Math.abs(xr[i * s.k + p]! * wf[j * s.k + p]!);
              scaleX += Math.abs(x[i * s.k + p]! * wf[j * s.k + p]!);
            }
            const o = i * s.n + j;
            assert.ok(Math.abs(got[o]! - ref) <= 1e-5 * scale + 1e-30, `[${i}, ${j}]: ${got[o]} vs reference ${ref}`);
            // rounding x to bf16 moves each term by at most 2^-9 of it
            assert.ok(Math.abs(got[o]! - f32[o]!) <= 2 ** -8 * scaleX + 1e-30, `[${i}, ${j}]: ${got[o]} vs the float32 product ${f32[o]}`);
            if (got[o] !== f32[o]) differs = true;
          }
        }
        if (s.k >= 31) assert.ok(differs, 'bf16 activations change some output (the mode is not the float32 product)');
        // each row alone gives the same bits
        for (let i = 0; i < s.m; i++) {
          const one = new Float32Array(s.n);
          addon().linearBf16Compute(x.subarray(i * s.k, (i + 1) * s.k), w, 0, bias, 1, s.k, s.n, one);
          for (let j = 0; j < s.n; j++) assert.ok(Object.is(one[j], got[i * s.n + j]), `row ${i} alone vs batched, output ${j}`);
        }
      });
    }
  }

  test('linearBf16Compute refuses f16 weights and bad arguments', () => {
    const x = new Float32Array(4), out = new Float32Array(2);
    assert.throws(() => addon().linearBf16Compute(x, new Uint16Array(8), 1, null, 1, 4, 2, out), /kind must be 0/);
    assert.throws(() => addon().linearBf16Compute(x, new Uint16Array(7), 0, null, 1, 4, 2, out), /w16/);
    assert.throws(() => addon().linearBf16Compute(x, new Uint16Array(8), 0, null, 1, 4, 2, new Float32Array(1)), /out/);
  });

  /** The ts backend with the activations of every bf16 weight product rounded to bf16 first (the reference). */
  const roundingTs: MatmulBackend = {
    ...tsBackend,
    linearWeight: (x, w, bias, m, k, n, out) => tsBackend.linearWeight(w.dtype === 'bf16' ? roundBf16(x.subarray(0, m * k)) : x, w, bias, m, k, n, out),
  };

  for (const { dir } of INDEX.models) {
    test(`compute 'bf16' on a bf16 checkpoint of ${dir} equals the bf16-rounded-activation reference (ts backend)`, async () => {
      const path = rewriteCheckpoint(`fixtures/tiny/${dir}`, 'BF16', tmpRoot);
      const m = await loadModel(path, { noTokenizer: true, backend: 'blas', compute: 'bf16' });
      assert.equal(m.info.compute, 'bf16');
      const ref = new HookedModel(m.spec, m.weights, roundingTs, null, m.info);
      const plain = await loadModel(path, { noTokenizer: true, backend: 'blas' });
      assert.equal(plain.info.compute, undefined);
      const g = JSON.parse(readFileSync(`fixtures/tiny/${dir}/golden.json`, 'utf8')) as { prompts: number[][] };
      const ids = g.prompts[g.prompts.length - 1]!;
      const a = m.forward(ids).logits!.data, b = ref.forward(ids).logits!.data, c = plain.forward(ids).logits!.data;
      let maxRef = 0, maxF32 = 0;
      for (let i = 0; i < a.length; i++) {
        const d = Math.abs(a[i]! - b[i]!);
        assert.ok(d <= 1e-4 * (1 + Math.abs(b[i]!)), `${dir} logit ${i}: ${a[i]} vs reference ${b[i]}`);
        maxRef = Math.max(maxRef, d);
        maxF32 = Math.max(maxF32, Math.abs(a[i]! - c[i]!));
      }
      assert.ok(maxF32 > maxRef, `${dir}: the bf16 mode differs from the float32 path (max |Δ| ${maxF32}) more than from its reference (${maxRef})`);
    });
  }

  test("compute 'bf16' refuses a checkpoint whose matrices are not bf16", async () => {
    const path = rewriteCheckpoint('fixtures/tiny/llama', 'F32', tmpRoot);
    await assert.rejects(loadModel(path, { noTokenizer: true, backend: 'blas', compute: 'bf16' }), (e: Error) => e instanceof PlipOptionError && /bf16 checkpoint.*f32/.test(e.message));
    await assert.rejects(loadModel(path, { noTokenizer: true, backend: 'ts', compute: 'bf16' }), (e: Error) => e instanceof PlipOptionError && /blas backend/.test(e.message));
  });

  test('plip logits --compute bf16 runs on the bundled bf16 model and records it; on a float32 checkpoint it exits 2', () => {
    const out = join(tmpRoot, 'bf16-logits.json');
    const r = spawnSync(process.execPath, ['bin/plip.mjs', 'logits', '--model', BUNDLED_MODEL, '--compute', 'bf16', '--text', 'def f', '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(readFileSync(out, 'utf8')) as { model?: { compute?: string } };
    assert.equal(j.model?.compute, 'bf16');
    const f32 = rewriteCheckpoint(BUNDLED_MODEL, 'F32', tmpRoot);
    const out2 = join(tmpRoot, 'f32-logits.json');
    const r2 = spawnSync(process.execPath, ['bin/plip.mjs', 'logits', '--model', f32, '--compute', 'bf16', '--text', 'def f', '--out', out2], { encoding: 'utf8' });
    assert.equal(r2.status, 2, r2.stderr);
    assert.equal(existsSync(out2), false);
    assert.match(r2.stderr, /--compute/);
    assert.match(r2.stderr, /bf16 checkpoint/);
  });

  test('where bf16 compute is turned off (PLIP_BF16_COMPUTE=0) plip exits 2 with the reason, writing nothing', () => {
    const out = join(tmpRoot, 'off-logits.json');
    const r = spawnSync(process.execPath, ['bin/plip.mjs', 'logits', '--model', BUNDLED_MODEL, '--compute', 'bf16', '--text', 'def f', '--out', out], {
      encoding: 'utf8',
      env: { ...process.env, PLIP_BF16_COMPUTE: '0' },
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--compute: bf16 needs the native addon on a CPU with avx512_bf16: turned off by PLIP_BF16_COMPUTE=0/);
    assert.equal(existsSync(out), false);
  });

  test("a study model with compute 'bf16' loads in that mode; without it, in float32", async () => {
    const m = await openStudyModel({ id: 'tiny', path: BUNDLED_MODEL, compute: 'bf16' });
    assert.equal(m.info.compute, 'bf16');
    assert.equal((await openStudyModel({ id: 'tiny', path: BUNDLED_MODEL })).info.compute, undefined);
  });
} else {
  test("a study model with compute 'bf16' is refused here with the reason", async () => {
    await assert.rejects(openStudyModel({ id: 'tiny', path: BUNDLED_MODEL, compute: 'bf16' }), (e: Error) => e instanceof PlipOptionError && e.message.includes(why));
  });
  test(`compute 'bf16' is refused with the reason where it cannot run (${why})`, async () => {
    await assert.rejects(loadModel(BUNDLED_MODEL, { compute: 'bf16' }), (e: Error) => e instanceof PlipOptionError && e.message.includes(why));
  });
}
