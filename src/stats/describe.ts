/**
 * Descriptive statistics.
 *
 * Null policy: a statistic that is undefined for the given sample size returns `null`
 * (mean/median/quantile of an empty sample; variance/sd with n < 2) instead of `NaN`,
 * so results serialise to JSON faithfully. Non-finite input values throw a
 * `RangeError` naming the offending index (see `validate.ts`).
 *
 * @module
 */
import { finiteArray, sum } from './validate.ts';

/**
 * Arithmetic mean (compensated summation).
 *
 * @param xs - finite values
 * @returns the mean, or `null` when `xs` is empty
 * @throws RangeError on NaN/±Infinity
 */
export function mean(xs: ArrayLike<number>): number | null {
  const a = finiteArray('mean', 'xs', xs, true);
  return a.length === 0 ? null : sum(a) / a.length;
}

/**
 * Sample variance with Bessel's correction (ddof = 1, like `numpy.var(x, ddof=1)`),
 * computed in two passes.
 *
 * @returns the variance, or `null` when fewer than 2 values are given
 * @throws RangeError on NaN/±Infinity
 */
export function variance(xs: ArrayLike<number>): number | null {
  const a = finiteArray('variance', 'xs', xs, true);
  return varianceOf(a);
}

/** Internal: variance of an already-validated array (null if n < 2). */
export function varianceOf(a: readonly number[]): number | null {
  const n = a.length;
  if (n < 2) return null;
  if (a.every((v) => v === a[0])) return 0; // exact zero for constant samples
  const m = sum(a) / n;
  const dev = a.map((v) => (v - m) * (v - m));
  // Correction term makes the two-pass formula exact when the mean is rounded.
  const corr = sum(a.map((v) => v - m));
  return (sum(dev) - (corr * corr) / n) / (n - 1);
}

/**
 * Sample standard deviation, `sqrt(variance(xs))` (ddof = 1).
 *
 * @returns the SD, or `null` when fewer than 2 values are given
 * @throws RangeError on NaN/±Infinity
 */
export function sd(xs: ArrayLike<number>): number | null {
  const v = variance(xs);
  return v === null ? null : Math.sqrt(Math.max(0, v));
}

/**
 * Median (the mean of the two middle values for even n).
 *
 * @returns the median, or `null` for an empty sample
 * @throws RangeError on NaN/±Infinity
 */
export function median(xs: ArrayLike<number>): number | null {
  return quantile(xs, 0.5);
}

/**
 * Quantile by linear interpolation between order statistics — Hyndman & Fan type 7,
 * the default of `numpy.quantile` (`method='linear'`) and R's `quantile`:
 * with sorted values `v[0..n-1]`, `h = (n-1)·q`, result
 * `v[⌊h⌋] + (h - ⌊h⌋)·(v[⌊h⌋+1] - v[⌊h⌋])`.
 *
 * @param xs - finite values (not modified)
 * @param q - probability in [0, 1]
 * @returns the quantile, or `null` for an empty sample
 * @throws RangeError if `q` is outside [0, 1] or any value is non-finite
 */
export function quantile(xs: ArrayLike<number>, q: number): number | null {
  const a = finiteArray('quantile', 'xs', xs, true);
  checkProb('quantile', q);
  if (a.length === 0) return null;
  return quantileSorted(a.sort((u, v) => u - v), q);
}

/**
 * Several type-7 quantiles at once (one sort).
 *
 * @returns one value per entry of `qs`, or `null` for an empty sample
 * @throws RangeError if any q is outside [0, 1] or any value is non-finite
 */
export function quantiles(xs: ArrayLike<number>, qs: readonly number[]): number[] | null {
  const a = finiteArray('quantiles', 'xs', xs, true);
  for (const q of qs) checkProb('quantiles', q);
  if (a.length === 0) return null;
  a.sort((u, v) => u - v);
  return qs.map((q) => quantileSorted(a, q));
}

function checkProb(fn: string, q: number): void {
  if (typeof q !== 'number' || !(q >= 0 && q <= 1)) {
    throw new RangeError(`${fn}: q must be a probability in [0, 1] (got ${String(q)})`);
  }
}

/**
 * Internal: type-7 quantile of an ascending, non-empty array. Tolerates ±Infinity
 * entries (used on bootstrap distributions): when the interpolation weight is 0 or the
 * neighbours are equal the order statistic itself is returned, avoiding `0·∞ = NaN`.
 */
export function quantileSorted(sorted: readonly number[], q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const frac = h - lo;
  const a = sorted[lo]!;
  if (frac === 0 || lo + 1 >= sorted.length) return a;
  const b = sorted[lo + 1]!;
  if (a === b) return a;
  return a + frac * (b - a);
}

/** Summary of one sample; fields that are undefined for the size are `null`. */
export interface Summary {
  n: number;
  mean: number | null;
  sd: number | null;
  min: number | null;
  q25: number | null;
  median: number | null;
  q75: number | null;
  max: number | null;
}

/**
 * Count, mean, SD (ddof = 1), min, type-7 quartiles and max in one call.
 *
 * @returns a {@link Summary}; `sd` is `null` for n < 2, everything but `n` is `null` for n = 0
 * @throws RangeError on NaN/±Infinity
 */
export function summarize(xs: ArrayLike<number>): Summary {
  const a = finiteArray('summarize', 'xs', xs, true);
  const n = a.length;
  if (n === 0) return { n, mean: null, sd: null, min: null, q25: null, median: null, q75: null, max: null };
  const v = varianceOf(a);
  const s = a.slice().sort((u, w) => u - w);
  return {
    n,
    mean: sum(a) / n,
    sd: v === null ? null : Math.sqrt(Math.max(0, v)),
    min: s[0]!,
    q25: quantileSorted(s, 0.25),
    median: quantileSorted(s, 0.5),
    q75: quantileSorted(s, 0.75),
    max: s[n - 1]!,
  };
}
