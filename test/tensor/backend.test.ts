/**
 * Matmul backends: the TypeScript kernels against a naive float64 triple loop, and the OpenBLAS addon
 * against the TypeScript kernels.
 *
 * The BLAS tests never skip silently in CI: with CI=true an unloadable addon is a failure (with the
 * reason). Elsewhere they are skipped, with the reason printed, when the addon has not been built.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import type { MatmulBackend } from '../../src/tensor/backend.ts';
import { tsBackend } from '../../src/tensor/ts-backend.ts';
import {
  blasConfig,
  blasUnavailableReason,
  loadBlasBackend,
  nativeAddonPath,
  selectBackend,
  setBlasThreads,
} from '../../src/tensor/select.ts';

// ---------------------------------------------------------------------------------------------------
// helpers

/** Deterministic PRNG (mulberry32) so failures reproduce. */
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

function randArray(n: number, r: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale;
  return a;
}

/** A Float32Array view of `n` elements at a non-zero byteOffset inside a larger buffer, filled randomly. */
function offsetArray(n: number, r: () => number, offsetElems: number): Float32Array {
  const buf = new Float32Array(n + offsetElems + 3);
  buf.fill(Number.NaN); // anything read outside the view poisons the result
  const v = buf.subarray(offsetElems, offsetElems + n);
  for (let i = 0; i < n; i++) v[i] = r() * 2 - 1;
  return v;
}

function naiveLinear(x: Float32Array, w: Float32Array, bias: Float32Array | null, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += x[i * k + p]! * w[j * k + p]!;
      out[i * n + j] = s + (bias ? bias[j]! : 0);
    }
  }
  return out;
}

function naiveMatmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
      out[i * n + j] = s;
    }
  }
  return out;
}

/**
 * Asserts max |got - ref| <= relTol × max |ref| (tolerance relative to the reference's scale; an
 * all-zero reference requires |got| <= relTol × 1e-6). NaNs in `got` fail.
 */
function assertClose(got: ArrayLike<number>, ref: ArrayLike<number>, relTol: number, what: string): void {
  assert.equal(got.length >= ref.length, true, `${what}: output too short`);
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) maxRef = Math.max(maxRef, Math.abs(ref[i]!));
  let maxDiff = 0, at = -1;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i]! - ref[i]!);
    if (!(d <= maxDiff)) {
      maxDiff = Number.isNaN(d) ? Infinity : d;
      at = i;
    }
  }
  const tol = relTol * Math.max(maxRef, 1e-6);
  assert.ok(maxDiff <= tol, `${what}: max |diff| ${maxDiff} at ${at} (got ${got[at]}, want ${ref[at]}) > ${tol} (= ${relTol} × max|ref| ${maxRef})`);
}

interface Shape {
  m: number;
  k: number;
  n: number;
}
/** Covers: m = 1 (gemv), m / n not multiples of 4, m > 64 (row chunking), k odd, n = 1, tiny and empty. */
const SHAPES: Shape[] = [
  { m: 1, k: 1, n: 1 },
  { m: 1, k: 7, n: 1 },
  { m: 1, k: 33, n: 17 },
  { m: 1, k: 896, n: 130 },
  { m: 2, k: 5, n: 3 },
  { m: 3, k: 64, n: 4 },
  { m: 4, k: 8, n: 4 },
  { m: 5, k: 31, n: 9 },
  { m: 8, k: 127, n: 1 },
  { m: 17, k: 1, n: 23 },
  { m: 16, k: 64, n: 64 },
  { m: 70, k: 45, n: 38 },
  { m: 133, k: 19, n: 6 },
  { m: 32, k: 257, n: 67 },
  { m: 0, k: 5, n: 3 },
  { m: 3, k: 0, n: 5 },
  { m: 3, k: 5, n: 0 },
];

const fmt = (s: Shape) => `m=${s.m} k=${s.k} n=${s.n}`;

