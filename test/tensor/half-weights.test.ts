/**
 * Half-precision weights (bf16 / f16 kept as stored): `linearWeight` on both backends against `linear` on
 * the exact float32 widening of the same weights.
 *
 * - ts: bit-identical on every shape (including tile edges).
 * - blas, m > 1: bit-identical (widened tiles go through the same sgemm) where the BLAS's own sgemm is
 *   split-invariant (probed below: OpenBLAS SkylakeX yes, Haswell/Zen no); elsewhere the GEMV's bound.
 * - blas, m = 1: the direct bf16/f16 GEMV; float32 summation order differs from sgemv, so the bound is
 *   |Δ| ≤ 1e-5 · Σ|x·w| per output (the float32 rounding bound of a length-k sum is ~k·2⁻²⁴ · Σ|x·w|).
 * - blas avx512 / avx2 kernels, bf16, m > 64 / m > 32: the packed bf16 GEMM (float32 sums in its own order,
 *   fixed by k): the GEMV's bound, and each output's bits independent of the other rows of x and of how w is split.
 * - blas amx kernel, bf16, m > 8: AMX tiles on x split exactly into three bf16 terms; the products are exact,
 *   the sums float32 in AMX's order, so the bound is the GEMV's (and non-finite outputs match).
 * Every native kernel set the CPU can run (AMX, AVX-512, AVX2+FMA+F16C, portable C++) is exercised.
 * With CI=true an unloadable addon is a failure, as in backend.test.ts.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { tsBackend } from '../../src/tensor/ts-backend.ts';
import { blasUnavailableReason, halfKernel, halfSmallRows, loadBlasBackend, type HalfKernelName } from '../../src/tensor/select.ts';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { f32Weight, firstNonFinite, halfWeight, widenWeight, weightSubarray, type WeightArray } from '../../src/tensor/weight.ts';
import { f32BitsToBf16, f32BitsToF16 } from '../../src/io/dtype.ts';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randF32(n: number, r: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale;
  return a;
}

/** Random half weights: values in [-1, 1] with a spread of exponents, plus some subnormals and zeros. */
function randHalf(dtype: 'bf16' | 'f16', n: number, r: () => number): WeightArray {
  const bits = new Uint16Array(n);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const narrow = dtype === 'bf16' ? f32BitsToBf16 : f32BitsToF16;
  for (let i = 0; i < n; i++) {
    const c = r();
    // zeros, tiny values, bf16 subnormals (f16: zero), and a spread of exponents
    f[0] = c < 0.02 ? 0 : c < 0.04 ? (r() - 0.5) * 1e-7 : c < 0.05 ? (r() - 0.5) * 1e-38 : (r() * 2 - 1) * 2 ** -Math.floor(r() * 8);
    bits[i] = narrow(u[0]!);
  }
  return halfWeight(dtype, bits);
}

interface Shape {
  m: number;
  k: number;
  n: number;
}
const SHAPES: Shape[] = [
  { m: 1, k: 1, n: 1 },
  { m: 1, k: 17, n: 5 },
  { m: 1, k: 33, n: 130 },
  { m: 1, k: 896, n: 700 },
  { m: 1, k: 1000, n: 3 },
  { m: 2, k: 5, n: 3 },
  { m: 3, k: 64, n: 4 },
  { m: 5, k: 31, n: 9 },
  { m: 7, k: 1, n: 23 },
  { m: 16, k: 64, n: 1001 },
  { m: 70, k: 45, n: 38 },
  // the avx2 small-m kernel's edges: 3-row blocks of x and of w with every remainder, k below / across 16
  { m: 4, k: 15, n: 7 },
  { m: 8, k: 47, n: 131 },
  { m: 31, k: 33, n: 65 },
  { m: 32, k: 896, n: 200 },
  { m: 3, k: 300, n: 3500 },
  // the avx512 bf16 kernel's edges: 4-row blocks of x and of w with every remainder, k below / across 32
  { m: 6, k: 65, n: 11 },
  { m: 13, k: 95, n: 10 },
  { m: 27, k: 32, n: 6 },
  { m: 0, k: 5, n: 3 },
  { m: 3, k: 0, n: 5 },
  { m: 3, k: 5, n: 0 },
];
/**
 * Shapes where the native path splits w into several tiles (bit-equality across tile edges); [33×64]·[20000×64]ᵀ
 * and [130×1100]·[1000×1100]ᵀ have enough tiles for the parallel path (each pool thread widens its tiles,
 * single-threaded sgemm).
 */
