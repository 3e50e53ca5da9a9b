import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benjaminiHochberg, holm } from '../../src/stats/correct.ts';
import { closeAll } from './helpers.ts';

// statsmodels is not installed; expected values computed by hand in numpy (same formulas
// as statsmodels.stats.multitest.multipletests / R p.adjust):
//   o = argsort(p, kind='mergesort'); ps = p[o]; m = len(p)
//   holm: minimum(1, maximum.accumulate((m - arange(m)) * ps))            -> scattered back to o
//   bh:   minimum(1, minimum.accumulate((m / arange(m, 0, -1)) * ps[::-1]))[::-1] -> scattered back
const P = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04, 0.9, 0.0];
const HOLM = [0.06, 0.16, 0.15, 0.035, 0.4, 0.16, 0.9, 0.0];
const BH = [0.026666666666666665, 0.05333333333333333, 0.05333333333333333, 0.02, 0.22857142857142856, 0.05333333333333333, 0.9, 0.0];

test('holm matches the numpy step-down formula', () => {
  closeAll(holm(P), HOLM, 1e-12);
  // two p-values: [0.02, 0.03] -> [0.04, 0.04] (monotonicity enforced by the running max)
  closeAll(holm([0.02, 0.03]), [0.04, 0.04], 1e-12);
});

test('benjaminiHochberg matches the numpy step-up formula', () => {
  closeAll(benjaminiHochberg(P), BH, 1e-12);
});

test('adjusted values are monotone in p, >= p and capped at 1', () => {
  const p = [0.5, 0.7, 0.9, 0.95, 0.99];
  for (const adj of [holm(p), benjaminiHochberg(p)]) {
    adj.forEach((v, i) => {
      assert.ok(v !== null && v >= p[i]! && v <= 1);
    });
    const order = p.map((_, i) => i).sort((a, b) => p[a]! - p[b]!);
    for (let k = 1; k < order.length; k++) assert.ok(adj[order[k]!]! >= adj[order[k - 1]!]!);
  }
  assert.deepEqual(holm(p), [1, 1, 1, 1, 1]);
});

test('null p-values pass through and are excluded from m', () => {
  // m = 3 for the non-null entries [0.01, 0.04, 0.03]: holm -> [0.03, 0.06, 0.06]; bh -> [0.03, 0.04, 0.04]
  closeAll(holm([0.01, null, 0.04, 0.03, null]), [0.03, null, 0.06, 0.06, null], 1e-12);
  closeAll(benjaminiHochberg([0.01, null, 0.04, 0.03, null]), [0.03, null, 0.04, 0.04, null], 1e-12);
  assert.deepEqual(holm([null, null]), [null, null]);
  assert.deepEqual(benjaminiHochberg([]), []);
  assert.deepEqual(holm([0.2]), [0.2]);
});

test('invalid p-values throw', () => {
  assert.throws(() => holm([0.1, Number.NaN]), /pvals\[1\] is NaN/);
  assert.throws(() => benjaminiHochberg([1.2]), /pvals\[0\] is 1.2/);
  assert.throws(() => holm([-0.1]), RangeError);
});
