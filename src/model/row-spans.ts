/**
 * Weight products over the real rows of a padded batch.
 *
 * A ragged batch lays its activations out as [B, Tmax, …]: row b's positions are rows b·Tmax .. b·Tmax+T_b−1,
 * the rest is padding. The decoder's products (every layer's projections and MLP, the unembedding) multiply
 * only the real rows: they are gathered into one packed matrix, multiplied once, and the results scattered
 * back, so padding costs no multiply-accumulates and one call still reads the weights once.
 *
 * @module
 */
import type { MatmulBackend } from '../tensor/backend.ts';
import type { WeightArray } from '../tensor/weight.ts';

/** `rows` consecutive rows: from row `src` of the input to row `dst` of the output. */
export interface RowSpan {
  src: number;
  dst: number;
  rows: number;
}

/** The spans with each run that continues the previous one in both input and output merged into it. */
export function mergeSpans(spans: readonly RowSpan[]): RowSpan[] {
  const out: RowSpan[] = [];
  for (const s of spans) {
    if (s.rows === 0) continue;
    const last = out[out.length - 1];
    if (last && last.src + last.rows === s.src && last.dst + last.rows === s.dst) last.rows += s.rows;
    else out.push({ ...s });
  }
  return out;
}

/**
 * out[dst + i] = x[src + i] · wᵀ (+ bias) for every span and i < rows: x rows of `k` floats, out rows of `n`.
 * One span (after merging) multiplies views of x and out in place; several are gathered into `take('linIn')`,
 * multiplied as one [Σ rows, k] matrix into `take('linOut')` and scattered (`take` returns scratch buffers the
 * caller owns for the call, not filled). Output rows outside the spans are not written.
 */
export function spanProduct(
  B: MatmulBackend,
  x: Float32Array,
  w: WeightArray,
  bias: Float32Array | null,
  k: number,
  n: number,
  out: Float32Array,
  spans: readonly RowSpan[],
  take: (key: 'linIn' | 'linOut', floats: number) => Float32Array,
): void {
  const runs = mergeSpans(spans);
  if (runs.length === 0) return;
  if (runs.length === 1) {
    const { src, dst, rows } = runs[0]!;
    B.linearWeight(x.subarray(src * k, (src + rows) * k), w, bias, rows, k, n, out.subarray(dst * n, (dst + rows) * n));
    return;
  }
  const m = runs.reduce((a, s) => a + s.rows, 0);
  const px = take('linIn', m * k), po = take('linOut', m * n);
  let o = 0;
  for (const s of runs) (px.set(x.subarray(s.src * k, (s.src + s.rows) * k), o * k), (o += s.rows));
  B.linearWeight(px, w, bias, m, k, n, po);
  o = 0;
  for (const s of runs) (out.set(po.subarray(o * n, (o + s.rows) * n), s.dst * n), (o += s.rows));
}
