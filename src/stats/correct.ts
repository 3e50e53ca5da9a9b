/**
 * Multiple-comparison adjustment of p-values (e.g. one test per layer).
 *
 * Null handling: entries that are `null` (a test that was undefined, see `tests.ts`)
 * are passed through as `null` and are NOT counted in the number of hypotheses m.
 * This treats an undefined test as "not performed". If you prefer the conservative
 * reading (count it, as if p = 1), replace nulls with 1 before calling.
 *
 * Both functions delegate the arithmetic to `@stdlib/stats-padjust` (R's `p.adjust`
 * algorithms) on the non-null subset and return adjusted values in the input order.
 *
 * @module
 */
import padjust from '@stdlib/stats-padjust';

function adjust(fn: string, method: 'holm' | 'bh', pvals: readonly (number | null)[]): (number | null)[] {
  if (!Array.isArray(pvals)) throw new TypeError(`${fn}: pvals must be an array`);
  const idx: number[] = [];
  const vals: number[] = [];
  pvals.forEach((p, i) => {
    if (p === null) return;
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
      throw new RangeError(`${fn}: pvals[${i}] is ${String(p)}; p-values must be numbers in [0, 1] or null`);
    }
    idx.push(i);
    vals.push(p);
  });
  const out: (number | null)[] = pvals.map(() => null);
  if (vals.length === 0) return out;
  const adj = padjust(vals, method);
  idx.forEach((i, k) => {
    out[i] = adj[k]!;
  });
  return out;
}

/**
 * Holm (1979) step-down adjustment; controls the family-wise error rate under any
 * dependence. With p sorted ascending, p̃₍ᵢ₎ = min(1, max_{j≤i} (m − j + 1)·p₍ⱼ₎),
 * i = 1..m (statsmodels `multipletests(method='holm')`, R `p.adjust(method='holm')`).
 *
 * @param pvals - p-values in [0, 1]; `null` entries pass through and are excluded from m
 * @returns adjusted p-values in the original order (monotone in p, capped at 1)
 * @throws RangeError for values outside [0, 1] or NaN
 */
export function holm(pvals: readonly (number | null)[]): (number | null)[] {
  return adjust('holm', 'holm', pvals);
}

/**
 * Benjamini–Hochberg (1995) step-up adjustment ("q-values" controlling the false
 * discovery rate under independence or positive dependence). With p sorted ascending,
 * p̃₍ᵢ₎ = min(1, min_{j≥i} m·p₍ⱼ₎ / j) (statsmodels `fdr_bh`, R `p.adjust(method='BH')`).
 *
 * @param pvals - p-values in [0, 1]; `null` entries pass through and are excluded from m
 * @returns adjusted p-values in the original order (monotone in p, capped at 1)
 * @throws RangeError for values outside [0, 1] or NaN
 */
export function benjaminiHochberg(pvals: readonly (number | null)[]): (number | null)[] {
  return adjust('benjaminiHochberg', 'bh', pvals);
}
