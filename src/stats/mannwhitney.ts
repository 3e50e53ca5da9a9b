/**
 * Mann–Whitney U test (Wilcoxon rank-sum), matching `scipy.stats.mannwhitneyu`
 * (SciPy 1.10) with `use_continuity=True`, `method='auto'`.
 *
 * @module
 */
import ranks from '@stdlib/stats-ranks';
import { normalSf } from './special.ts';
import { type Alternative, checkAlternative, finiteArray, sum, tieTerm } from './validate.ts';

/** Options for {@link mannWhitneyU}. */
export interface MannWhitneyOptions {
  /** Alternative hypothesis about x relative to y (default `'two-sided'`). `'greater'`: x tends to be larger. */
  alternative?: Alternative;
  /**
   * `'auto'` (default, SciPy's rule): exact when at least one sample has ≤ 8
   * observations and there are no ties, otherwise normal. `'exact'` forces the exact
   * null distribution (throws if there are ties); `'normal'` forces the approximation.
   */
  method?: 'auto' | 'exact' | 'normal';
  /** Continuity correction of 0.5 in the normal approximation (default true, as SciPy). */
  continuity?: boolean;
}

/** Result of {@link mannWhitneyU}. */
export interface MannWhitneyResult {
  /** U statistic for x: number of pairs (xᵢ, yⱼ) with xᵢ > yⱼ plus half the ties (SciPy's `statistic`). */
  U: number;
  /** p-value for the requested alternative, in [0, 1]. */
  p: number;
  /** How the p-value was computed. */
  method: 'exact' | 'normal';
  alternative: Alternative;
  nX: number;
  nY: number;
  /** Standardised statistic of the normal approximation (null for the exact method). */
  z: number | null;
  /** Present when something notable happened (e.g. all values tied). */
  note?: string;
}

/** Largest nX·nY for which the exact null distribution is computed (O((nX·nY)²/2) work). */
export const MWU_EXACT_MAX_CELLS = 10000;

const pmfCache = new Map<string, Float64Array>();

/**
 * Exact null distribution of U for sample sizes (m, n) with no ties: element k is
 * P(U = k), k = 0..m·n. Uses the probability recurrence
 * `p_{m,n}(k) = m/(m+n)·p_{m-1,n}(k−n) + n/(m+n)·p_{m,n−1}(k)` (the largest pooled
 * observation is an x, contributing n to U, with probability m/(m+n)); working with
 * probabilities instead of counts avoids overflow of C(m+n, m). Results are cached.
 *
 * @param m - size of the first sample (≥ 0 integer)
 * @param n - size of the second sample (≥ 0 integer)
 */
export function mannWhitneyNullPmf(m: number, n: number): Float64Array {
  const key = `${m},${n}`;
  const hit = pmfCache.get(key);
  if (hit) return hit;
  // The distribution is symmetric in (m, n); iterate over the larger size.
  const small = Math.min(m, n);
  const large = Math.max(m, n);
  let prev: Float64Array[] = [];
  for (let j = 0; j <= large; j++) {
    const cur: Float64Array[] = [Float64Array.of(1)];
    for (let i = 1; i <= small; i++) {
      if (j === 0) {
        cur.push(Float64Array.of(1));
        continue;
      }
      const out = new Float64Array(i * j + 1);
      const w1 = i / (i + j);
      const w2 = j / (i + j);
      const left = cur[i - 1]!; // p_{i-1, j}: shift by j
      for (let k = 0; k < left.length; k++) out[k + j]! += w1 * left[k]!;
      const up = prev[i]!; // p_{i, j-1}
      for (let k = 0; k < up.length; k++) out[k]! += w2 * up[k]!;
      cur.push(out);
    }
    prev = cur;
  }
  const pmf = prev[small]!;
  if (pmfCache.size > 64) pmfCache.clear();
  pmfCache.set(key, pmf);
  return pmf;
}

