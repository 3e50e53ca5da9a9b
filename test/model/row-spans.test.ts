/**
 * spanProduct (src/model/row-spans.ts): the products of a padded batch's real rows, gathered and scattered.
 * Against a direct row-by-row product on the TypeScript backend: spans with gaps, spans that merge, a lone
 * span (multiplied in place), empty spans; rows outside the spans are not written; calls and their row counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeSpans, spanProduct } from '../../src/model/row-spans.ts';
import { tsBackend } from '../../src/tensor/ts-backend.ts';
import { f32Weight } from '../../src/tensor/weight.ts';

const k = 5, n = 3;
const x = Float32Array.from({ length: 12 * k }, (_, i) => Math.sin(i + 1));
const w = f32Weight(Float32Array.from({ length: n * k }, (_, i) => Math.cos(i * 0.7)));
const bias = Float32Array.from([0.5, -1, 2]);
const rowProduct = (r: number): number[] => Array.from({ length: n }, (_, j) => {
  const o = new Float32Array(n);
  tsBackend.linearWeight(x.subarray(r * k, (r + 1) * k), w, bias, 1, k, n, o);
  return o[j]!;
});

test('mergeSpans joins runs continuing in both input and output, drops empty ones', () => {
  assert.deepEqual(mergeSpans([{ src: 0, dst: 0, rows: 2 }, { src: 2, dst: 2, rows: 3 }, { src: 6, dst: 5, rows: 1 }, { src: 7, dst: 9, rows: 0 }]), [
    { src: 0, dst: 0, rows: 5 },
    { src: 6, dst: 5, rows: 1 },
  ]);
  // input contiguous but output not: kept apart
  assert.equal(mergeSpans([{ src: 0, dst: 0, rows: 1 }, { src: 1, dst: 4, rows: 1 }]).length, 2);
});

test('spanProduct writes x[src + i] · wᵀ + bias to out[dst + i] and nothing else, in one product', () => {
  for (const spans of [
    [{ src: 0, dst: 0, rows: 3 }, { src: 4, dst: 4, rows: 2 }, { src: 8, dst: 8, rows: 4 }],
    [{ src: 11, dst: 0, rows: 1 }, { src: 3, dst: 1, rows: 1 }, { src: 7, dst: 2, rows: 2 }],
    [{ src: 2, dst: 5, rows: 4 }],
    [{ src: 0, dst: 0, rows: 0 }],
  ]) {
    const calls: number[] = [];
    const B = { ...tsBackend, linearWeight: (...a: Parameters<typeof tsBackend.linearWeight>) => (calls.push(a[3]), tsBackend.linearWeight(...a)) };
    const out = new Float32Array(12 * n).fill(Number.NaN);
    spanProduct(B, x, w, bias, k, n, out, spans, (_key, floats) => new Float32Array(floats));
    const written = new Set<number>();
    for (const s of spans) for (let i = 0; i < s.rows; i++) {
      written.add(s.dst + i);
      assert.deepEqual(Array.from(out.subarray((s.dst + i) * n, (s.dst + i + 1) * n)), rowProduct(s.src + i), `row ${s.src + i} → ${s.dst + i}`);
    }
    for (let r = 0; r < 12; r++) if (!written.has(r)) assert.ok(Number.isNaN(out[r * n]!), `row ${r} is outside the spans and must not be written`);
    const real = spans.reduce((a, s) => a + s.rows, 0);
    assert.deepEqual(calls, real ? [real] : [], 'one product over the real rows');
  }
});
