import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantileSorted } from '../../src/stats/describe.ts';
import { bcaLevels, bootstrapCI, bootstrapCI1, hedgesG, matchedPairsRankBiserial, pairedEffect, rankBiserial } from '../../src/stats/effect.ts';
import { createRng } from '../../src/stats/rng.ts';
import { close } from './helpers.ts';

const X = [1.2, 3.4, 2.2, 5.1, 4.4, 2.9];
const Y = [0.5, 1.1, 2.0, 1.7, 0.9, 1.4, 2.6];
const D = [1.5, -0.3, 2.2, 0.8, -1.1, 3.0, 0.4, 1.9];
const mean = (a: readonly number[]): number => a.reduce((s, v) => s + v, 0) / a.length;

test('hedgesG matches the numpy formula', () => {
  // numpy: sp = sqrt(((nx-1)*var(x,ddof=1) + (ny-1)*var(y,ddof=1)) / (nx+ny-2)); d = (mean(x)-mean(y))/sp;
  //        J = 1 - 3/(4*(nx+ny) - 9); g = d*J
  const r = hedgesG(X, Y);
  close(r.d, 1.591175833916069, 1e-12);
  close(r.J, 0.9302325581395349, 1e-14);
  close(r.g, 1.4801635664335526, 1e-12);
  const x2 = [0.8, 2.3, 1.9, 3.3, 4.1, 2.7, 3.9, 5.2, 4.6, 1.1];
  const y2 = [0.2, 1.5, 0.7, 2.1, 1.0, 0.3, 2.5, 1.3, 0.6, 3.0, 1.8, 0.05];
  const r2 = hedgesG(x2, y2);
  close(r2.d, 1.4245310233176607, 1e-12); // same numpy formula
  close(r2.g, 1.3704349085081293, 1e-12);
  close(hedgesG(Y, X).g, -1.4801635664335526, 1e-12);
});

test('hedgesG edge cases: zero pooled SD, tiny n, identical groups, bad input', () => {
  const z = hedgesG([2, 2, 2], [5, 5]);
  assert.equal(z.g, null);
  assert.match(z.note!, /pooled SD is zero/);
  assert.equal(hedgesG([1], [2]).g, null);
  assert.equal(hedgesG([1, 2, 3], [1, 2, 3]).g, 0);
  assert.throws(() => hedgesG([], [1, 2]), /hedgesG: x is empty/);
  assert.throws(() => hedgesG([1, Number.NaN], [1, 2]), /x\[1\] is NaN/);
});

test('pairedEffect gives Cohen d_z = mean(d)/sd(d)', () => {
  // numpy: D.mean()/D.std(ddof=1) = 0.7710827238540583; mean 1.05; sd 1.3617215994048542
  const r = pairedEffect(D);
  close(r.dz, 0.7710827238540583, 1e-12);
  close(r.meanDiff, 1.05, 1e-14);
  close(r.sdDiff, 1.3617215994048542, 1e-12);
  const x = [5, 6, 7, 8];
  const y = [4, 4, 6, 5];
  close(pairedEffect(x, y).dz, mean([1, 2, 1, 3]) / Math.sqrt(0.9166666666666666), 1e-12);
  const same = pairedEffect([1, 1, 1]);
  assert.equal(same.dz, null);
  assert.match(same.note!, /sd = 0/);
  assert.equal(pairedEffect([3]).dz, null);
  assert.throws(() => pairedEffect([1, 2], [1]), /equal length/);
});

test('rank-biserial correlations', () => {
  // 2*U/(nx*ny) - 1 with U = scipy.stats.mannwhitneyu(x, y).statistic
  close(rankBiserial(X, Y).r, 0.7619047619047619, 1e-14);
  close(rankBiserial([1, 2, 2, 3, 5], [2, 3, 3, 4, 6, 6]).r, -0.5333333333333333, 1e-14);
  assert.equal(rankBiserial([4, 5, 6], [1, 2, 3]).r, 1);
  assert.equal(rankBiserial([3, 3], [3, 3, 3]).r, 0);
  // Matched pairs: R+ = scipy.stats.wilcoxon(D, alternative='greater').statistic = 31, R- = 36 - 31 = 5
  const m = matchedPairsRankBiserial(D);
  assert.equal(m.rPlus, 31);
  assert.equal(m.rMinus, 5);
  close(m.r, 26 / 36, 1e-14);
  const z = matchedPairsRankBiserial([0, 0, 1, -2], { zeroMethod: 'pratt' });
  // pratt ranks |d| = 0,0,1,2 -> 1.5,1.5,3,4; R+ = 3, R- = 4
  assert.equal(z.rPlus, 3);
  assert.equal(z.rMinus, 4);
  close(z.r, -1 / 7, 1e-14);
  assert.equal(matchedPairsRankBiserial([5, 6], [5, 6]).r, null);
});