const TILED: Shape[] = [
  { m: 16, k: 512, n: 20000 },
  { m: 4, k: 896, n: 12000 },
  { m: 2, k: 896, n: 3000 },
  { m: 9, k: 512, n: 2500 },
  { m: 33, k: 64, n: 20000 },
  { m: 130, k: 1100, n: 1000 },
  // the packed bf16 GEMM's edges (more than 64 rows; avx2 from 33): k under one 16-weight block, k a multiple
  // of its 256-weight runs, a lone row in the last 12-row strip (avx2: 6), n one past a 32-row panel (avx2: 16)
  { m: 77, k: 7, n: 45 },
  { m: 65, k: 256, n: 33 },
  { m: 97, k: 529, n: 64 },
];

function identical(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.fail(`${what}: element ${i} differs: ${a[i]} vs ${b[i]}`);
  }
}

function run(B: typeof tsBackend, x: Float32Array, w: WeightArray, bias: Float32Array | null, s: Shape): Float32Array {
  const out = new Float32Array(s.m * s.n).fill(Number.NaN); // every element must be written
  B.linearWeight(x, w, bias, s.m, s.k, s.n, out);
  return out;
}

describe('ts backend: half weights equal the float32 path bit for bit', () => {
  for (const dtype of ['bf16', 'f16'] as const) {
    for (const s of [...SHAPES, { m: 2, k: 700, n: 203 }, { m: 65, k: 90, n: 777 }]) {
      for (const withBias of [false, true]) {
        test(`${dtype} [${s.m}×${s.k}]·[${s.n}×${s.k}]ᵀ${withBias ? ' + bias' : ''}`, () => {
          const r = rng(s.m * 7919 + s.k * 31 + s.n);
          const x = randF32(s.m * s.k, r);
          const w = randHalf(dtype, s.n * s.k, r);
          const bias = withBias ? randF32(s.n, r) : null;
          const want = new Float32Array(s.m * s.n);
          tsBackend.linear(x, widenWeight(w), bias, s.m, s.k, s.n, want);
          identical(run(tsBackend, x, w, bias, s), want, 'ts half vs ts f32');
        });
      }
    }
  }
  test('an f32 weight goes through linear unchanged; a zero-copy subarray view works', () => {
    const r = rng(5);
    const x = randF32(3 * 8, r);
    const wf = randF32(6 * 8, r);
    const a = new Float32Array(3 * 6), b = new Float32Array(3 * 6);
    tsBackend.linear(x, wf, null, 3, 8, 6, a);
    tsBackend.linearWeight(x, f32Weight(wf), null, 3, 8, 6, b);
    identical(a, b, 'f32 weight');
    const big = randHalf('bf16', 10 * 8, r);
    const view = weightSubarray(big, 2 * 8, 8 * 8);
    const c = new Float32Array(3 * 6), d = new Float32Array(3 * 6);
    tsBackend.linearWeight(x, view, null, 3, 8, 6, c);
    tsBackend.linear(x, widenWeight(big).subarray(16, 64), null, 3, 8, 6, d);
    identical(c, d, 'subarray view');
  });
  test('a weight shorter than n·k is an error, not an out-of-bounds read', () => {
    assert.throws(() => tsBackend.linearWeight(new Float32Array(4), halfWeight('bf16', new Uint16Array(7)), null, 1, 4, 2, new Float32Array(2)), /n\*k/);
  });
});

describe('firstNonFinite', () => {
  test('finds NaN and ±Inf in f32, bf16 and f16 data at any position (odd offsets too)', () => {
    for (const pos of [0, 1, 2, 5, 6, 9]) {
      const f = new Float32Array(10).fill(0.5);
      f[pos] = pos % 2 ? Number.NaN : -Infinity;
      assert.equal(firstNonFinite(f, 'f32'), pos);
      const b = new Uint16Array(10).fill(0x3f00);
      b[pos] = pos % 2 ? 0x7fc0 : 0xff80;
      assert.equal(firstNonFinite(b, 'bf16'), pos);
      assert.equal(firstNonFinite(b.subarray(1), 'bf16'), pos - 1 >= 0 ? pos - 1 : -1);
      const h = new Uint16Array(10).fill(0x3c00);
      h[pos] = pos % 2 ? 0x7e00 : 0x7c00;
      assert.equal(firstNonFinite(h, 'f16'), pos);
    }
    assert.equal(firstNonFinite(new Uint16Array([0x7f7f, 0xff7f, 0x0001]), 'bf16'), -1, 'largest finite bf16 values and subnormals are finite');
    assert.equal(firstNonFinite(new Uint16Array([0x7bff, 0xfbff]), 'f16'), -1, 'largest finite f16 values are finite');
    assert.equal(firstNonFinite(new Float32Array([3.4e38, -3.4e38, 1e-45]), 'f32'), -1);
  });
});

