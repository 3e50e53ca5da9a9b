/**
 * Wilcoxon signed-rank test for paired samples, following `scipy.stats.wilcoxon`
 * (SciPy 1.10 defaults: `zero_method='wilcox'`, `correction=False`, `method='auto'`).
 *
 * Why not `@stdlib/stats-wilcoxon` directly: it reports the positive rank sum for the
 * two-sided test (SciPy reports min(R⁺, R⁻)), applies a continuity correction by
 * default, can return a two-sided exact p-value above 1 when R⁺ sits at the centre of
 * the distribution, and computes upper tails as `1 − cdf` (cancellation for small p).
 * We therefore use its building blocks — `@stdlib/stats-ranks` and the exact signed-rank
 * CDF `@stdlib/stats-base-dists-signrank-cdf` — and SciPy's formulas.
 *
 * @module
 */
import ranks from '@stdlib/stats-ranks';
import signrankCdf from '@stdlib/stats-base-dists-signrank-cdf';
import { normalCdf, normalSf } from './special.ts';
import { type Alternative, checkAlternative, finiteArray, pairedDiffs, tieTerm } from './validate.ts';

/** Options for {@link wilcoxonSignedRank}. */
export interface WilcoxonOptions {
  /** `'greater'`: differences (x − y) tend to be positive. Default `'two-sided'`. */
  alternative?: Alternative;
  /**
   * Zero differences: `'wilcox'` (default) drops them before ranking; `'pratt'` ranks
   * them with the rest and then drops their ranks (Pratt 1959; more conservative).
   */
  zeroMethod?: 'wilcox' | 'pratt';
  /**
   * `'auto'` (default): exact when n ≤ 50 with no zeros and no tied |d|, else normal.
   * `'exact'` asks for the exact distribution but still falls back to the normal
   * approximation (with a `note`) when zeros or ties make it invalid. `'approx'` forces
   * the normal approximation.
   */
  method?: 'auto' | 'exact' | 'approx';
  /** Continuity correction in the normal approximation (default false, as SciPy). */
  correction?: boolean;
}

/** Result of {@link wilcoxonSignedRank}. */
export interface WilcoxonResult {
  /**
   * Test statistic as SciPy reports it: min(R⁺, R⁻) for `'two-sided'`, R⁺ (rank sum of
   * positive differences) for one-sided alternatives. `null` when all differences are 0.
   */
  W: number | null;
  /** Rank sum of positive differences. */
  rPlus: number;
  /** Rank sum of negative differences. */
  rMinus: number;
  /** p-value, or `null` when undefined (all differences zero). */
  p: number | null;
  method: 'exact' | 'normal';
  alternative: Alternative;
  /** Number of pairs supplied. */
  n: number;
  /** Number of zero differences. */
  nZero: number;
  /** Normal-approximation z (null for the exact method). */
  z: number | null;
  note?: string;
}

/** Largest number of non-zero differences for which the exact distribution is used (SciPy: 50). */
export const WILCOXON_EXACT_MAX_N = 50;

/**
 * Wilcoxon signed-rank test on paired differences.
 *
 * Call as `wilcoxonSignedRank(diffs, opts?)` or `wilcoxonSignedRank(x, y, opts?)`
 * (differences `x[i] − y[i]`). Assumes the pairs are independent and, under H0, the
 * differences are symmetric about 0.
 *
 * Exact method: R⁺ has the signed-rank null distribution; `'greater'` p = P(R⁺ ≥ r),
 * `'less'` p = P(R⁺ ≤ r), two-sided p = min(1, 2·min of the two). Normal method (SciPy's
 * formulas): mean n(n+1)/4, variance [n(n+1)(2n+1) − ½Σ(t³−t)]/24 over the ranked
 * differences, with Pratt's adjustment (Cureton 1967) subtracting the zeros' share.
 *
 * Deviation from SciPy 1.10: with tied |d| (but no zeros) SciPy's `'auto'` still uses the
 * exact distribution after truncating R⁺ to an integer, which is not a valid exact test;
 * we use the tie-corrected normal approximation instead (as newer SciPy and R do).
 * Compare with `scipy.stats.wilcoxon(..., method='approx')` in that case. If every
 * difference is zero SciPy raises; we return `W: null, p: null` with a `note`.
 *
 * @throws Error on empty input or unequal lengths; RangeError on NaN/±Infinity
 */
