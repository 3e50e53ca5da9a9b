import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../../src/stats/rng.ts';
import { pairedPermutationTest, permutationTest } from '../../src/stats/tests.ts';
import { close } from './helpers.ts';

const X = [1.2, 3.4, 2.2, 5.1, 4.4, 2.9];
const Y = [0.5, 1.1, 2.0, 1.7, 0.9, 1.4, 2.6];
const D = [1.5, -0.3, 2.2, 0.8, -1.1, 3.0, 0.4, 1.9];

test('two-sample exact enumeration equals the full enumeration count', () => {
  const rng = createRng(1, 'perm');
  // Python: itertools.combinations over the 13 pooled values, T = mean(A) - mean(rest):
  //   total 1716; #|T| >= |T_obs| = 29; #T >= T_obs = 17; #T <= T_obs = 1703
  const two = permutationTest(X, Y, { rng });
  assert.equal(two.method, 'exact');
  assert.equal(two.nPermutations, 1716);
  close(two.observed, 3.2 - 1.457142857142857, 1e-13);
  close(two.p, 29 / 1716, 1e-14);
  // scipy.stats.permutation_test((X, Y), mean-diff, permutation_type='independent',
  //   alternative='greater', n_resamples=numpy.inf).pvalue = 0.009906759906759906 (= 17/1716)
  close(permutationTest(X, Y, { rng, alternative: 'greater' }).p, 0.009906759906759906, 1e-12);
  // same with alternative='less': 0.9924242424242424 (= 1703/1716)
  close(permutationTest(X, Y, { rng, alternative: 'less' }).p, 0.9924242424242424, 1e-12);
});

test('exact enumeration counts tied statistics as extreme (ties in data)', () => {
  const rng = createRng(1, 'perm');
  // Python enumeration for x=[1,1,2], y=[1,2,2,3]: total 35; two 13; greater 34; less 10
  assert.equal(permutationTest([1, 1, 2], [1, 2, 2, 3], { rng }).p, 13 / 35);
  assert.equal(permutationTest([1, 1, 2], [1, 2, 2, 3], { rng, alternative: 'greater' }).p, 34 / 35);
  assert.equal(permutationTest([1, 1, 2], [1, 2, 2, 3], { rng, alternative: 'less' }).p, 10 / 35);
  // Identical groups: every split is at least as extreme as T_obs = 0.
  assert.equal(permutationTest([1, 2, 3], [1, 2, 3], { rng }).p, 1);
  // Fully separated 3 vs 3: exact two-sided p = 2 / C(6,3) = 0.1, one-sided 1/20.
  assert.equal(permutationTest([4, 5, 6], [1, 2, 3], { rng }).p, 0.1);
  assert.equal(permutationTest([4, 5, 6], [1, 2, 3], { rng, alternative: 'greater' }).p, 0.05);
});

test('Monte Carlo p uses (count + 1)/(B + 1), is reproducible and close to the exact p', () => {
  const a = permutationTest(X, Y, { rng: createRng(3, 'mc'), nPermutations: 1000 });
  const b = permutationTest(X, Y, { rng: createRng(3, 'mc'), nPermutations: 1000 });
  assert.equal(a.method, 'monte-carlo');
  assert.equal(a.p, b.p);
  const count = a.p * 1001 - 1;
  close(count, Math.round(count), 0, 1e-9); // p·(B+1) − 1 is an integer count
  assert.ok(a.p >= 1 / 1001 && a.p <= 1);
  // exact 29/1716 ≈ 0.0169; binomial SE at B = 1000 is ≈ 0.004
  assert.ok(Math.abs(a.p - 29 / 1716) < 0.015, `MC p ${a.p}`);
  // Separated groups: no permutation is as extreme, so p hits its floor 1/(B+1).
  const big = Array.from({ length: 12 }, (_, i) => 100 + i);
  const small = Array.from({ length: 12 }, (_, i) => i);
  assert.equal(permutationTest(big, small, { rng: createRng(3, 'mc'), nPermutations: 499 }).p, 1 / 500);
});