const blas = loadBlasBackend();
const inCI = process.env.CI === 'true';
function blasTest(name: string, fn: () => void): void {
  if (blas) test(name, fn);
  else if (inCI) test(name, () => assert.fail(`OpenBLAS addon must load in CI: ${blasUnavailableReason()}`));
  else test(name, { skip: `OpenBLAS addon unavailable: ${blasUnavailableReason()}` }, () => {});
}

// every kernel this CPU can run, best first: the addon must pick the first at load
const cpuFlags = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
const has = (f: string): boolean => new RegExp(`\\b${f}\\b`).test(cpuFlags);
const kernels: HalfKernelName[] = [];
const avx512 = process.arch === 'x64' && has('avx512f') && has('avx512bw') && has('avx512vl') && has('f16c');
// AMX also needs Linux ≥ 5.16 to grant the tile state (arch_prctl ARCH_REQ_XCOMP_PERM)
const [kMajor = 0, kMinor = 0] = release().split('.').map(Number);
if (avx512 && has('amx_tile') && has('amx_bf16') && process.platform === 'linux' && (kMajor > 5 || (kMajor === 5 && kMinor >= 16))) kernels.push('amx');
if (process.arch === 'x64' && has('avx512f') && has('avx512bw') && has('avx512vl') && has('f16c')) kernels.push('avx512');
if (process.arch === 'x64' && has('avx2') && has('fma') && has('f16c')) kernels.push('avx2');
kernels.push('portable');

blasTest('the addon picks the best half-precision kernel this CPU supports, and refuses one it lacks', () => {
  assert.equal(halfKernel(), kernels[0], `/proc/cpuinfo supports ${kernels.join(', ')}`);
  for (const k of ['amx', 'avx512', 'avx2'] as const) {
    if (!kernels.includes(k)) assert.throws(() => halfKernel(k), /this CPU lacks/);
  }
  assert.equal(halfKernel(), kernels[0], 'a refused selection leaves the kernel unchanged');
});

blasTest('each kernel reports the small-m row limit native/README.md documents', () => {
  const want: Record<string, [number, number]> = { amx: [8, 8], avx512: [64, 8], avx2: [32, 0], portable: [0, 0] };
  try {
    for (const k of kernels) {
      halfKernel(k);
      assert.deepEqual([halfSmallRows('bf16'), halfSmallRows('f16')], want[k], `${k}: [bf16, f16] rows`);
    }
  } finally {
    halfKernel(kernels[0]);
  }
});

/**
 * Whether this BLAS's own float32 sgemm gives the same bits when the rows of w are split into tiles (or
 * over a different thread count). OpenBLAS's SkylakeX kernels do; its Haswell/Zen kernels do not (their
 * edge micro-kernels sum in another order, so even the float32 path changes with OPENBLAS_NUM_THREADS).
 * Where it holds, the widened-tile path must be bit-identical to the float32 path; elsewhere it is held
 * to the float32 rounding bound, like the GEMV.
 */
const sgemmSplitInvariant = ((): boolean => {
  if (!blas) return false;
  const r = rng(4242);
  const m = 130, k = 1100, n = 1000, tile = 333;
  const x = randF32(m * k, r), w = randF32(n * k, r);
  const whole = new Float32Array(m * n);
  blas.linear(x, w, null, m, k, n, whole);
  for (let j0 = 0; j0 < n; j0 += tile) {
    const nb = Math.min(tile, n - j0);
    const t = new Float32Array(m * nb);
    blas.linear(x, w.subarray(j0 * k, (j0 + nb) * k), null, m, k, nb, t);
    for (let i = 0; i < m; i++) for (let j = 0; j < nb; j++) if (!Object.is(t[i * nb + j], whole[i * n + j0 + j])) return false;
  }
  return true;
})();

