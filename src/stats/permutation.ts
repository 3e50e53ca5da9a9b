/**
 * Permutation tests: two independent samples (label shuffling) and paired samples
 * (sign flipping). Exact enumeration when the reference set is small, seeded Monte
 * Carlo otherwise.
 *
 * p-value conventions (documented because they differ between libraries):
 * - Exact enumeration: p = #{π : T(π) at least as extreme as T_obs} / #π, where the
 *   identity arrangement is one of the π. This is the exact permutation p-value.
 * - Monte Carlo: p = (#{b : T_b at least as extreme as T_obs} + 1) / (B + 1)
 *   (Davison & Hinkley 1997; Phipson & Smyth 2010). Counting the observed arrangement
 *   as one of the B + 1 makes the test valid (P(p ≤ α) ≤ α under exchangeability) and
 *   p is never 0; the smallest attainable p is 1/(B + 1).
 * - "At least as extreme": `'greater'` T ≥ T_obs, `'less'` T ≤ T_obs, `'two-sided'`
 *   |T| ≥ |T_obs|. (SciPy's `permutation_test` instead doubles the smaller one-sided
 *   p-value for `'two-sided'`; the two agree for symmetric null distributions.)
 * - Comparisons allow a tolerance of 1e-12·max(|T_obs|, max|data|) so arrangements that
 *   tie with the observed one up to floating-point rounding are counted as ties.
 *
 * @module
 */
import type { Rng } from './rng.ts';
import { type Alternative, checkAlternative, checkCount, finiteArray, sum } from './validate.ts';

/** Two-sample statistic: a function of the two groups. */
export type TwoSampleStatistic = 'meanDiff' | ((x: number[], y: number[]) => number);

/** Options for {@link permutationTest}. */
export interface PermutationOptions {
  /** `'meanDiff'` (default): mean(x) − mean(y). Or any function of (x, y) returning a finite number. */
  statistic?: TwoSampleStatistic;
  /**
   * Monte Carlo permutations B (default 9999). If the number of distinct splits
   * C(nX+nY, nX) is ≤ B, all splits are enumerated instead (exact; same rule as SciPy).
   */
  nPermutations?: number;
  /** Random stream for Monte Carlo (required so every result is reproducible). */
  rng: Rng;
  alternative?: Alternative;
}

/** Result of a permutation test. */
export interface PermutationResult {
  /** Statistic on the observed data. */
  observed: number;
  /** p-value in (0, 1]. */
  p: number;
  method: 'exact' | 'monte-carlo';
  /** Arrangements evaluated: all of them (exact) or B (Monte Carlo). */
  nPermutations: number;
  alternative: Alternative;
}

function extremeness(alt: Alternative, observed: number, tol: number): (t: number) => boolean {
  if (alt === 'greater') return (t) => t >= observed - tol;
  if (alt === 'less') return (t) => t <= observed + tol;
  const a = Math.abs(observed);
  return (t) => Math.abs(t) >= a - tol;
}

function maxAbs(xs: readonly number[]): number {
  let m = 0;
  for (const v of xs) m = Math.max(m, Math.abs(v));
  return m;
}

/** Binomial coefficient as a double (exact below 2^53). */
export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  const kk = Math.min(k, n - k);
  let c = 1;
  for (let i = 1; i <= kk; i++) c = (c * (n - kk + i)) / i;
  return Math.round(c);
}

/**
 * Two-sample permutation test of exchangeability of group labels.
 *
 * Assumes observations are exchangeable between groups under H0 (e.g. same
 * distribution); with unequal variances the mean-difference test is not exact for the
 * hypothesis of equal means. See the module docs for the p-value convention.
 *
 * @param x - first group (finite, non-empty)
 * @param y - second group (finite, non-empty)
 * @param opts - see {@link PermutationOptions}; `rng` is required
 * @throws Error on empty input or a statistic returning a non-finite value;
 *   RangeError on NaN/±Infinity input or invalid `nPermutations`
 */