/**
 * Mann–Whitney U test for two independent samples.
 *
 * Assumes independent observations within and between samples; tests whether
 * P(X > Y) + ½P(X = Y) differs from ½ (location-shift interpretation needs equal shapes).
 *
 * Follows `scipy.stats.mannwhitneyu` (1.10): `U` is U₁ = R₁ − n₁(n₁+1)/2 (R₁ = rank sum of
 * x, mid-ranks for ties). Two-sided p = 2·P(U ≥ max(U₁, U₂)); `'greater'` p = P(U ≥ U₁);
 * `'less'` p = P(U ≥ U₂), capped at 1. Exact method: the no-ties null distribution
 * ({@link mannWhitneyNullPmf}). Normal method: mean n₁n₂/2, SD
 * `sqrt(n₁n₂/12·((N+1) − Σ(t³−t)/(N(N−1))))` (tie-corrected), and 0.5 subtracted from
 * the (upper-tail) numerator when `continuity` is true.
 *
 * Deviation from SciPy: `'auto'` only picks the exact method when nX·nY ≤
 * {@link MWU_EXACT_MAX_CELLS} (SciPy would also run its exact recursion for e.g. 8 vs
 * 5000); beyond that the normal approximation is used. If every value is tied the
 * variance is 0; SciPy then returns p = 1 (via z = −∞), and so do we, with a `note`.
 *
 * @param x - first sample (finite values, non-empty)
 * @param y - second sample (finite values, non-empty)
 * @throws Error on empty input, or on `method: 'exact'` with ties or too many cells;
 *   RangeError on NaN/±Infinity
 */
export function mannWhitneyU(x: ArrayLike<number>, y: ArrayLike<number>, opts: MannWhitneyOptions = {}): MannWhitneyResult {
  const fn = 'mannWhitneyU';
  const xs = finiteArray(fn, 'x', x);
  const ys = finiteArray(fn, 'y', y);
  const alternative = checkAlternative(fn, opts.alternative);
  const requested = opts.method ?? 'auto';
  if (requested !== 'auto' && requested !== 'exact' && requested !== 'normal') {
    throw new Error(`${fn}: method must be 'auto', 'exact' or 'normal' (got '${String(requested)}')`);
  }
  const continuity = opts.continuity ?? true;
  const n1 = xs.length;
  const n2 = ys.length;
  const N = n1 + n2;
  const pooled = xs.concat(ys);
  const ties = tieTerm(pooled);
  const hasTies = ties > 0;

  let method: 'exact' | 'normal';
  if (requested === 'exact') {
    if (hasTies) throw new Error(`${fn}: method 'exact' requires no ties; use 'auto' or 'normal'`);
    if (n1 * n2 > MWU_EXACT_MAX_CELLS) {
      throw new Error(`${fn}: method 'exact' limited to nX*nY <= ${MWU_EXACT_MAX_CELLS} (got ${n1 * n2})`);
    }
    method = 'exact';
  } else if (requested === 'normal') {
    method = 'normal';
  } else {
    method = (n1 > 8 && n2 > 8) || hasTies || n1 * n2 > MWU_EXACT_MAX_CELLS ? 'normal' : 'exact';
  }

  const r = ranks(pooled);
  const R1 = sum(r.slice(0, n1));
  const U1 = R1 - (n1 * (n1 + 1)) / 2;
  const U2 = n1 * n2 - U1;
  const U = alternative === 'greater' ? U1 : alternative === 'less' ? U2 : Math.max(U1, U2);
  const factor = alternative === 'two-sided' ? 2 : 1;

  const base = { U: U1, alternative, nX: n1, nY: n2 };
  if (method === 'exact') {
    const pmf = mannWhitneyNullPmf(n1, n2);
    const k0 = Math.round(U);
    let tail = 0;
    for (let k = pmf.length - 1; k >= k0; k--) tail += pmf[k]!;
    return { ...base, p: Math.min(1, factor * tail), method, z: null };
  }
  const mu = (n1 * n2) / 2;
  const s = Math.sqrt(((n1 * n2) / 12) * (N + 1 - ties / (N * (N - 1))));
  if (!(s > 0)) {
    return { ...base, p: 1, method, z: null, note: 'all observations are tied; the statistic has zero variance, p set to 1 (as SciPy)' };
  }
  const z = (U - mu - (continuity ? 0.5 : 0)) / s;
  return { ...base, p: Math.min(1, factor * normalSf(z)), method, z };
}
