// Shared assertions for the stats tests (not a test file itself).
import assert from 'node:assert/strict';

/**
 * Asserts |actual − expected| ≤ atol + rtol·|expected| (numpy.isclose semantics).
 * `actual` may be null/undefined in the type so results with nullable fields can be passed.
 */
export function close(actual: number | null | undefined, expected: number, rtol = 1e-10, atol = 0, msg = ''): void {
  assert.equal(typeof actual, 'number', `${msg} expected a number, got ${String(actual)}`);
  const a = actual as number;
  const ok = Math.abs(a - expected) <= atol + rtol * Math.abs(expected);
  assert.ok(ok, `${msg} ${a} not within rtol=${rtol}, atol=${atol} of ${expected} (diff ${a - expected})`);
}

/** Element-wise {@link close} over arrays of equal length (nulls must match exactly). */
export function closeAll(actual: readonly (number | null)[], expected: readonly (number | null)[], rtol = 1e-10, atol = 0): void {
  assert.equal(actual.length, expected.length, 'length mismatch');
  expected.forEach((e, i) => {
    if (e === null) assert.equal(actual[i], null, `index ${i} should be null`);
    else close(actual[i], e, rtol, atol, `index ${i}:`);
  });
}
