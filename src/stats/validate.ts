/**
 * Input validation shared by the statistics modules.
 *
 * Policy (applies to every public function in `src/stats`):
 * - Non-finite input (`NaN`, `Infinity`, `-Infinity`) is always a programming or
 *   data error and throws a `RangeError` naming the function, the argument and the
 *   offending index. Statistics are never silently computed on NaN.
 * - Empty input to a *test* (`welchT`, `mannWhitneyU`, ...) throws an `Error`, because a
 *   test on nothing is a caller bug. Descriptive statistics instead return `null`
 *   for sizes where the quantity is undefined (see `describe.ts`).
 * - Results that are mathematically undefined for valid input (zero variance, n < 2)
 *   are reported as `null` with a `note` string — never `NaN` — so result objects can
 *   be written to JSON losslessly.
 *
 * @module
 */

/** Alternative hypothesis, with the same meaning as SciPy's `alternative` argument. */
export type Alternative = 'two-sided' | 'greater' | 'less';

/**
 * Copies `xs` into a plain array after checking every element is a finite number.
 *
 * @param fn - name of the calling public function (used in the error message)
 * @param name - name of the argument (used in the error message)
 * @param xs - values to check
 * @param allowEmpty - when false (default) an empty array throws
 * @returns a fresh `number[]` copy of the input
 * @throws TypeError if `xs` is not array-like; RangeError naming the first non-finite
 *   element; Error if empty and `allowEmpty` is false
 */
export function finiteArray(fn: string, name: string, xs: ArrayLike<number>, allowEmpty = false): number[] {
  if (xs === null || typeof xs !== 'object' || typeof xs.length !== 'number') {
    throw new TypeError(`${fn}: ${name} must be an array of numbers`);
  }
  const out = new Array<number>(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    if (typeof v !== 'number') {
      throw new TypeError(`${fn}: ${name}[${i}] is not a number (got ${typeof v})`);
    }
    if (!Number.isFinite(v)) {
      throw new RangeError(`${fn}: ${name}[${i}] is ${String(v)}; all inputs must be finite numbers (no NaN/Infinity)`);
    }
    out[i] = v;
  }
  if (!allowEmpty && out.length === 0) {
    throw new Error(`${fn}: ${name} is empty; at least one observation is required`);
  }
  return out;
}

/**
 * Validates an `alternative` option (undefined means `'two-sided'`).
 *
 * @throws Error when the value is not one of `'two-sided' | 'greater' | 'less'`
 */
export function checkAlternative(fn: string, alt: string | undefined): Alternative {
  const a = alt ?? 'two-sided';
  if (a !== 'two-sided' && a !== 'greater' && a !== 'less') {
    throw new Error(`${fn}: alternative must be 'two-sided', 'greater' or 'less' (got '${a}')`);
  }
  return a;
}

/**
 * Validates a positive-integer count option such as `nPermutations` or `nBoot`.
 *
 * @throws RangeError when `n` is not an integer ≥ `min`
 */
export function checkCount(fn: string, name: string, n: number, min = 1): number {
  if (!Number.isInteger(n) || n < min) {
    throw new RangeError(`${fn}: ${name} must be an integer >= ${min} (got ${String(n)})`);
  }
  return n;
}

/**
 * Paired differences `x[i] - y[i]`, validating both arrays and equal length.
 *
 * @throws Error when lengths differ or inputs are empty; RangeError on non-finite values
 */
export function pairedDiffs(fn: string, x: ArrayLike<number>, y: ArrayLike<number>): number[] {
  const xs = finiteArray(fn, 'x', x);
  const ys = finiteArray(fn, 'y', y);
  if (xs.length !== ys.length) {
    throw new Error(`${fn}: paired samples must have equal length (x: ${xs.length}, y: ${ys.length})`);
  }
  return xs.map((v, i) => v - ys[i]!);
}

/**
 * Neumaier-compensated sum (accurate to ~1 ulp for typical data).
 */
export function sum(xs: readonly number[]): number {
  let s = 0;
  let c = 0;
  for (const v of xs) {
    const t = s + v;
    if (Math.abs(s) >= Math.abs(v)) c += s - t + v;
    else c += v - t + s;
    s = t;
  }
  return s + c;
}

/** Σ (t³ − t) over groups of equal values (t = group size); 0 when there are no ties. */
export function tieTerm(values: readonly number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  let term = 0;
  let i = 0;
  while (i < s.length) {
    let j = i + 1;
    while (j < s.length && s[j] === s[i]) j++;
    const t = j - i;
    term += t * t * t - t;
    i = j;
  }
  return term;
}