// ---------------------------------------------------------------------------------------------------
// TypeScript kernels vs naive triple loop

describe('ts backend vs naive triple loop', () => {
  test('linear, with and without bias', () => {
    const r = rng(1);
    for (const s of SHAPES) {
      for (const withBias of [false, true]) {
        const x = randArray(s.m * s.k, r), w = randArray(s.n * s.k, r);
        const bias = withBias ? randArray(s.n, r) : null;
        const out = new Float32Array(s.m * s.n).fill(Number.NaN);
        tsBackend.linear(x, w, bias, s.m, s.k, s.n, out);
        // float64 accumulation on both sides; only the float32 store differs
        assertClose(out, naiveLinear(x, w, bias, s.m, s.k, s.n), 1e-6, `linear ${fmt(s)} bias=${withBias}`);
      }
    }
  });

  test('matmul', () => {
    const r = rng(2);
    for (const s of SHAPES) {
      const a = randArray(s.m * s.k, r), b = randArray(s.k * s.n, r);
      const out = new Float32Array(s.m * s.n).fill(Number.NaN);
      tsBackend.matmul(a, b, s.m, s.k, s.n, out);
      assertClose(out, naiveMatmul(a, b, s.m, s.k, s.n), 1e-5, `matmul ${fmt(s)}`);
    }
  });

  test('matmul with causal-mask zeros in a', () => {
    const r = rng(3);
    const m = 9, k = 9, n = 5;
    const a = randArray(m * k, r);
    for (let i = 0; i < m; i++) for (let p = i + 1; p < k; p++) a[i * k + p] = 0;
    const b = randArray(k * n, r), out = new Float32Array(m * n);
    tsBackend.matmul(a, b, m, k, n, out);
    assertClose(out, naiveMatmul(a, b, m, k, n), 1e-5, 'masked matmul');
  });

  test('non-zero byteOffset views', () => {
    const r = rng(4);
    const m = 6, k = 13, n = 7;
    const x = offsetArray(m * k, r, 3), w = offsetArray(n * k, r, 5), bias = offsetArray(n, r, 1);
    const out = new Float32Array(m * n + 10).subarray(2, 2 + m * n);
    tsBackend.linear(x, w, bias, m, k, n, out);
    assertClose(out, naiveLinear(x, w, bias, m, k, n), 1e-6, 'linear offset views');
    const b = offsetArray(k * n, r, 9), out2 = new Float32Array(m * n);
    tsBackend.matmul(x, b, m, k, n, out2);
    assertClose(out2, naiveMatmul(x, b, m, k, n), 1e-5, 'matmul offset views');
  });

  test('selectBackend("ts")', () => {
    assert.equal(selectBackend('ts').name, 'ts');
  });
});

// ---------------------------------------------------------------------------------------------------
// OpenBLAS addon vs TypeScript kernels

const blas = loadBlasBackend();
const inCI = process.env.CI === 'true';
if (!blas && !inCI) console.log(`# skipping OpenBLAS backend tests: ${blasUnavailableReason()}`);

/** Registers a BLAS test: runs it when the addon loaded, fails it in CI otherwise, else skips with the reason. */
function blasTest(name: string, fn: (b: MatmulBackend) => void): void {
  if (blas) test(name, () => fn(blas));
  else if (inCI) test(name, () => assert.fail(`OpenBLAS addon is required in CI but unavailable: ${blasUnavailableReason()}`));
  else test(name, { skip: `OpenBLAS addon unavailable: ${blasUnavailableReason()}` }, () => {});
}

/** Raw addon, for argument-validation tests that bypass the typed wrapper. */
interface RawAddon {
  linear(...args: unknown[]): void;
  matmul(...args: unknown[]): void;
  config(): string;
  numThreads(): number;
}
function rawAddon(): RawAddon {
  return createRequire(import.meta.url)(nativeAddonPath()) as RawAddon;
}

const REL = 1e-5;

