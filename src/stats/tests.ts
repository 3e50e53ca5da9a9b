/**
 * Hypothesis tests. Welch's t-test lives here; the rank and permutation tests are in
 * their own files and re-exported so callers can import every test from one place.
 *
 * @module
 */
import ttest2 from '@stdlib/stats-ttest2';
import { varianceOf } from './describe.ts';
import { tCdf } from './special.ts';
import { type Alternative, checkAlternative, finiteArray, sum } from './validate.ts';

export { mannWhitneyU, mannWhitneyNullPmf, MWU_EXACT_MAX_CELLS } from './mannwhitney.ts';
export type { MannWhitneyOptions, MannWhitneyResult } from './mannwhitney.ts';
export { wilcoxonSignedRank, WILCOXON_EXACT_MAX_N } from './wilcoxon.ts';
export type { WilcoxonOptions, WilcoxonResult } from './wilcoxon.ts';
export { permutationTest, pairedPermutationTest, PAIRED_EXACT_MAX_N } from './permutation.ts';
export type { PermutationOptions, PairedPermutationOptions, PermutationResult, TwoSampleStatistic } from './permutation.ts';

/** Result of {@link welchT}. Undefined quantities are `null` (never NaN), with a `note`. */
export interface WelchResult {
  /** t statistic (mean(x) − mean(y)) / sqrt(s²x/nx + s²y/ny); null if undefined. */
  t: number | null;
  /** Welch–Satterthwaite degrees of freedom; null if undefined. */
  df: number | null;
  /** p-value for `alternative`; null if undefined. */
  p: number | null;
  meanX: number;
  meanY: number;
  nX: number;
  nY: number;
  alternative: Alternative;
  /** Why t/df/p are null, when they are. */
  note?: string;
}

/**
 * Welch's unequal-variance two-sample t-test (`scipy.stats.ttest_ind(x, y,
 * equal_var=False)`), via `@stdlib/stats-ttest2` with `variance: 'unequal'`.
 *
 * Assumes independent samples from approximately normal populations; variances may
 * differ. p-values are computed from the t CDF as `2·F(−|t|)` / `F(−t)` / `F(t)`
 * (no `1 − F` cancellation, unlike @stdlib's one-sided p-values).
 *
 * Defined-result policy (SciPy returns NaN in these cases):
 * - nX < 2 or nY < 2: variance undefined → `t`, `df`, `p` are null.
 * - both samples have zero variance: standard error is 0 → `t`, `df`, `p` are null
 *   (even if the means differ, the t-test cannot quantify it; use a rank test).
 * One zero-variance sample is fine (df = n − 1 of the other sample).
 *
 * @param x - first sample (finite, non-empty)
 * @param y - second sample (finite, non-empty)
 * @throws Error on empty input; RangeError on NaN/±Infinity
 */
export function welchT(x: ArrayLike<number>, y: ArrayLike<number>, opts: { alternative?: Alternative } = {}): WelchResult {
  const fn = 'welchT';
  const xs = finiteArray(fn, 'x', x);
  const ys = finiteArray(fn, 'y', y);
  const alternative = checkAlternative(fn, opts.alternative);
  const base = { meanX: sum(xs) / xs.length, meanY: sum(ys) / ys.length, nX: xs.length, nY: ys.length, alternative };
  if (xs.length < 2 || ys.length < 2) {
    return { ...base, t: null, df: null, p: null, note: 'each sample needs at least 2 observations for a variance' };
  }
  if (varianceOf(xs) === 0 && varianceOf(ys) === 0) {
    return { ...base, t: null, df: null, p: null, note: 'both samples have zero variance; t is undefined' };
  }
  const res = ttest2(xs, ys, { variance: 'unequal', alternative: 'two-sided' });
  const t = res.statistic;
  const df = res.df;
  const p = alternative === 'two-sided' ? 2 * tCdf(-Math.abs(t), df) : alternative === 'greater' ? tCdf(-t, df) : tCdf(t, df);
  return { ...base, t, df, p: Math.min(1, p) };
}
