/** The study cost model on hand-computed cases: batched decode (memory- vs compute-bound) and the incremental knockout saving. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_COST, decodeSeconds, prefillSeconds } from '../../src/study/cost.ts';

const c = { ...DEFAULT_COST, decodeSecPerWeightByte: 1e-10, prefillSecPerParamToken: 1e-11 };

test('decode: a batched step costs one weight read when memory-bound, B rows of compute when compute-bound', () => {
  // 1 GB read = 0.1 s; 16 rows × 5e8 params × 1e-11 = 0.08 s → memory-bound; 160 tokens = 10 steps = 1.0 s
  assert.ok(Math.abs(decodeSeconds(1e9, 5e8, 160, { ...c, decodeBatch: 16 }) - 1.0) < 1e-12);
  // 64 rows: 0.32 s of compute per step > 0.1 s → compute-bound; 160 tokens = 2.5 steps = 0.8 s
  assert.ok(Math.abs(decodeSeconds(1e9, 5e8, 160, { ...c, decodeBatch: 64 }) - 0.8) < 1e-12);
  // one row at a time: every token reads the weights
  assert.ok(Math.abs(decodeSeconds(1e9, 5e8, 160, { ...c, decodeBatch: 1 }) - 16) < 1e-9);
});

test('prefill is linear in parameters × tokens', () => {
  assert.ok(Math.abs(prefillSeconds(5e8, 100, c) - 0.5) < 1e-12);
});
