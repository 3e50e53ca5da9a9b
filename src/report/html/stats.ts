/**
 * Interval estimates the figures need and the results files do not carry: Wilson score intervals of rates
 * and percentile-bootstrap intervals of means (seeded, so a report is reproducible byte for byte).
 *
 * @module
 */
import { bootstrapCI1 } from '../../stats/bootstrap.ts';
import { mean, quantile } from '../../stats/describe.ts';
import { createRng } from '../../stats/rng.ts';
import { normalQuantile } from '../../stats/special.ts';

export interface Interval {
  estimate: number | null;
  lo: number | null;
  hi: number | null;
}

/**
 * Wilson score interval of a binomial proportion k/n at `level` (default 0.95); null bounds when n = 0.
 * k may be fractional (a rate averaged over control draws, expressed in trials).
 */
export function wilson(k: number, n: number, level = 0.95): Interval {
  if (!(n > 0)) return { estimate: null, lo: null, hi: null };
  if (k < 0 || k > n) throw new Error(`wilson: successes ${k} outside [0, ${n}]`);
  const z = normalQuantile(1 - (1 - level) / 2);
  const p = k / n;
  const z2n = (z * z) / n;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n));
  return { estimate: p, lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

/** 95% percentile-bootstrap CI of the mean (B = 2000, stream named by `label`); a single value gives lo = hi = it. */
export function meanCI(xs: readonly number[], seed: number, label: string): Interval {
  const m = mean(xs);
  if (m === null) return { estimate: null, lo: null, hi: null };
  if (xs.length === 1) return { estimate: m, lo: m, hi: m };
  const ci = bootstrapCI1(xs, (x) => mean(x), { rng: createRng(seed, `report:${label}`), nBoot: 2000, method: 'percentile', level: 0.95 });
  return { estimate: m, lo: ci.lo, hi: ci.hi };
}

/** Interquartile range (25th–75th percentile) with the median. */
export function iqr(xs: readonly number[]): Interval {
  return { estimate: quantile(xs, 0.5), lo: quantile(xs, 0.25), hi: quantile(xs, 0.75) };
}
