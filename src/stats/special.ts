/**
 * Distribution helpers built on @stdlib: standard normal CDF / survival function /
 * quantile and Student-t tail probabilities, arranged to avoid `1 - cdf` cancellation
 * in the tails (the p-values we report can be as small as 1e-12).
 *
 * @module
 */
import normalCdfStdlib from '@stdlib/stats-base-dists-normal-cdf';
import tCdfStdlib from '@stdlib/stats-base-dists-t-cdf';

/** Standard normal CDF Φ(z) (via @stdlib). */
export function normalCdf(z: number): number {
  return normalCdfStdlib(z, 0, 1);
}

/** Standard normal survival function 1 − Φ(z), computed as Φ(−z) (no cancellation). */
export function normalSf(z: number): number {
  return normalCdfStdlib(-z, 0, 1);
}

/** Student-t CDF with `df` degrees of freedom (via @stdlib). */
export function tCdf(t: number, df: number): number {
  return tCdfStdlib(t, df);
}

// Acklam's rational approximation to Φ⁻¹ (relative error < 1.15e-9), refined below.
const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];

/**
 * Standard normal quantile Φ⁻¹(p) (SciPy's `ndtri`).
 *
 * @stdlib's normal quantile package is not a dependency of this project, so this uses
 * Acklam's rational approximation followed by one Halley step against the @stdlib
 * normal CDF, which brings the result to ~1e-15 relative accuracy. Upper-tail
 * arguments are reflected (`Φ⁻¹(p) = −Φ⁻¹(1−p)`, with `1−p` exact for p ≥ 0.5) so the
 * refinement always works in the accurate lower tail.
 *
 * @param p - probability in [0, 1]; 0 → −Infinity, 1 → +Infinity
 * @throws RangeError if `p` is outside [0, 1] or NaN
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normalQuantile: p must be in [0, 1] (got ${String(p)})`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p > 0.5) return -normalQuantile(1 - p);
  let x: number;
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((C[0]! * q + C[1]!) * q + C[2]!) * q + C[3]!) * q + C[4]!) * q + C[5]!) / ((((D[0]! * q + D[1]!) * q + D[2]!) * q + D[3]!) * q + 1);
  } else {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((A[0]! * r + A[1]!) * r + A[2]!) * r + A[3]!) * r + A[4]!) * r + A[5]!) * q) / (((((B[0]! * r + B[1]!) * r + B[2]!) * r + B[3]!) * r + B[4]!) * r + 1);
  }
  // One Halley step: e = Φ(x) − p, u = e / φ(x).
  const e = normalCdf(x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}
