import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mean, median, quantile, quantiles, sd, summarize, variance } from '../../src/stats/describe.ts';
import { normalQuantile, normalSf } from '../../src/stats/special.ts';
import { close, closeAll } from './helpers.ts';

const Q = [3.5, -1.25, 7.0, 2.0, 2.0, 10.5, 0.0];

test('mean / variance / sd match numpy', () => {
  // numpy.mean(Q) ; numpy.var(Q, ddof=1) ; numpy.std(Q, ddof=1)
  close(mean(Q), 3.392857142857143, 1e-14);
  close(variance(Q), 16.747023809523807, 1e-13);
  close(sd(Q), 4.092312770246649, 1e-13);
});

test('quantile is type 7 like numpy.quantile', () => {
  // numpy.quantile(Q, [0, 0.1, 0.25, 0.5, 0.9, 1])
  closeAll(quantiles(Q, [0, 0.1, 0.25, 0.5, 0.9, 1])!, [-1.25, -0.4999999999999999, 1.0, 2.0, 8.400000000000002, 10.5], 1e-12, 1e-15);
  close(quantile(Q, 0.9), 8.400000000000002, 1e-12);
  close(median(Q), 2.0, 0); // numpy.median(Q)
  close(median([4, 1, 3, 2]), 2.5, 0); // numpy.median([4,1,3,2])
  assert.deepEqual(Q, [3.5, -1.25, 7.0, 2.0, 2.0, 10.5, 0.0], 'input not mutated');
});

test('small-n cases return null instead of NaN', () => {
  assert.equal(mean([]), null);
  assert.equal(variance([]), null);
  assert.equal(variance([5]), null);
  assert.equal(sd([5]), null);
  assert.equal(median([]), null);
  assert.equal(quantile([], 0.3), null);
  assert.equal(quantiles([], [0.5]), null);
  assert.equal(mean([5]), 5);
  assert.equal(median([5]), 5);
  assert.equal(quantile([5], 0.9), 5);
  assert.deepEqual(summarize([]), { n: 0, mean: null, sd: null, min: null, q25: null, median: null, q75: null, max: null });
  const s1 = summarize([2]);
  assert.equal(s1.sd, null);
  assert.equal(s1.mean, 2);
});

test('constant samples have exactly zero variance', () => {
  assert.equal(variance([0.1, 0.1, 0.1]), 0);
  assert.equal(sd([7, 7, 7, 7]), 0);
});

test('non-finite values throw naming the problem; q outside [0, 1] throws', () => {
  assert.throws(() => mean([1, Number.NaN]), /xs\[1\] is NaN/);
  assert.throws(() => variance([1, 2, Infinity]), /xs\[2\] is Infinity/);
  assert.throws(() => median([-Infinity]), /xs\[0\] is -Infinity/);
  assert.throws(() => quantile([1, 2], 1.5), /q must be a probability/);
  assert.throws(() => quantile([1, 2], Number.NaN), RangeError);
});

test('summarize combines the pieces', () => {
  const s = summarize(Q);
  assert.equal(s.n, 7);
  close(s.mean, 3.392857142857143, 1e-14);
  close(s.sd, 4.092312770246649, 1e-13);
  assert.equal(s.min, -1.25);
  assert.equal(s.max, 10.5);
  close(s.q25, 1.0, 1e-12); // numpy.quantile(Q, 0.25)
  assert.equal(s.median, 2.0);
  close(s.q75, 5.25, 1e-12); // numpy.quantile(Q, 0.75) = 5.25
});

test('normalQuantile matches scipy.special.ndtri', () => {
  // scipy.special.ndtri(p) for each p
  const cases: [number, number][] = [
    [1e-300, -37.0470962993612],
    [1e-10, -6.361340902404056],
    [0.001, -3.090232306167813],
    [0.02425, -1.972961051311885],
    [0.025, -1.9599639845400545],
    [0.3, -0.5244005127080409],
    [0.5, 0.0],
    [0.7, 0.5244005127080407],
    [0.975, 1.959963984540054],
    [0.999999, 4.753424308817087],
  ];
  for (const [p, z] of cases) close(normalQuantile(p), z, 1e-12, 1e-15, `p=${p}`);
  assert.equal(normalQuantile(0), -Infinity);
  assert.equal(normalQuantile(1), Infinity);
  assert.throws(() => normalQuantile(1.1), RangeError);
  // scipy.stats.norm.sf(8) = 6.22096057427174e-16 (no 1 - cdf cancellation)
  close(normalSf(8), 6.22096057427174e-16, 1e-12);
});