export function wilcoxonSignedRank(x: ArrayLike<number>, y?: ArrayLike<number> | WilcoxonOptions, opts?: WilcoxonOptions): WilcoxonResult {
  const fn = 'wilcoxonSignedRank';
  let d: number[];
  let o: WilcoxonOptions;
  if (y !== undefined && typeof (y as ArrayLike<number>).length === 'number') {
    d = pairedDiffs(fn, x, y as ArrayLike<number>);
    o = opts ?? {};
  } else {
    d = finiteArray(fn, 'diffs', x);
    o = (y as WilcoxonOptions | undefined) ?? opts ?? {};
  }
  const alternative = checkAlternative(fn, o.alternative);
  const zeroMethod = o.zeroMethod ?? 'wilcox';
  if (zeroMethod !== 'wilcox' && zeroMethod !== 'pratt') {
    throw new Error(`${fn}: zeroMethod must be 'wilcox' or 'pratt' (got '${String(zeroMethod)}')`);
  }
  const requested = o.method ?? 'auto';
  if (requested !== 'auto' && requested !== 'exact' && requested !== 'approx') {
    throw new Error(`${fn}: method must be 'auto', 'exact' or 'approx' (got '${String(requested)}')`);
  }
  const correction = o.correction ?? false;
  const n = d.length;
  const nZero = d.filter((v) => v === 0).length;
  if (nZero === n) {
    return {
      W: null, rPlus: 0, rMinus: 0, p: null, method: 'normal', alternative, n, nZero, z: null,
      note: 'all differences are zero; the test is undefined (SciPy raises)',
    };
  }

  const ranked = zeroMethod === 'wilcox' ? d.filter((v) => v !== 0) : d;
  const count = ranked.length;
  const r = ranks(ranked.map(Math.abs));
  let rPlus = 0;
  let rMinus = 0;
  for (let i = 0; i < count; i++) {
    if (ranked[i]! > 0) rPlus += r[i]!;
    else if (ranked[i]! < 0) rMinus += r[i]!;
  }
  const nonzeroRanks = zeroMethod === 'pratt' ? r.filter((_, i) => ranked[i] !== 0) : r;
  const ties = tieTerm(nonzeroRanks);
  const W = alternative === 'two-sided' ? Math.min(rPlus, rMinus) : rPlus;

  let method: 'exact' | 'normal';
  let note: string | undefined;
  if (requested === 'approx') method = 'normal';
  else if (nZero > 0 || ties > 0) {
    method = 'normal';
    if (requested === 'exact') note = `exact distribution invalid with ${nZero > 0 ? 'zero differences' : 'tied |differences|'}; used the normal approximation`;
  } else if (n > WILCOXON_EXACT_MAX_N && requested === 'auto') method = 'normal';
  else method = 'exact';

  const base = { W, rPlus, rMinus, alternative, n, nZero };
  if (method === 'exact') {
    // No zeros or ties here, so count === n and R⁺ is an integer.
    const M = (count * (count + 1)) / 2;
    const pLess = signrankCdf(rPlus, count); // P(R⁺ ≤ r)
    const pGreater = signrankCdf(M - rPlus, count); // P(R⁺ ≥ r) by symmetry
    const p = alternative === 'greater' ? pGreater : alternative === 'less' ? pLess : 2 * Math.min(pLess, pGreater);
    return { ...base, p: Math.min(1, p), method, z: null, ...(note ? { note } : {}) };
  }

  let mn = (count * (count + 1)) / 4;
  let se = count * (count + 1) * (2 * count + 1);
  if (zeroMethod === 'pratt') {
    mn -= (nZero * (nZero + 1)) / 4;
    se -= nZero * (nZero + 1) * (2 * nZero + 1);
  }
  se = Math.sqrt((se - 0.5 * ties) / 24);
  let cc = 0;
  if (correction) cc = alternative === 'two-sided' ? 0.5 * Math.sign(W - mn) : alternative === 'less' ? -0.5 : 0.5;
  const z = (W - mn - cc) / se;
  const p = alternative === 'two-sided' ? 2 * normalSf(Math.abs(z)) : alternative === 'greater' ? normalSf(z) : normalCdf(z);
  return { ...base, p: Math.min(1, p), method, z, ...(note ? { note } : {}) };
}