// BCa reference: scipy.stats._resampling._bca_interval(data, stat, axis=-1, alpha=..., theta_hat_b=TB, batch=None)
// with data from numpy.random.RandomState(3) (exponentials rounded to 3 dp) and TB = 40 fixed
// bootstrap replicates (rounded to 6 dp) listed below; CI = numpy.percentile(TB, alpha_k * 100).
const A = [0.8, 1.232, 0.344, 0.715, 2.234, 2.266, 0.134, 0.232, 0.053];
const B = [1.163, 0.061, 1.221, 2.095, 0.653, 2.256, 1.787];
const TB = [-0.681952, -0.081365, -0.501587, -0.266095, -0.392048, -0.505857, -0.168603, -0.061333, -0.403571, -0.324, -0.316571, -0.316762, -0.683587, -0.686079, 0.260222, -0.741651, -0.77927, -0.123397, -0.544905, -0.635476, -0.498111, -0.313524, -0.39919, -0.72519, -0.437667, -0.56073, -0.022206, -0.24527, -0.579825, -1.064, -0.867825, 0.376, -0.163397, -0.345032, -0.839905, 0.018794, -0.295762, -1.201857, -0.449984, -0.23727];
const TB1 = [0.838, 0.676556, 0.841333, 0.769444, 1.011556, 1.085222, 0.503778, 0.923889, 1.002222, 1.118333, 1.329333, 1.409, 0.746, 0.444556, 1.286, 0.883222, 0.988333, 0.353667, 1.193333, 0.436333, 0.442, 0.499889, 0.313444, 0.958333, 0.887, 0.803667, 0.861111, 0.737556, 0.854333, 0.999778, 0.661667, 0.755444, 1.002667, 0.647667, 0.668778, 0.597667, 1.284333, 0.638889, 1.137444, 0.723667];

test('BCa levels match scipy (two-sample mean difference, 95%)', () => {
  const theta = mean(A) - mean(B);
  const jack = [A.map((_, i) => mean(A.filter((_, k) => k !== i)) - mean(B)), B.map((_, i) => mean(A) - mean(B.filter((_, k) => k !== i)))];
  const lv = bcaLevels(theta, TB, jack, 0.95)!;
  close(lv.a, 0.021935165035637978, 1e-10);
  close(lv.alpha1, 0.02277990237086449, 1e-10);
  close(lv.alpha2, 0.9723770036514009, 1e-10);
  const sorted = TB.slice().sort((u, v) => u - v);
  close(quantileSorted(sorted, lv.alpha1), -1.0793826089555296, 1e-10);
  close(quantileSorted(sorted, lv.alpha2), 0.24156037426446644, 1e-10);
  // percentile interval: numpy.percentile(TB, [2.5, 97.5])
  close(quantileSorted(sorted, 0.025), -1.067446425, 1e-10);
  close(quantileSorted(sorted, 0.975), 0.26311644999999984, 1e-10);
});

test('BCa levels match scipy (one-sample mean, 90%)', () => {
  const jack = [A.map((_, i) => mean(A.filter((_, k) => k !== i)))];
  const lv = bcaLevels(mean(A), TB1, jack, 0.9)!;
  close(lv.a, 0.04232119782646294, 1e-10);
  close(lv.alpha1, 0.17435501063134223, 1e-10);
  close(lv.alpha2, 0.9930547070820986, 1e-10);
  const sorted = TB1.slice().sort((u, v) => u - v);
  close(quantileSorted(sorted, lv.alpha1), 0.5788746861334774, 1e-10);
  close(quantileSorted(sorted, lv.alpha2), 1.3874208846152725, 1e-10);
  // all replicates above the estimate -> z0 = -inf -> undefined
  assert.equal(bcaLevels(0, [1, 2, 3], [[0, 0]], 0.95), null);
});