describe('blas backend vs ts backend', () => {
  blasTest('selectBackend picks blas for auto and blas', (b) => {
    assert.equal(b.name, 'blas');
    assert.equal(selectBackend('auto').name, 'blas');
    assert.equal(selectBackend('blas').name, 'blas');
  });

  blasTest('config() reports OpenBLAS, the core in use and threads', () => {
    const cfg = blasConfig();
    console.log(`# ${cfg}`);
    assert.match(cfg ?? '', /OpenBLAS .* \| core=\S+ \| threads=\d+$/);
    const core = process.env.OPENBLAS_CORETYPE;
    let avx512 = false;
    try {
      avx512 = /\bavx512f\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      /* not Linux */
    }
    // configureOpenblasCoretype() ran before the library loaded: with AVX-512 (and no user override)
    // it picked SkylakeX (overriding an inherited OPENBLAS_CORETYPE), and the loaded library must report the same core.
    if (avx512 && !process.env.PLIP_OPENBLAS_CORETYPE) assert.equal(core, 'SkylakeX', 'AVX-512 CPUs must get SkylakeX kernels, even when the environment pins Haswell');
    if (core) assert.match(cfg ?? '', new RegExp(`core=${core}\\b`, 'i'));
  });

  blasTest('linear across shapes, with and without bias', (b) => {
    const r = rng(11);
    for (const s of SHAPES) {
      for (const withBias of [false, true]) {
        const x = randArray(s.m * s.k, r), w = randArray(s.n * s.k, r);
        const bias = withBias ? randArray(s.n, r) : null;
        const ref = new Float32Array(s.m * s.n);
        tsBackend.linear(x, w, bias, s.m, s.k, s.n, ref);
        const out = new Float32Array(s.m * s.n).fill(Number.NaN); // NaN garbage must be overwritten
        b.linear(x, w, bias, s.m, s.k, s.n, out);
        assertClose(out, ref, REL, `blas linear ${fmt(s)} bias=${withBias}`);
      }
    }
  });

  blasTest('linear at model-like sizes (multithreaded gemm and gemv)', (b) => {
    const r = rng(12);
    for (const s of [{ m: 1, k: 896, n: 4864 }, { m: 37, k: 768, n: 301 }, { m: 128, k: 896, n: 96 }]) {
      const x = randArray(s.m * s.k, r), w = randArray(s.n * s.k, r, 0.05), bias = randArray(s.n, r);
      const ref = new Float32Array(s.m * s.n), out = new Float32Array(s.m * s.n);
      tsBackend.linear(x, w, bias, s.m, s.k, s.n, ref);
      b.linear(x, w, bias, s.m, s.k, s.n, out);
      assertClose(out, ref, REL, `blas linear ${fmt(s)}`);
    }
  });

  blasTest('matmul across shapes', (b) => {
    const r = rng(13);
    for (const s of [...SHAPES, { m: 64, k: 64, n: 128 }, { m: 1, k: 300, n: 64 }]) {
      const a = randArray(s.m * s.k, r), bb = randArray(s.k * s.n, r);
      const ref = new Float32Array(s.m * s.n), out = new Float32Array(s.m * s.n).fill(Number.NaN);
      tsBackend.matmul(a, bb, s.m, s.k, s.n, ref);
      b.matmul(a, bb, s.m, s.k, s.n, out);
      assertClose(out, ref, REL, `blas matmul ${fmt(s)}`);
    }
  });

  blasTest('non-zero byteOffset subarrays (zero-copy views)', (b) => {
    const r = rng(14);
    for (const s of [{ m: 1, k: 21, n: 11 }, { m: 5, k: 21, n: 11 }]) {
      const x = offsetArray(s.m * s.k, r, 3), w = offsetArray(s.n * s.k, r, 7), bias = offsetArray(s.n, r, 1);
      const outBuf = new Float32Array(s.m * s.n + 8).fill(-7);
      const out = outBuf.subarray(4, 4 + s.m * s.n);
      const ref = new Float32Array(s.m * s.n);
      tsBackend.linear(x, w, bias, s.m, s.k, s.n, ref);
      b.linear(x, w, bias, s.m, s.k, s.n, out);
      assertClose(out, ref, REL, `blas linear offset ${fmt(s)}`);
      // nothing written outside the out view
      for (const i of [0, 1, 2, 3, outBuf.length - 4, outBuf.length - 1]) assert.equal(outBuf[i], -7, `wrote outside out at ${i}`);

      const bb = offsetArray(s.k * s.n, r, 5);
      const ref2 = new Float32Array(s.m * s.n), out2 = new Float32Array(s.m * s.n + 2).subarray(1, 1 + s.m * s.n);
      tsBackend.matmul(x, bb, s.m, s.k, s.n, ref2);
      b.matmul(x, bb, s.m, s.k, s.n, out2);
      assertClose(out2, ref2, REL, `blas matmul offset ${fmt(s)}`);
    }
  });

  blasTest('longer arrays than needed are fine (only the implied prefix is used)', (b) => {
    const r = rng(15);
    const m = 3, k = 4, n = 5;
    const x = randArray(m * k + 10, r), w = randArray(n * k + 10, r), out = new Float32Array(m * n + 10).fill(9);
    const ref = new Float32Array(m * n);
    tsBackend.linear(x, w, null, m, k, n, ref);
    b.linear(x, w, null, m, k, n, out);
    assertClose(out.subarray(0, m * n), ref, REL, 'prefix');
    assert.deepEqual([...out.subarray(m * n)], new Array(10).fill(9));
  });

  blasTest('setBlasThreads changes the thread count and results stay the same', (b) => {
    const before = rawAddon().numThreads();
    try {
      assert.equal(setBlasThreads(1), 1);
      const r = rng(16);
      const m = 64, k = 200, n = 120;
      const x = randArray(m * k, r), w = randArray(n * k, r);
      const ref = new Float32Array(m * n), out = new Float32Array(m * n);
      tsBackend.linear(x, w, null, m, k, n, ref);
      b.linear(x, w, null, m, k, n, out);
      assertClose(out, ref, REL, 'single-threaded');
    } finally {
      setBlasThreads(before);
    }
    assert.equal(rawAddon().numThreads(), before);
  });

  blasTest('argument validation: types', () => {
    const a = rawAddon();
    const f = (n: number) => new Float32Array(n);
    assert.throws(() => a.linear(new Float64Array(4), f(4), null, 2, 2, 2, f(4)), { name: 'TypeError', message: /linear: argument 'x' must be a Float32Array/ });
    assert.throws(() => a.linear(f(4), [1, 2, 3, 4], null, 2, 2, 2, f(4)), { name: 'TypeError', message: /'w' must be a Float32Array/ });
    assert.throws(() => a.linear(f(4), f(4), new Int32Array(2), 2, 2, 2, f(4)), { name: 'TypeError', message: /'bias' must be a Float32Array/ });
    assert.throws(() => a.linear(f(4), f(4), null, 2, 2, 2, new Uint8Array(16)), { name: 'TypeError', message: /'out' must be a Float32Array/ });
    assert.throws(() => a.linear(f(4), f(4), null, '2', 2, 2, f(4)), { name: 'TypeError', message: /dimension 'm' must be a number/ });
    assert.throws(() => a.linear(f(4), f(4), null, 2, 2), { name: 'TypeError', message: /expected 7 arguments/ });
    assert.throws(() => a.matmul(f(4), f(4), 2, 2, 2), { name: 'TypeError', message: /matmul: expected 6 arguments/ });
    assert.throws(() => a.matmul(f(4), new DataView(new ArrayBuffer(16)), 2, 2, 2, f(4)), { name: 'TypeError', message: /'b' must be a Float32Array/ });
    // undefined bias is accepted like null
    const out = f(1);
    a.linear(new Float32Array([1, 2]), new Float32Array([3, 4]), undefined, 1, 2, 1, out);
    assert.equal(out[0], 11);
  });

  blasTest('argument validation: dimensions and lengths (never reads out of bounds)', () => {
    const a = rawAddon();
    const f = (n: number) => new Float32Array(n);
    assert.throws(() => a.linear(f(4), f(4), null, -1, 2, 2, f(4)), { name: 'RangeError', message: /'m' must be in \[0, 2147483647\]/ });
    assert.throws(() => a.linear(f(4), f(4), null, 2, 1.5, 2, f(4)), { name: 'RangeError', message: /'k' must be a finite integer/ });
    assert.throws(() => a.linear(f(4), f(4), null, 2, 2, Number.NaN, f(4)), { name: 'RangeError', message: /'n' must be a finite integer/ });
    assert.throws(() => a.linear(f(4), f(4), null, 2 ** 31, 1, 1, f(4)), { name: 'RangeError', message: /'m' must be in/ });
    assert.throws(() => a.linear(f(3), f(4), null, 2, 2, 2, f(4)), { name: 'RangeError', message: /'x' has 3 elements but m\*k needs 4/ });
    assert.throws(() => a.linear(f(4), f(5), null, 2, 2, 3, f(6)), { name: 'RangeError', message: /'w' has 5 elements but n\*k needs 6/ });
    assert.throws(() => a.linear(f(4), f(4), f(1), 2, 2, 2, f(4)), { name: 'RangeError', message: /'bias' has 1 elements but n needs 2/ });
    assert.throws(() => a.linear(f(4), f(4), null, 2, 2, 2, f(3)), { name: 'RangeError', message: /'out' has 3 elements but m\*n needs 4/ });
    // huge dims whose product overflows 32 bits must still be caught by the length check
    assert.throws(() => a.linear(f(4), f(4), null, 65536, 65536, 1, f(4)), { name: 'RangeError', message: /'x' has 4 elements but m\*k needs 4294967296/ });
    assert.throws(() => a.matmul(f(6), f(6), 2, 3, 2, f(3)), { name: 'RangeError', message: /'out' has 3 elements but m\*n needs 4/ });
    assert.throws(() => a.matmul(f(6), f(5), 2, 3, 2, f(4)), { name: 'RangeError', message: /'b' has 5 elements but k\*n needs 6/ });
    // a subarray's length, not its buffer's, is what counts
    const big = f(100);
    assert.throws(() => a.linear(big.subarray(97), f(4), null, 2, 2, 2, f(4)), { name: 'RangeError', message: /'x' has 3 elements/ });
  });

  blasTest('argument validation: out must not overlap inputs', () => {
    const a = rawAddon();
    const buf = new Float32Array(64);
    assert.throws(() => a.linear(buf.subarray(0, 8), new Float32Array(8), null, 2, 4, 2, buf.subarray(6, 10)), { name: 'RangeError', message: /'out' must not overlap 'x'/ });
    const w = new Float32Array(8);
    assert.throws(() => a.linear(new Float32Array(8), w, null, 2, 4, 2, w.subarray(0, 4)), { name: 'RangeError', message: /overlap 'w'/ });
    assert.throws(() => a.linear(new Float32Array(8), new Float32Array(8), buf.subarray(0, 2), 2, 4, 2, buf.subarray(1, 5)), { name: 'RangeError', message: /overlap 'bias'/ });
    assert.throws(() => a.matmul(buf.subarray(0, 4), new Float32Array(4), 2, 2, 2, buf.subarray(3, 7)), { name: 'RangeError', message: /overlap 'a'/ });
    // adjacent (touching, not overlapping) views are fine
    const x = buf.subarray(0, 8), out = buf.subarray(8, 12);
    x.set([1, 0, 0, 0, 0, 1, 0, 0]);
    a.linear(x, new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), null, 2, 4, 2, out);
    assert.deepEqual([...out], [1, 5, 2, 6]);
  });
});
