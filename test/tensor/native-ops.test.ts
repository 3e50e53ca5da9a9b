/**
 * The addon's elementwise ops (native/plip_ops.cc) against the TypeScript ops (src/model/ops.ts), which are
 * the reference: within a few float32 ulps on random data over the whole range an activation or score takes,
 * −∞ scores give exactly 0, NaN propagates (never clamped to a finite value), and a whole forward pass with
 * them equals the TypeScript-ops pass on every family's fixture (≤ 1e-5). Needs the addon and avx512f or
 * avx2+fma: both are part of this project's machines (scripts/setup.sh builds the addon; the test says why
 * when absent). The kernels for the widest ISA the CPU has are the ones tested.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadBlasBackend, blasUnavailableReason, blasOpsIsa } from '../../src/tensor/select.ts';
import { activate, softmaxRow } from '../../src/model/ops.ts';
import { loadModel } from '../../src/model/load.ts';
import { HookedModel } from '../../src/model/model.ts';
import type { MatmulBackend } from '../../src/tensor/backend.ts';

const blas = loadBlasBackend();
const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
const cpuHasAvx512 = /\bavx512f\b/.test(cpuinfo);
const cpuHasAvx2 = /\bavx2\b/.test(cpuinfo) && /\bfma\b/.test(cpuinfo);

function firstBitDiff(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return a.length === b.length ? -1 : Math.min(a.length, b.length);
}

function ops() {
  assert.ok(blas, `the OpenBLAS addon is required here: ${blasUnavailableReason()}`);
  if (!cpuHasAvx512 && !cpuHasAvx2) {
    assert.equal(blas.ops, undefined, 'neither avx512f nor avx2+fma: the native ops must stay off');
    return null;
  }
  assert.ok(blas.ops, 'avx512f or avx2+fma CPU: the addon provides the native ops');
  return blas.ops;
}

test('the native ops use the widest ISA the CPU has', () => {
  assert.ok(blas, `the OpenBLAS addon is required here: ${blasUnavailableReason()}`);
  assert.equal(blasOpsIsa(), cpuHasAvx512 ? 'avx512' : cpuHasAvx2 ? 'avx2' : 'none');
});

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Max |a − b| relative to max(|b|, floor). */
function relDiff(a: Float32Array, b: Float32Array, floor: number): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(b[i]!)) assert.ok(Number.isNaN(a[i]!), `index ${i}: NaN expected, got ${a[i]}`);
    else d = Math.max(d, Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), floor));
  }
  return d;
}

test('native activate (SiLU, tanh-GELU) equals the TypeScript op (≤ 4e-7 / 3e-6 relative), non-finite inputs as in TypeScript', () => {
  const o = ops();
  if (!o) return;
  const r = rng(1);
  for (const kind of ['silu', 'gelu_tanh'] as const) {
    const x = Float32Array.from({ length: 10_007 }, (_, i) => (i < 8 ? [0, -0, 1e-30, -1e-30, 90, -90, 1e4, -1e4][i]! : (r() - 0.5) * 40));
    x[20] = NaN;
    x[21] = Infinity;
    x[22] = -Infinity;
    const ref = x.slice(), got = x.slice();
    activate(ref, ref.length, kind);
    o.activate(got, got.length, kind);
    assert.ok(Number.isNaN(got[20]!), `${kind}: NaN stays NaN`);
    // the non-finite inputs: compare what the TS op gives
    for (const i of [21, 22]) assert.ok(Object.is(got[i], ref[i]) || (Number.isNaN(got[i]!) && Number.isNaN(ref[i]!)), `${kind}(${x[i]}): ${got[i]} vs ${ref[i]}`);
    const fin = (a: Float32Array) => a.filter((_, i) => i < 20 || i > 22);
    // relative above 1e-6 (below it, clamping e^x at ±88 leaves ~1e-35 where float64 gives 0)
    const d = relDiff(fin(got), fin(ref), 1e-6);
    // tanh-GELU: u = √(2/π)(x + 0.044715x³) in float32 carries ~1e-7 relative error into e^{−2u}, i.e. up to
    // ~2e-6 relative where |u| is large and GELU is tiny (PyTorch's float32 formula is coarser there)
    const tol = kind === 'silu' ? 4e-7 : 3e-6;
    assert.ok(d <= tol, `${kind}: max relative difference ${d} (tolerance ${tol})`);
  }
});