test('custom statistic is supported (exact path)', () => {
  const medianDiff = (x: number[], y: number[]): number => {
    const med = (a: number[]): number => {
      const s = a.slice().sort((u, v) => u - v);
      const m = s.length >> 1;
      return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
    };
    return med(x) - med(y);
  };
  const r = permutationTest([4, 5, 6], [1, 2, 3], { rng: createRng(1, 'p'), statistic: medianDiff });
  assert.equal(r.observed, 3);
  // Python: itertools.combinations of [4,5,6,1,2,3] into 3+3, |median(A) - median(B)| >= 3 -> 4 of 20
  assert.equal(r.p, 4 / 20);
});

test('paired sign-flip exact enumeration (n = 8) equals the 2^8 enumeration', () => {
  const rng = createRng(1, 'paired');
  // Python: itertools.product([1,-1], repeat=8); T = mean(s*d): total 256; two 18; greater 9; less 248
  const two = pairedPermutationTest(D, { rng });
  assert.equal(two.method, 'exact');
  assert.equal(two.nPermutations, 256);
  close(two.observed, 1.05, 1e-14);
  close(two.p, 18 / 256, 1e-14);
  // scipy.stats.permutation_test((D,), numpy.mean, permutation_type='samples',
  //   alternative='greater', n_resamples=numpy.inf).pvalue = 0.03515625 (= 9/256)
  close(pairedPermutationTest(D, { rng, alternative: 'greater' }).p, 0.03515625, 1e-14);
  close(pairedPermutationTest(D, { rng, alternative: 'less' }).p, 248 / 256, 1e-14);
  // Known answer: all-positive d = [1,2,3] -> one-sided 1/8, two-sided 2/8.
  assert.equal(pairedPermutationTest([1, 2, 3], { rng, alternative: 'greater' }).p, 1 / 8);
  assert.equal(pairedPermutationTest([1, 2, 3], { rng }).p, 0.25);
  assert.equal(pairedPermutationTest([0, 0, 0], { rng }).p, 1);
});

test('paired Monte Carlo (n = 20) is reproducible and bounded', () => {
  const d = Array.from({ length: 20 }, (_, i) => Math.sin(i + 1) + 0.4);
  const a = pairedPermutationTest(d, { rng: createRng(5, 'sf'), nPermutations: 2000 });
  const b = pairedPermutationTest(d, { rng: createRng(5, 'sf'), nPermutations: 2000 });
  assert.equal(a.method, 'monte-carlo');
  assert.equal(a.p, b.p);
  assert.ok(a.p >= 1 / 2001 && a.p <= 1);
  const c = pairedPermutationTest(d, { rng: createRng(6, 'sf'), nPermutations: 2000 });
  assert.ok(Math.abs(a.p - c.p) < 0.03, `${a.p} vs ${c.p}`);
  const pos = Array.from({ length: 20 }, (_, i) => i + 1);
  assert.equal(pairedPermutationTest(pos, { rng: createRng(5, 'sf'), nPermutations: 999, alternative: 'greater' }).p, 1 / 1000);
});

test('invalid input throws a clear error', () => {
  const rng = createRng(1, 'x');
  assert.throws(() => permutationTest([], [1], { rng }), /x is empty/);
  assert.throws(() => permutationTest([1, Infinity], [1], { rng }), /x\[1\] is Infinity/);
  assert.throws(() => permutationTest([1], [2], { rng, nPermutations: 0 }), /nPermutations/);
  assert.throws(() => pairedPermutationTest([], { rng }), /diffs is empty/);
  assert.throws(() => pairedPermutationTest([Number.NaN], { rng }), /diffs\[0\] is NaN/);
  assert.throws(() => permutationTest(X, Y, { rng, nPermutations: 10, statistic: () => Number.NaN }), /non-finite/);
});