/**
 * Products with at most this many rows take the selected kernel's small-m path (the addon says: avx512 32 rows
 * of bf16 and 8 of f16, amx 8, each row bit for bit the GEMV on it; avx2 32 rows of bf16, register-blocked in
 * its own order; none for avx2 f16).
 */
const smallRows = (dtype: 'bf16' | 'f16'): number => halfSmallRows(dtype) ?? 0;

/** |got − want| ≤ 1e-5 · (|bias| + Σ_p |x·w|) per output: the float32 rounding bound of a length-k sum. */
function withinRounding(got: Float32Array, want: Float32Array, x: Float32Array, wf: Float32Array, bias: Float32Array | null, s: Shape, what: string): void {
  for (let i = 0; i < s.m; i++) {
    for (let j = 0; j < s.n; j++) {
      let scale = bias ? Math.abs(bias[j]!) : 0;
      for (let p = 0; p < s.k; p++) scale += Math.abs(x[i * s.k + p]! * wf[j * s.k + p]!);
      const o = i * s.n + j;
      const d = Math.abs(got[o]! - want[o]!);
      assert.ok(d <= 1e-5 * scale + 1e-30, `${what}: output [${i}, ${j}]: |${got[o]} - ${want[o]}| = ${d} > 1e-5 · Σ|x·w| = ${1e-5 * scale}`);
    }
  }
}

/**
 * The packed bf16 GEMM (native/plip_bf16_gemm.h) sums each output in an order fixed by k alone: the outputs of a
 * row are the same bits without the first row of x (other strips of 12 rows) and without the first 33 rows of
 * w (other panels of 32 and another split over the pool).
 */
function packedOrderIndependent(x: Float32Array, w: WeightArray, bias: Float32Array | null, s: Shape, got: Float32Array): void {
  if (s.m - 1 > smallRows('bf16')) {
    const rest = run(blas!, x.subarray(s.k), w, bias, { ...s, m: s.m - 1 });
    identical(rest, got.subarray(s.n), 'rows 1.. of x alone vs with row 0');
  }
  const j0 = 33;
  if (s.n > j0) {
    const part = run(blas!, x, weightSubarray(w, j0 * s.k, s.n * s.k), bias?.subarray(j0) ?? null, { ...s, n: s.n - j0 });
    for (let i = 0; i < s.m; i++) identical(part.subarray(i * (s.n - j0), (i + 1) * (s.n - j0)), got.subarray(i * s.n + j0, (i + 1) * s.n), `row ${i}: rows ${j0}.. of w alone vs all of w`);
  }
}