test('native softmaxRows equals the TypeScript op; masked (−∞) keys give exactly 0; all −∞ gives zeros; NaN poisons its row', () => {
  const o = ops();
  if (!o) return;
  const r = rng(2);
  const rows = 37, n = 131;
  const x = Float32Array.from({ length: rows * n }, (_, i) => (i % n > (i / n) % n + 5 ? -Infinity : (r() - 0.5) * 60));
  x.fill(-Infinity, 3 * n, 4 * n); // an all-masked row
  const ref = x.slice(), got = x.slice();
  for (let i = 0; i < rows; i++) softmaxRow(ref, i * n, n);
  o.softmaxRows(got, rows, n);
  for (let i = 0; i < x.length; i++) if (x[i] === -Infinity) assert.equal(got[i], 0, `index ${i}: masked key`);
  assert.ok(got.subarray(3 * n, 4 * n).every((v) => v === 0));
  const d = relDiff(got, ref, 1e-12);
  assert.ok(d <= 2e-6, `softmax: max relative difference ${d}`);
  for (let i = 0; i < rows; i++) {
    if (i === 3) continue;
    const s = got.subarray(i * n, (i + 1) * n).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(s - 1) < 1e-5, `row ${i} sums to ${s}`);
  }
  const bad = Float32Array.from({ length: 2 * n }, () => r());
  bad[5] = NaN;
  o.softmaxRows(bad, 2, n);
  assert.ok(bad.subarray(0, n).every((v) => Number.isNaN(v)), 'NaN poisons its row (the forward pass then reports it)');
  assert.ok(bad.subarray(n).every((v) => Number.isFinite(v)), 'and only its row');
});

test('native activate / softmaxRows / scaleMask split over the pool give the bits they give on one thread', () => {
  const o = ops();
  if (!o) return;
  const r = rng(5);
  // above the addon's 2^16-element threshold the work is split over its threads; pieces below it run on the
  // calling thread, so running the same data piece by piece is the one-thread reference
  for (const kind of [0, 1] as const) {
    const n = 300_007;
    const x = Float32Array.from({ length: n }, () => (r() - 0.5) * 20);
    const whole = x.slice(), pieces = x.slice();
    o.activate(whole, n, kind === 0 ? 'silu' : 'gelu_tanh');
    for (let lo = 0; lo < n; lo += 4096) o.activate(pieces.subarray(lo, Math.min(n, lo + 4096)), Math.min(4096, n - lo), kind === 0 ? 'silu' : 'gelu_tanh');
    assert.equal(firstBitDiff(whole, pieces), -1, `activate kind ${kind}`);
  }
  const rows = 601, n = 257;
  const s = Float32Array.from({ length: rows * n }, (_, i) => (i % 7 === 3 ? -Infinity : (r() - 0.5) * 30));
  const whole = s.slice(), pieces = s.slice();
  o.softmaxRows(whole, rows, n);
  for (let i = 0; i < rows; i++) o.softmaxRows(pieces.subarray(i * n, (i + 1) * n), 1, n);
  assert.equal(firstBitDiff(whole, pieces), -1, 'softmaxRows');
  const H = 4, T = 130, S = 131;
  const qpos = Int32Array.from({ length: T }, (_, t) => t + 1);
  const sc = Float32Array.from({ length: H * T * S }, () => (r() - 0.5) * 10);
  const w2 = sc.slice(), p2 = sc.slice();
  o.scaleMask(w2, H, T, S, qpos, 0.125, 50, 30);
  for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) o.scaleMask(p2.subarray((h * T + t) * S, (h * T + t + 1) * S), 1, 1, S, qpos.subarray(t, t + 1), 0.125, 50, 30);
  assert.equal(firstBitDiff(w2, p2), -1, 'scaleMask');
});

test('a forward pass with the native ops equals the TypeScript-ops pass on every family fixture (≤ 1e-5)', async () => {
  const o = ops();
  if (!o) return;
  const index = JSON.parse(readFileSync('fixtures/tiny/index.json', 'utf8')) as { models: Array<{ dir: string }> };
  for (const { dir } of index.models) {
    const m = await loadModel(`fixtures/tiny/${dir}`, { noTokenizer: true, backend: 'blas' });
    const plain: MatmulBackend = { ...m.backend, ops: undefined };
    const ref = new HookedModel(m.spec, m.weights, plain, null, m.info);
    const ids = [1, 5, 9, 3, 7, 2, 8, 4, 6, 1, 3, 5].map((t) => t % m.spec.vocabSize);
    const a = m.forward(ids).logits!.data, b = ref.forward(ids).logits!.data;
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
    assert.ok(d <= 1e-5, `${dir}: native vs TypeScript ops, logits differ by ${d}`);
  }
});

test('native firstNonFinite finds the first NaN / ±∞ (or −1), at every lane position', () => {
  const o = ops();
  if (!o) return;
  const x = new Float32Array(100).fill(1.5);
  assert.equal(o.firstNonFinite(x, 100), -1);
  for (const bad of [NaN, Infinity, -Infinity]) {
    for (const at of [0, 15, 16, 63, 99]) {
      const y = x.slice();
      y[at] = bad;
      y[99] = at === 99 ? bad : NaN; // a later one must not win
      assert.equal(o.firstNonFinite(y, 100), at, `${bad} at ${at}`);
      assert.equal(o.firstNonFinite(y, at), -1, 'only the first n elements are read');
    }
  }
});
