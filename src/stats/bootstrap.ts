/**
 * Nonparametric bootstrap confidence intervals (percentile and BCa), for statistics of
 * one sample or of two independent samples (each resampled separately, i.e. stratified).
 * The BCa construction follows Efron & Tibshirani (1993) §14.3 and Eq. 15.36, exactly as
 * `scipy.stats.bootstrap(method='BCa')` does in SciPy 1.10 (including its multi-sample
 * jackknife acceleration and its "mean" percentile-of-score for ẑ₀).
 *
 * @module
 */
import { quantileSorted } from './describe.ts';
import type { Rng } from './rng.ts';
import { normalCdf, normalQuantile } from './special.ts';
import { checkCount, finiteArray } from './validate.ts';

/** Options for bootstrap confidence intervals. */
export interface BootstrapOptions {
  /** Number of bootstrap resamples B (default 9999, as SciPy). */
  nBoot?: number;
  /** Random stream (required, for reproducibility). */
  rng: Rng;
  /** Confidence level in (0, 1) (default 0.95). */
  level?: number;
  /**
   * `'bca'` (default, as SciPy): bias-corrected and accelerated. When BCa is undefined
   * (e.g. every bootstrap value lies on one side of the estimate, or a jackknife
   * statistic is undefined) the percentile interval is returned instead, `method` says
   * `'percentile'` and `note` says why. `'percentile'`: plain percentile interval.
   */
  method?: 'percentile' | 'bca';
}

/** A bootstrap confidence interval; `lo`/`hi` are `null` when no interval can be given. */
export interface BootstrapCI {
  /** Statistic on the original data (null if undefined there). */
  estimate: number | null;
  lo: number | null;
  hi: number | null;
  level: number;
  /** Interval construction actually used. */
  method: 'percentile' | 'bca';
  nBoot: number;
  /** Resamples on which the statistic was undefined (null/NaN) and which were dropped. */
  nInvalid: number;
  note?: string;
}

/**
 * Statistic on resampled data. Return `null` (or NaN) where undefined; such resamples
 * are dropped and counted in `nInvalid`. ±Infinity is allowed (it orders correctly,
 * e.g. a standardized effect of a zero-variance resample).
 */
export type SampleStatistic = (samples: number[][]) => number | null;

/** Quantities of the BCa construction (exported for testing against SciPy). */
export interface BcaLevels {
  /** Bias correction ẑ₀ = Φ⁻¹((#{θ*<θ̂} + #{θ*≤θ̂}) / 2B). */
  z0: number;
  /** Acceleration â from the (per-sample) jackknife. */
  a: number;
  /** Adjusted lower / upper percentile levels in [0, 1]. */
  alpha1: number;
  alpha2: number;
}

/**
 * BCa adjusted percentile levels, given the estimate, the bootstrap replicates and
 * jackknife values (`jack[j][i]` = statistic with observation i of sample j left out).
 *
 * @returns the levels, or `null` if undefined (ẑ₀ infinite, non-finite jackknife values)
 */
export function bcaLevels(thetaHat: number, boot: readonly number[], jack: readonly (readonly number[])[], level: number): BcaLevels | null {
  let below = 0;
  let atOrBelow = 0;
  for (const t of boot) {
    if (t < thetaHat) below++;
    if (t <= thetaHat) atOrBelow++;
  }
  const z0 = normalQuantile((below + atOrBelow) / (2 * boot.length));
  if (!Number.isFinite(z0)) return null;
  let num = 0;
  let den = 0;
  for (const tj of jack) {
    const n = tj.length;
    if (n === 0 || tj.some((v) => !Number.isFinite(v))) return null;
    const m = tj.reduce((s, v) => s + v, 0) / n;
    let s3 = 0;
    let s2 = 0;
    for (const v of tj) {
      const u = (n - 1) * (m - v);
      s3 += u * u * u;
      s2 += u * u;
    }
    num += s3 / n ** 3;
    den += s2 / n ** 2;
  }
  // A statistic constant under leave-one-out has no jackknife skewness: take â = 0
  // (SciPy gets 0/0 = NaN and gives up).
  const a = den > 0 ? num / (6 * den ** 1.5) : 0;
  const za = normalQuantile((1 - level) / 2);
  const adj = (zq: number): number => normalCdf(z0 + (z0 + zq) / (1 - a * (z0 + zq)));
  const alpha1 = adj(za);
  const alpha2 = adj(-za);
  if (!(alpha1 >= 0 && alpha1 <= 1 && alpha2 >= 0 && alpha2 <= 1)) return null;
  return { z0, a, alpha1, alpha2 };
}

function asStat(v: number | null): number | null {
  return v === null || Number.isNaN(v) ? null : v;
}