describe('blas backend: half weights vs the float32 path', () => {
  for (const kernel of kernels) {
    for (const dtype of ['bf16', 'f16'] as const) {
      for (const s of [...SHAPES, ...TILED]) {
        for (const withBias of [false, true]) {
          blasTest(`${kernel} ${dtype} [${s.m}×${s.k}]·[${s.n}×${s.k}]ᵀ${withBias ? ' + bias' : ''}`, () => {
            halfKernel(kernel);
            try {
              const r = rng(s.m * 131 + s.k * 17 + s.n * 3 + (withBias ? 1 : 0));
              const x = randF32(s.m * s.k, r);
              const w = randHalf(dtype, s.n * s.k, r);
              const wf = widenWeight(w);
              const bias = withBias ? randF32(s.n, r) : null;
              const want = new Float32Array(s.m * s.n);
              blas!.linear(x, wf, bias, s.m, s.k, s.n, want);
              const got = run(blas!, x, w, bias, s);
              if (s.m > 1 && s.m <= smallRows(dtype) && kernel === 'avx512') {
                // a few rows take the GEMV kernel row by row, bit for bit: a sequence decodes alike alone or batched
                for (let i = 0; i < s.m; i++) {
                  const one = run(blas!, x.subarray(i * s.k, (i + 1) * s.k), w, bias, { m: 1, k: s.k, n: s.n });
                  identical(got.subarray(i * s.n, (i + 1) * s.n), one, `row ${i}: the small-m kernel vs the GEMV on that row`);
                }
                return withinRounding(got, want, x, wf, bias, s, 'small-m kernel');
              }
              if (kernel === 'avx2' && s.m > 1 && s.m <= smallRows(dtype)) return withinRounding(got, want, x, wf, bias, s, 'avx2 small-m kernel');
              if (kernel === 'amx' && dtype === 'bf16' && s.m > smallRows(dtype)) return withinRounding(got, want, x, wf, bias, s, 'amx tiles');
              if ((kernel === 'avx512' || kernel === 'avx2') && dtype === 'bf16' && s.m > smallRows(dtype)) {
                packedOrderIndependent(x, w, bias, s, got);
                return withinRounding(got, want, x, wf, bias, s, 'packed bf16 GEMM');
              }
              if (s.m !== 1 && sgemmSplitInvariant) return identical(got, want, 'sgemm on widened tiles vs sgemm on the widened matrix');
              withinRounding(got, want, x, wf, bias, s, s.m === 1 ? 'gemv' : 'sgemm on widened tiles (this BLAS is not split-invariant)');
            } finally {
              halfKernel(kernels[0]);
            }
          });
        }
      }
    }
  }
  blasTest('argument validation: wrong array types, short arrays, overlap, bad kind', () => {
    const x = new Float32Array(4), out = new Float32Array(2);
    const w = halfWeight('bf16', new Uint16Array(8));
    assert.throws(() => blas!.linearWeight(x, halfWeight('bf16', new Uint16Array(7)), null, 1, 4, 2, out), /w16/);
    assert.throws(() => blas!.linearWeight(x, w, null, 1, 4, 2, new Float32Array(1)), /out/);
    assert.throws(() => blas!.linearWeight(x, w, new Float32Array(1), 1, 4, 2, out), /bias/);
    assert.throws(() => blas!.linearWeight(x, { dtype: 'bf16', data: new Float32Array(8) as unknown as Uint16Array }, null, 1, 4, 2, out), /Uint16Array/);
    const shared = new Float32Array(16);
    const u16 = new Uint16Array(shared.buffer, 0, 8);
    assert.throws(() => blas!.linearWeight(x, halfWeight('bf16', u16), null, 1, 4, 2, shared.subarray(2, 4)), /overlap/);
    assert.throws(() => halfKernel('sse9' as 'portable'), /expected/);
  });
  for (const kernel of (['amx', 'avx512', 'avx2'] as const).filter((k) => kernels.includes(k))) {
    // more rows than the small-m kernels take: AMX tiles, or the packed bf16 GEMM (avx512, avx2)
    blasTest(`${kernel}: non-finite activations give the non-finite outputs of the float32 path`, () => {
      halfKernel(kernel);
      try {
        const r = rng(7);
        const s = { m: 70, k: 70, n: 40 };
        const x = randF32(s.m * s.k, r);
        x[3] = Infinity;
        x[s.k * 5 + 9] = -Infinity;
        x[s.k * 11 + 1] = Number.NaN;
        x[s.k * 17 + 2] = Infinity;
        x[s.k * 17 + 3] = -Infinity;
        // normal weights only: AMX reads bf16 subnormals as zero, so ±Inf times one is NaN there (±Inf in float32)
        const wb = new Uint16Array(s.n * s.k);
        const f = new Float32Array(randF32(s.n * s.k, r).map((v) => v + Math.sign(v) * 0.01));
        const u = new Uint32Array(f.buffer);
        for (let i = 0; i < wb.length; i++) wb[i] = f32BitsToBf16(u[i]!);
        const w = halfWeight('bf16', wb);
        const want = new Float32Array(s.m * s.n);
        blas!.linear(x, widenWeight(w), null, s.m, s.k, s.n, want);
        const got = run(blas!, x, w, null, s);
        let nonFinite = 0;
        for (let i = 0; i < want.length; i++) {
          if (Number.isFinite(want[i]!)) assert.ok(Number.isFinite(got[i]!), `output ${i}: ${got[i]} where the float32 path has ${want[i]}`);
          else (nonFinite++, assert.ok(Object.is(got[i], want[i]), `output ${i}: ${got[i]} vs ${want[i]}`));
        }
        assert.equal(nonFinite, 4 * s.n, 'rows 0, 5, 11 and 17 are non-finite');
      } finally {
        halfKernel(kernels[0]);
      }
    });
  }
  blasTest('repeated GEMV calls on the worker pool give identical results (no race)', () => {
    const r = rng(99);
    const k = 512, n = 4096;
    const x = randF32(k, r);
    const w = randHalf('bf16', n * k, r);
    const first = run(blas!, x, w, null, { m: 1, k, n });
    for (let i = 0; i < 20; i++) identical(run(blas!, x, w, null, { m: 1, k, n }), first, `call ${i}`);
  });
});