export function permutationTest(x: ArrayLike<number>, y: ArrayLike<number>, opts: PermutationOptions): PermutationResult {
  const fn = 'permutationTest';
  const xs = finiteArray(fn, 'x', x);
  const ys = finiteArray(fn, 'y', y);
  const alternative = checkAlternative(fn, opts.alternative);
  const B = checkCount(fn, 'nPermutations', opts.nPermutations ?? 9999);
  const stat = opts.statistic ?? 'meanDiff';
  const nx = xs.length;
  const ny = ys.length;
  const pooled = xs.concat(ys);
  const total = sum(pooled);
  const meanDiffOfSum = (sx: number): number => sx / nx - (total - sx) / ny;
  const evalSplit = (inX: number[], inY: number[]): number => {
    const v = stat === 'meanDiff' ? sum(inX) / nx - sum(inY) / ny : stat(inX, inY);
    if (!Number.isFinite(v)) throw new Error(`${fn}: statistic returned a non-finite value (${String(v)})`);
    return v;
  };
  const observed = evalSplit(xs, ys);
  const tol = 1e-12 * Math.max(Math.abs(observed), maxAbs(pooled));
  const extreme = extremeness(alternative, observed, tol);

  const nSplits = binomial(nx + ny, nx);
  if (nSplits <= B) {
    let count = 0;
    const chosen: number[] = [];
    const N = pooled.length;
    // Enumerate nx-subsets of indices (lexicographic); running sum for meanDiff.
    const rec = (start: number, sx: number): void => {
      if (chosen.length === nx) {
        let t: number;
        if (stat === 'meanDiff') t = meanDiffOfSum(sx);
        else {
          const set = new Set(chosen);
          t = evalSplit(chosen.map((i) => pooled[i]!), pooled.filter((_, i) => !set.has(i)));
        }
        if (extreme(t)) count++;
        return;
      }
      for (let i = start; i <= N - (nx - chosen.length); i++) {
        chosen.push(i);
        rec(i + 1, sx + pooled[i]!);
        chosen.pop();
      }
    };
    rec(0, 0);
    return { observed, p: count / nSplits, method: 'exact', nPermutations: nSplits, alternative };
  }

  const { rng } = opts;
  if (!rng || typeof rng.int !== 'function') throw new Error(`${fn}: opts.rng (from createRng) is required`);
  const pool = pooled.slice();
  let count = 0;
  for (let b = 0; b < B; b++) {
    rng.shuffle(pool);
    const t = stat === 'meanDiff' ? meanDiffOfSum(sum(pool.slice(0, nx))) : evalSplit(pool.slice(0, nx), pool.slice(nx));
    if (extreme(t)) count++;
  }
  return { observed, p: (count + 1) / (B + 1), method: 'monte-carlo', nPermutations: B, alternative };
}

/** Options for {@link pairedPermutationTest}. */
export interface PairedPermutationOptions {
  /** Monte Carlo sign-flip draws B (default 9999); unused when n ≤ 16 (exact). */
  nPermutations?: number;
  /** Random stream for Monte Carlo (required so every result is reproducible). */
  rng: Rng;
  /** `'greater'`: the mean difference is positive. Default `'two-sided'`. */
  alternative?: Alternative;
}

/** Largest n for which all 2^n sign patterns are enumerated. */
export const PAIRED_EXACT_MAX_N = 16;

/**
 * Paired (one-sample) sign-flip permutation test on differences, statistic mean(d).
 *
 * Assumes the differences are independent and symmetric about 0 under H0 (e.g.
 * knockout-minus-control per prompt). For n ≤ 16 all 2^n sign assignments are
 * enumerated (exact p); otherwise B random sign vectors are drawn and
 * p = (count + 1)/(B + 1). Zero differences are kept (flipping them changes nothing).
 *
 * @param diffs - paired differences (finite, non-empty)
 * @throws Error on empty input; RangeError on NaN/±Infinity or invalid `nPermutations`
 */
export function pairedPermutationTest(diffs: ArrayLike<number>, opts: PairedPermutationOptions): PermutationResult {
  const fn = 'pairedPermutationTest';
  const d = finiteArray(fn, 'diffs', diffs);
  const alternative = checkAlternative(fn, opts.alternative);
  const B = checkCount(fn, 'nPermutations', opts.nPermutations ?? 9999);
  const n = d.length;
  const observed = sum(d) / n;
  const tol = 1e-12 * Math.max(Math.abs(observed), maxAbs(d));
  const extreme = extremeness(alternative, observed, tol);

  if (n <= PAIRED_EXACT_MAX_N) {
    const total = 2 ** n;
    let count = 0;
    for (let mask = 0; mask < total; mask++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += mask & (1 << i) ? -d[i]! : d[i]!;
      if (extreme(s / n)) count++;
    }
    return { observed, p: count / total, method: 'exact', nPermutations: total, alternative };
  }

  const { rng } = opts;
  if (!rng || typeof rng.uint32 !== 'function') throw new Error(`${fn}: opts.rng (from createRng) is required`);
  let count = 0;
  const flipped = new Array<number>(n);
  for (let b = 0; b < B; b++) {
    let bits = 0;
    for (let i = 0; i < n; i++) {
      if (i % 32 === 0) bits = rng.uint32();
      flipped[i] = bits & 1 ? -d[i]! : d[i]!;
      bits >>>= 1;
    }
    if (extreme(sum(flipped) / n)) count++;
  }
  return { observed, p: (count + 1) / (B + 1), method: 'monte-carlo', nPermutations: B, alternative };
}
