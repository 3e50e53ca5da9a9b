/**
 * The addon's bit-exact copies of TypeScript work (native/plip_exact.cc, native/plip_attn.cc) and the forward
 * pass's reuse of its buffers (src/model/scratch.ts):
 *   - exp equals V8's Math.exp bit for bit (edge cases and 10^6 random arguments over every range it branches on);
 *   - logSoftmax / klFromLogProbs through the native loops equal the TypeScript ones bit for bit, errors included;
 *   - normRows / addRange / add3Range / mulRange equal the TypeScript ops bit for bit (RMSNorm, LayerNorm, offset,
 *     bias, −0, wide magnitudes);
 *   - attnScores / attnMix equal the per-head linear / matmul calls bit for bit, for T = 1 (GEMV) and T > 1;
 *   - a forward pass is the same whether its buffers are fresh or reused, and a forward pass run from inside a
 *     hook of another on the same model leaves the outer one unchanged.
 * Needs the addon (scripts/setup.sh builds it; the test says why when absent).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { blasUnavailableReason, loadBlasBackend, nativeAddonPath, nativeMetricKernels } from '../../src/tensor/select.ts';
import { LogProbRows, klFromLogProbs, klFromLogProbsTs, klRows, logSoftmax, logSoftmaxRows, logSoftmaxTs } from '../../src/metrics/distribution.ts';
import { add3Range, addRange, mulRange, normalize } from '../../src/model/ops.ts';
import { scatterHeads } from '../../src/model/kv-cache.ts';
import { headMixVia, headScoresVia } from '../../src/tensor/attention-heads.ts';
import { randomModelFromConfig } from '../../src/model/random.ts';
import type { Hook } from '../../src/hooks/types.ts';

const blas = loadBlasBackend();
function need<T>(x: T | undefined | null, what: string): T {
  assert.ok(x, `${what} is required here: ${blasUnavailableReason() ?? 'addon built without it (npm run build:native)'}`);
  return x;
}
const addon = () => createRequire(import.meta.url)(nativeAddonPath()) as { expInto(x: Float64Array, out: Float64Array): void };

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
/** Index of the first element whose bits differ (Object.is: −0 ≠ 0, NaN = NaN), or −1. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

test('native exp equals Math.exp bit for bit (edge cases, 10^6 random arguments)', () => {
  need(blas, 'the OpenBLAS addon');
  const r = rng(7);
  const edges = [0, -0, 1, -1, 2, 709.78, 709.79, 710, -745.1, -745.2, -800, Infinity, -Infinity, NaN, 0.5 * Math.LN2, -0.5 * Math.LN2, 1.5 * Math.LN2, -1.5 * Math.LN2, 2 ** -28, -(2 ** -28), 2 ** -29, 1e-300, -1e-300, -708.4, -708.5, -1021 * Math.LN2, -1022.5 * Math.LN2];
  const x = new Float64Array(edges.length + 1_000_000);
  x.set(edges);
  for (let i = edges.length; i < x.length; i++) {
    const u = r();
    // every branch of the algorithm: |x| < 2^-28, ≤ ½ln2, < 1.5 ln2, general, subnormal results, overflow
    x[i] = [(u - 0.5) * 1e-8, (u - 0.5) * 0.7, (u - 0.5) * 2.1, (u - 0.5) * 80, -700 - u * 50, (u - 0.5) * 1500][i % 6]!;
  }
  const out = new Float64Array(x.length);
  addon().expInto(x, out);
  const ref = x.map((v) => Math.exp(v));
  const i = firstDiff(out, ref);
  assert.equal(i, -1, i < 0 ? '' : `exp(${x[i]}): native ${out[i]}, Math.exp ${ref[i]}`);
});

test('the vector exp of the log-softmax sum (AVX-512 8 lanes, AVX2 4 lanes) equals Math.exp bit for bit on x ≤ 0 (every branch, 10^6 arguments)', () => {
  need(blas, 'the OpenBLAS addon');
  const a = createRequire(import.meta.url)(nativeAddonPath()) as { expNonPositiveInto(x: Float64Array, out: Float64Array): number };
  const r = rng(17);
  const edges = [0, -0, -1e-300, -(2 ** -28), -(2 ** -29), -0.3465735902799726, -0.34657359027997264, -1.0397207708399179, -1.03972077083991, -1, -2, -708.39, -708.4, -709.78, -709.8, -744.4, -745.13, -745.1332191019412, -745.14, -746, -1e4, -Infinity];
  const x = new Float64Array(edges.length + 1_000_000 + 3);
  x.set(edges);
  for (let i = edges.length; i < x.length; i++) {
    const u = r();
    x[i] = -[u * 1e-8, u * 0.35, u * 1.04, u * 40, 700 + u * 50, u * 2000][i % 6]!;
  }
  const out = new Float64Array(x.length);
  const lanes = a.expNonPositiveInto(x, out);
  const flags = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const has = (f: string) => process.arch === 'x64' && new RegExp(`\\b${f}\\b`).test(flags);
  const expected = ['avx512f', 'avx512dq', 'avx512vl'].every(has) ? 8 : has('avx2') ? 4 : 0;
  assert.equal(lanes, expected, 'the 8-lane path runs where the CPU has avx512f/dq/vl, the 4-lane one where it has avx2');
  const i = firstDiff(out, x.map((v) => Math.exp(v)));
  assert.equal(i, -1, i < 0 ? '' : `exp(${x[i]}): native ${out[i]}, Math.exp ${Math.exp(x[i]!)} (${lanes}-lane path)`);
  assert.throws(() => a.expNonPositiveInto(new Float64Array([1]), new Float64Array(1)), /x\[0\] is not <= 0/);
});

test('logSoftmax and klFromLogProbs through the native loops equal the TypeScript ones bit for bit', () => {
  need(nativeMetricKernels(), 'the native metric loops');
  const r = rng(11);
  for (const [V, spread] of [[151_936, 30], [50_257, 3], [17, 1e4], [1, 1]] as const) {
    const a = Float32Array.from({ length: V }, () => (r() - 0.5) * spread);
    const b = Float32Array.from({ length: V }, (_, i) => (i % 97 === 1 ? -Infinity : a[i]! + (r() - 0.5)));
    if (V > 1) a[3] = -Infinity;
    const la = logSoftmax(a), lb = logSoftmax(b);
    assert.equal(firstDiff(la, logSoftmaxTs(a)), -1, `logSoftmax, V = ${V}`);
    assert.equal(firstDiff(lb, logSoftmaxTs(b)), -1, `logSoftmax with −∞ logits, V = ${V}`);
    const p = la.map((v) => Math.exp(v));
    for (const [x, y, pp] of [[la, lb, undefined], [la, lb, p], [lb, la, undefined], [la, la, undefined]] as const) {
      assert.ok(Object.is(klFromLogProbs(x, y, pp), klFromLogProbsTs(x, y, pp)), `KL, V = ${V}`);
    }
  }
  // errors: the same message from both paths
  const bad = new Float32Array([0, 1, NaN, 2]);
  assert.throws(() => logSoftmax(bad, 'row'), /row: logit 2 is NaN/);
  assert.throws(() => logSoftmax(new Float32Array([-Infinity, -Infinity]), 'row'), /every logit is −Infinity/);
  assert.throws(() => logSoftmax(new Float32Array([0, Infinity]), 'row'), /row: logit 1 is Infinity/);
  assert.equal(klFromLogProbs(new Float64Array([0, -Infinity]), new Float64Array([-Infinity, 0])), Infinity);
});

test('logSoftmaxRows / klRows (rows split over the threads) equal the TypeScript row-by-row loops bit for bit', () => {
  need(nativeMetricKernels(), 'the native metric loops');
  const r = rng(12);
  for (const [V, R] of [[151_936, 7], [50_257, 2], [33, 5]] as const) {
    const rows = Array.from({ length: R }, (_, j) => Float32Array.from({ length: V }, (_, i) => (i % (31 + j) === 2 ? -Infinity : (r() - 0.5) * (3 + 10 * j))));
    const into = rows.map((x, j) => (j % 2 ? new Float64Array(V).fill(NaN) : undefined));
    const got = logSoftmaxRows(rows, rows.map((_, j) => `row ${j}`), into);
    rows.forEach((x, j) => {
      assert.equal(firstDiff(got[j]!, logSoftmaxTs(x)), -1, `row ${j} of ${R}, V = ${V}`);
      if (into[j]) assert.equal(got[j], into[j], 'written into the given array');
    });
    const probs = got.map((lp) => lp.map((v) => Math.exp(v)));
    const q = [...got.slice(1), got[0]!];
    const want = got.map((lp, j) => klFromLogProbsTs(lp, q[j]!, probs[j]));
    klRows(got, q, probs).forEach((v, j) => assert.ok(Object.is(v, want[j]), `KL row ${j}: ${v} vs ${want[j]}`));
    klRows(got, q).forEach((v, j) => assert.ok(Object.is(v, klFromLogProbsTs(got[j]!, q[j]!)), `KL row ${j} without probabilities`));
  }
  // errors name the row, as logSoftmax does
  const ok = new Float32Array([0, 1, 2, 3]);
  assert.throws(() => logSoftmaxRows([ok, new Float32Array([0, 1, NaN, 2])], ['first', 'second']), /second: logit 2 is NaN/);
  assert.throws(() => logSoftmaxRows([ok, new Float32Array([-Infinity, -Infinity])], ['a', 'b']), /b: every logit is −Infinity/);
  assert.throws(() => logSoftmaxRows([ok, ok], ['a', 'b'], [undefined, new Float64Array(3)]), /b: output has 3 entries for 4 logits/);
  assert.throws(() => klRows([new Float64Array(4), new Float64Array(4)], [new Float64Array(4), new Float64Array(3)]), /different sizes/);
  assert.deepEqual(klRows([new Float64Array([0, -Infinity]), new Float64Array([0, -Infinity])], [new Float64Array([-Infinity, 0]), new Float64Array([0, -Infinity])]), [Infinity, 0]);
});

test('native normRows / addRange / add3Range / mulRange equal the TypeScript ops bit for bit', () => {
  const ex = need(need(blas, 'the OpenBLAS addon').ops?.exact, 'the native exact ops');
  const r = rng(3);
  const d = 901;
  const g = Float32Array.from({ length: d }, () => (r() - 0.5) * 4);
  const b = Float32Array.from({ length: d }, () => (r() - 0.5) * 0.1);
  // 7 rows run on the calling thread, 97 rows (87k elements) are split over the addon's pool
  for (const rows of [7, 97]) {
    const x = Float32Array.from({ length: rows * d }, (_, i) => (r() - 0.5) * 10 ** ((i % 13) - 6));
    x[5] = -0;
    for (let i = 0; i < d; i++) x[2 * d + i] = 0; // an all-zero row: the eps branch, signed zeros of the output
    for (const kind of ['rmsnorm', 'layernorm'] as const) {
      for (const weightOffset of [0, 1]) {
        for (const bias of [null, b]) {
          const spec = { kind, eps: 1e-6, weightOffset } as Parameters<typeof normalize>[3];
          const ts = new Float32Array(rows * d), nat = new Float32Array(rows * d);
          normalize(x, rows, d, spec, { w: g, b: bias }, ts);
          ex.normRows(x, rows, d, kind === 'rmsnorm' ? 0 : 1, spec.eps, weightOffset, g, bias, nat);
          assert.equal(firstDiff(nat, ts), -1, `${rows} rows, ${kind}, offset ${weightOffset}, bias ${bias ? 'yes' : 'no'}`);
        }
      }
    }
  }
  const rows = 7;
  const x = Float32Array.from({ length: rows * d }, (_, i) => (r() - 0.5) * 10 ** ((i % 13) - 6));
  const y = Float32Array.from({ length: rows * d }, () => (r() - 0.5) * 1e3);
  const z = Float32Array.from({ length: rows * d }, () => (r() - 0.5) * 1e-3);
  const run = (f: (o: Float32Array) => void) => {
    const o = new Float32Array(rows * d).fill(7);
    f(o);
    return o;
  };
  const lo = 3, hi = rows * d - 5; // partial ranges leave the rest untouched
  assert.equal(firstDiff(run((o) => ex.addRange(o, x, y, lo, hi)), run((o) => addRange(o, x, y, lo, hi))), -1, 'addRange');
  assert.equal(firstDiff(run((o) => ex.add3Range(o, x, y, z, lo, hi)), run((o) => add3Range(o, x, y, z, lo, hi))), -1, 'add3Range');
  const m1 = x.slice(), m2 = x.slice();
  ex.mulRange(m1, y, lo, hi);
  mulRange(m2, y, lo, hi);
  assert.equal(firstDiff(m1, m2), -1, 'mulRange');
  assert.throws(() => ex.addRange(new Float32Array(4), x, y, 0, 5), /addRange: 'array' has 4 elements but hi needs 5/);
});

test('attnScores / attnMix equal per-head linear / matmul bit for bit (T = 1 and T > 1, strided heads)', () => {
  const B = need(blas, 'the OpenBLAS addon');
  const r = rng(5);
  const H = 6, Dh = 64;
  for (const [T, S] of [[1, 37], [1, 1], [45, 45], [130, 200]] as const) {
    const stride = (S + 11) * Dh; // a KV cache with spare capacity
    const q = Float32Array.from({ length: T * H * Dh }, () => r() - 0.5);
    const keys = Float32Array.from({ length: H * stride }, () => r() - 0.5);
    const a = new Float32Array(H * T * S), b = new Float32Array(H * T * S);
    B.attnScores(q, keys, stride, H, T, S, Dh, a);
    headScoresVia(B.linear)(q, keys, stride, H, T, S, Dh, b);
    assert.equal(firstDiff(a, b), -1, `attnScores T=${T} S=${S}`);
    const pattern = Float32Array.from({ length: H * T * S }, () => r());
    const z1 = new Float32Array(T * H * Dh), z2 = new Float32Array(T * H * Dh);
    B.attnMix(pattern, keys, stride, H, T, S, Dh, z1);
    headMixVia(B.matmul)(pattern, keys, stride, H, T, S, Dh, z2);
    assert.equal(firstDiff(z1, z2), -1, `attnMix T=${T} S=${S}`);
  }
  assert.throws(() => B.attnScores(new Float32Array(10), new Float32Array(1000), 128, 1, 1, 2, 64, new Float32Array(2)), /attnScores: 'q' has 10 elements but T\*H\*Dh needs 64/);
  assert.throws(() => B.attnMix(new Float32Array(2), new Float32Array(1000), 8, 1, 1, 2, 64, new Float32Array(64)), /headStride must be at least S\*Dh = 128/);
});

test('a forward pass is the same with fresh and reused buffers, and a nested pass from a hook leaves the outer one unchanged', () => {
  const m = randomModelFromConfig('../shared/configs/Qwen--Qwen2.5-Coder-0.5B-Instruct', { seed: 3, overrides: { nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 2, dMlp: 128, vocabSize: 300 } });
  const a = [5, 9, 2, 200, 17, 3], b = [8, 1, 250, 4];
  const first = m.forward(a).logits!.data.slice();
  m.forward(b); // other shapes in the same buffers
  m.forward([...a, ...b]);
  assert.equal(firstDiff(m.forward(a).logits!.data, first), -1, 'reused buffers give the same logits');
  let inner: Float32Array | null = null;
  const hook: Hook = {
    name: 'blocks.1.hook_resid_pre',
    fn: () => {
      inner = m.forward(b).logits!.data.slice(); // runs while the outer pass holds the model's buffers
    },
  };
  const outer = m.runWithHooks(a, [hook]).logits!.data;
  assert.equal(firstDiff(outer, first), -1, 'outer pass unchanged by the nested one');
  assert.equal(firstDiff(inner!, m.forward(b).logits!.data), -1, 'nested pass equals the same pass alone');
});

test('native scatterHeads (the KV cache write) copies what the TypeScript one does, on one thread and over the pool', () => {
  const ex = need(need(blas, 'the OpenBLAS addon').ops?.exact, 'the native exact ops');
  const r = rng(21);
  // [T, H, group, Dh, cap, at]: small (one thread), large (split over the pool: T·H·Dh ≥ 2^16), GQA groups
  for (const [T, H, group, Dh, cap, at] of [[3, 4, 1, 8, 9, 2], [5, 6, 3, 16, 8, 3], [128, 14, 7, 64, 160, 17], [128, 12, 1, 64, 128, 0]] as const) {
    const src = Float32Array.from({ length: T * (H / group) * Dh }, () => r() - 0.5);
    const a = Float32Array.from({ length: H * cap * Dh }, () => 9), b = a.slice();
    scatterHeads(src, a, T, H, group, Dh, cap, at);
    ex.scatterHeads(src, b, T, H, group, Dh, cap, at);
    assert.equal(firstDiff(b, a), -1, `T ${T}, H ${H}, group ${group}, at ${at}`);
  }
  assert.throws(() => ex.scatterHeads(new Float32Array(8), new Float32Array(64), 2, 2, 1, 2, 4, 3), /at \+ T exceeds cap/);
  assert.throws(() => ex.scatterHeads(new Float32Array(8), new Float32Array(64), 2, 3, 2, 2, 4, 0), /group must divide H/);
  assert.throws(() => ex.scatterHeads(new Float32Array(7), new Float32Array(64), 2, 2, 1, 2, 4, 0), /src/);
});

test('LogProbRows.probs (the native vector exp) equals Math.exp of its log-probabilities bit for bit', () => {
  need(nativeMetricKernels(), 'the native metric loops');
  const r = rng(23);
  const V = 50_257;
  const logits = Float32Array.from({ length: 3 * V }, (_, i) => (i % 101 === 7 ? -Infinity : (r() - 0.5) * 60));
  const rows = new LogProbRows(logits, V);
  for (let i = 0; i < 3; i++) {
    const lp = rows.logProbs(i);
    assert.equal(firstDiff(rows.probs(i), lp.map((v) => Math.exp(v))), -1, `row ${i}`);
  }
});