test('bootstrap CI: reproducible, brackets the estimate, ≈ normal-theory CI on a large sample', () => {
  const g = createRng(2024, 'data');
  const big = Array.from({ length: 400 }, () => g.normal(10, 2));
  const opts = { rng: createRng(2024, 'boot'), nBoot: 2000 };
  const ci = bootstrapCI1(big, mean, { ...opts, method: 'percentile' });
  const again = bootstrapCI1(big, mean, { rng: createRng(2024, 'boot'), nBoot: 2000, method: 'percentile' });
  assert.deepEqual(ci, again);
  const m = mean(big);
  const sdv = Math.sqrt(big.reduce((s, v) => s + (v - m) ** 2, 0) / 399);
  const half = (1.959963984540054 * sdv) / Math.sqrt(400);
  assert.ok(ci.lo! < m && m < ci.hi!);
  close(ci.hi! - ci.lo!, 2 * half, 0.1); // width within 10%
  const bca = bootstrapCI1(big, mean, opts);
  assert.equal(bca.method, 'bca');
  close(bca.lo, ci.lo!, 0.02, 0.02);
  close(bca.hi, ci.hi!, 0.02, 0.02);
});

test('bootstrap CI coverage of a mean is near nominal (simulation)', () => {
  const g = createRng(7, 'coverage-data');
  const rng = createRng(7, 'coverage-boot');
  let hits = 0;
  const reps = 150;
  for (let r = 0; r < reps; r++) {
    const x = Array.from({ length: 25 }, () => g.normal(0, 1));
    const ci = bootstrapCI1(x, mean, { rng, nBoot: 400 });
    if (ci.lo! <= 0 && 0 <= ci.hi!) hits++;
  }
  const cov = hits / reps;
  assert.ok(cov > 0.85 && cov <= 1, `coverage ${cov}`); // nominal 0.95, binomial SE ≈ 0.018
});

test('two-sample bootstrap and effect-size CIs', () => {
  const rng = createRng(1, 'g-ci');
  const r = hedgesG(X, Y, { ci: { rng, nBoot: 3000 } });
  assert.ok(r.ci);
  close(r.ci.estimate, r.g!, 1e-12);
  assert.ok(r.ci.lo! < r.g! && r.g! < r.ci.hi!);
  assert.ok(r.ci.lo! > 0, 'clearly separated groups: CI excludes 0');
  const md = bootstrapCI(X, Y, (a, b) => mean(a) - mean(b), { rng, nBoot: 2000, method: 'percentile' });
  assert.equal(md.method, 'percentile');
  assert.ok(md.lo! > 0 && md.hi! < 4);
  const pe = pairedEffect(D, { ci: { rng, nBoot: 2000 } });
  close(pe.ci!.estimate, pe.dz!, 1e-12);
  assert.ok(pe.ci!.lo! < pe.dz! && pe.dz! < pe.ci!.hi!);
  assert.ok(!JSON.stringify(pe).includes('NaN'));
});

test('degenerate bootstrap inputs give defined results', () => {
  const rng = createRng(1, 'degenerate');
  const c = bootstrapCI1([3, 3, 3, 3], mean, { rng, nBoot: 100 });
  assert.equal(c.lo, 3);
  assert.equal(c.hi, 3);
  const undef = bootstrapCI1([1, 2, 3], () => null, { rng, nBoot: 50 });
  assert.equal(undef.estimate, null);
  assert.equal(undef.lo, null);
  // statistic undefined (null) on some resamples: they are dropped and counted
  const part = bootstrapCI1([1, 2], (x) => (x[0] === x[1] ? null : x[0]! + x[1]!), { rng, nBoot: 200 });
  assert.ok(part.nInvalid > 50 && part.nInvalid < 150, `nInvalid ${part.nInvalid}`); // ~Binomial(200, 1/2)
  assert.match(part.note!, /dropped/);
  assert.equal(part.lo, 3);
  // d_z of [1,1,1,2]: all-equal resamples give d_z = +Infinity (kept, ordered), so the upper
  // endpoint is infinite -> null; the jackknife has an infinite value -> BCa falls back to percentile.
  const dz = pairedEffect([1, 1, 1, 2], { ci: { rng, nBoot: 500 } });
  assert.equal(dz.dz, 2.5);
  assert.equal(dz.ci!.method, 'percentile');
  assert.equal(dz.ci!.hi, null);
  assert.equal(dz.ci!.lo, 2.5);
  assert.match(dz.ci!.note!, /BCa undefined.*infinite/);
  assert.ok(!JSON.stringify(dz).includes('NaN') && !JSON.stringify(dz).includes('Infinity'));
  assert.throws(() => bootstrapCI1([1, 2], mean, { rng, level: 1.2 }), /level/);
  assert.throws(() => bootstrapCI1([1, 2], mean, { rng, nBoot: 1 }), /nBoot/);
  assert.throws(() => bootstrapCI1([], mean, { rng }), /empty/);
});
