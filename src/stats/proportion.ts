/**
 * Proportions and paired binary outcomes: Wilson score intervals, exact McNemar tests, and the smallest
 * p-value a McNemar design can reach (so an experiment can say whether α was reachable at all).
 *
 * @module
 */
import binomialTest from '@stdlib/stats-binomial-test';
import { normalQuantile } from './special.ts';

/** A proportion with its Wilson score interval. */
export interface Proportion {
  k: number;
  n: number;
  /** k / n (null when n = 0). */
  rate: number | null;
  lo: number | null;
  hi: number | null;
}

/**
 * Wilson score interval of k successes in n trials at confidence `level` (default 0.95). Unlike the Wald
 * interval it stays inside [0, 1] and keeps its coverage at rates near 0 or 1, which is where copying and
 * preservation rates live.
 */
export function wilson(k: number, n: number, level = 0.95): Proportion {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || n < 0 || k > n) throw new Error(`wilson: need integers 0 ≤ k ≤ n (got k=${k}, n=${n})`);
  if (n === 0) return { k, n, rate: null, lo: null, hi: null };
  const z = normalQuantile(1 - (1 - level) / 2);
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  // exact bounds at the edges (the formula gives 1 − 1e-16 for k = n)
  return { k, n, rate: p, lo: k === 0 ? 0 : Math.max(0, centre - half), hi: k === n ? 1 : Math.min(1, centre + half) };
}

/** Result of an exact McNemar test on paired binary outcomes. */
export interface McNemar {
  /** Pairs with outcome 1 → 0 (lost under the treatment) and 0 → 1 (gained). */
  lost: number;
  gained: number;
  /** Exact binomial p on the discordant pairs (1 when there is none). */
  p: number;
  /** Which way the discordant pairs lean. */
  direction: 'decrease' | 'increase' | 'none';
}

/**
 * Exact McNemar test: under H0 a discordant pair is lost or gained with probability ½.
 * @param alternative - 'two-sided' (default), 'decrease' (more lost) or 'increase' (more gained)
 */
export function mcnemarExact(lost: number, gained: number, alternative: 'two-sided' | 'decrease' | 'increase' = 'two-sided'): McNemar {
  const n = lost + gained;
  const direction = lost > gained ? 'decrease' : gained > lost ? 'increase' : 'none';
  if (n === 0) return { lost, gained, p: 1, direction };
  const alt = alternative === 'two-sided' ? 'two-sided' : alternative === 'decrease' ? 'greater' : 'less';
  return { lost, gained, p: binomialTest(lost, n, { p: 0.5, alternative: alt }).pValue, direction };
}

/** McNemar on two aligned 0/1 vectors: `before[i]` → `after[i]`. */
export function mcnemarPaired(before: readonly (0 | 1 | boolean)[], after: readonly (0 | 1 | boolean)[], alternative: 'two-sided' | 'decrease' | 'increase' = 'two-sided'): McNemar {
  if (before.length !== after.length) throw new Error(`mcnemarPaired: ${before.length} vs ${after.length} outcomes`);
  let lost = 0;
  let gained = 0;
  for (let i = 0; i < before.length; i++) {
    const b = Number(before[i]);
    const a = Number(after[i]);
    if (b === 1 && a === 0) lost++;
    else if (b === 0 && a === 1) gained++;
  }
  return mcnemarExact(lost, gained, alternative);
}

/**
 * The smallest p an exact McNemar test on `n` pairs can give (every pair discordant in one direction),
 * times `m` for a Holm correction over m tests (Holm's smallest adjusted p is m × the smallest raw p).
 */
export function minMcNemarP(n: number, m = 1, twoSided = true): number {
  if (n <= 0) return 1;
  return Math.min(1, m * (twoSided ? 2 : 1) * 0.5 ** n);
}