/**
 * Bootstrap CI for a statistic of k ≥ 1 independent samples; each sample is resampled
 * with replacement at its own size. This is the engine behind {@link bootstrapCI} and
 * {@link bootstrapCI1}.
 *
 * @throws RangeError on non-finite data, invalid `nBoot` or `level`; Error on empty samples
 */
export function bootstrapSamples(samples: readonly ArrayLike<number>[], stat: SampleStatistic, opts: BootstrapOptions): BootstrapCI {
  const fn = 'bootstrapCI';
  const data = samples.map((s, j) => finiteArray(fn, `samples[${j}]`, s));
  const B = checkCount(fn, 'nBoot', opts.nBoot ?? 9999, 2);
  const level = opts.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new RangeError(`${fn}: level must be in (0, 1) (got ${String(level)})`);
  const wanted = opts.method ?? 'bca';
  if (wanted !== 'bca' && wanted !== 'percentile') throw new Error(`${fn}: method must be 'percentile' or 'bca'`);
  const { rng } = opts;
  if (!rng || typeof rng.int !== 'function') throw new Error(`${fn}: opts.rng (from createRng) is required`);

  const estimate = asStat(stat(data.map((s) => s.slice())));
  const out = { level, nBoot: B };
  if (estimate === null || !Number.isFinite(estimate)) {
    return { ...out, estimate: null, lo: null, hi: null, method: wanted, nInvalid: 0, note: 'statistic is undefined on the observed data' };
  }
  const boot: number[] = [];
  let nInvalid = 0;
  for (let b = 0; b < B; b++) {
    const res = data.map((s) => {
      const r = new Array<number>(s.length);
      for (let i = 0; i < s.length; i++) r[i] = s[rng.int(s.length)]!;
      return r;
    });
    const v = asStat(stat(res));
    if (v === null) nInvalid++;
    else boot.push(v);
  }
  const notes: string[] = [];
  if (nInvalid > 0) notes.push(`${nInvalid} of ${B} resamples gave an undefined statistic and were dropped`);
  if (boot.length < 2) {
    notes.push('fewer than 2 valid bootstrap replicates');
    return { ...out, estimate, lo: null, hi: null, method: wanted, nInvalid, note: notes.join('; ') };
  }
  boot.sort((u, v) => u - v);
  let method: 'percentile' | 'bca' = 'percentile';
  let q1 = (1 - level) / 2;
  let q2 = 1 - q1;
  if (wanted === 'bca') {
    const jack = data.map((s, j) =>
      s.map((_, i) => {
        const reduced = data.map((t) => t.slice());
        reduced[j] = s.filter((_, k) => k !== i);
        const v = asStat(stat(reduced));
        return v === null ? NaN : v;
      }),
    );
    const lv = bcaLevels(estimate, boot, jack, level);
    if (lv) {
      method = 'bca';
      q1 = lv.alpha1;
      q2 = lv.alpha2;
    } else {
      notes.push('BCa undefined (degenerate bootstrap distribution or undefined jackknife statistic); percentile interval reported');
    }
  }
  let lo: number | null = quantileSorted(boot, q1);
  let hi: number | null = quantileSorted(boot, q2);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    notes.push('an interval endpoint is infinite (degenerate resamples); endpoints set to null');
    lo = Number.isFinite(lo) ? lo : null;
    hi = Number.isFinite(hi) ? hi : null;
  }
  return { ...out, estimate, lo, hi, method, nInvalid, ...(notes.length ? { note: notes.join('; ') } : {}) };
}

/**
 * Two-sample bootstrap CI for `statFn(x, y)`, resampling x and y independently
 * (stratified bootstrap, as `scipy.stats.bootstrap((x, y), ...)`).
 *
 * @param x - first sample (finite, non-empty)
 * @param y - second sample (finite, non-empty)
 * @param statFn - statistic; may return null/NaN where undefined (see {@link SampleStatistic})
 * @param opts - B, rng (required), level, method
 */
export function bootstrapCI(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  statFn: (x: number[], y: number[]) => number | null,
  opts: BootstrapOptions,
): BootstrapCI {
  return bootstrapSamples([x, y], (s) => statFn(s[0]!, s[1]!), opts);
}

/**
 * One-sample bootstrap CI for `statFn(x)` (e.g. a mean paired difference).
 *
 * @param x - sample (finite, non-empty)
 * @param statFn - statistic; may return null/NaN where undefined
 * @param opts - B, rng (required), level, method
 */
export function bootstrapCI1(x: ArrayLike<number>, statFn: (x: number[]) => number | null, opts: BootstrapOptions): BootstrapCI {
  return bootstrapSamples([x], (s) => statFn(s[0]!), opts);
}
