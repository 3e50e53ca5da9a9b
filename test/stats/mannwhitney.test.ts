import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mannWhitneyNullPmf, mannWhitneyU } from '../../src/stats/tests.ts';
import { close } from './helpers.ts';

const ALTS = ['two-sided', 'greater', 'less'] as const;

test('exact path (6 vs 7, no ties) matches scipy.stats.mannwhitneyu', () => {
  const x = [1.2, 3.4, 2.2, 5.1, 4.4, 2.9];
  const y = [0.5, 1.1, 2.0, 1.7, 0.9, 1.4, 2.6];
  // scipy.stats.mannwhitneyu(x, y, alternative=alt)  (method='auto' -> exact)
  const p = { 'two-sided': 0.022144522144522144, greater: 0.011072261072261072, less: 0.993006993006993 };
  for (const alt of ALTS) {
    const r = mannWhitneyU(x, y, { alternative: alt });
    assert.equal(r.method, 'exact');
    assert.equal(r.U, 37);
    close(r.p, p[alt], 1e-12, 0, alt);
  }
});

test('asymptotic path (10 vs 12, no ties) matches scipy, with and without continuity', () => {
  const x = [0.8, 2.3, 1.9, 3.3, 4.1, 2.7, 3.9, 5.2, 4.6, 1.1];
  const y = [0.2, 1.5, 0.7, 2.1, 1.0, 0.3, 2.5, 1.3, 0.6, 3.0, 1.8, 0.05];
  // scipy.stats.mannwhitneyu(x, y, alternative=alt)  (method='auto' -> asymptotic)
  const p = { 'two-sided': 0.007574042066784554, greater: 0.003787021033392277, less: 0.9968944998505921 };
  for (const alt of ALTS) {
    const r = mannWhitneyU(x, y, { alternative: alt });
    assert.equal(r.method, 'normal');
    assert.equal(r.U, 101);
    close(r.p, p[alt], 1e-10, 0, alt);
  }
  // scipy.stats.mannwhitneyu(x, y, use_continuity=False)
  close(mannWhitneyU(x, y, { continuity: false }).p, 0.0068621718926084535, 1e-10);
  // scipy.stats.mannwhitneyu(x, y, method='exact')
  const ex = mannWhitneyU(x, y, { method: 'exact' });
  assert.equal(ex.method, 'exact');
  close(ex.p, 0.005644510288473137, 1e-10);
});

test('ties force the tie-corrected normal approximation (scipy auto)', () => {
  const x = [1, 2, 2, 3, 5];
  const y = [2, 3, 3, 4, 6, 6];
  // scipy.stats.mannwhitneyu(x, y, alternative=alt)
  const p = { 'two-sided': 0.1620516143696369, greater: 0.9434750105718386, less: 0.08102580718481844 };
  for (const alt of ALTS) {
    const r = mannWhitneyU(x, y, { alternative: alt });
    assert.equal(r.method, 'normal');
    assert.equal(r.U, 7);
    close(r.p, p[alt], 1e-10, 0, alt);
  }
  assert.throws(() => mannWhitneyU(x, y, { method: 'exact' }), /requires no ties/);
});

test('exact path when one group has <= 8 observations (8 vs 20)', () => {
  const x = [3.1, 4.7, 5.5, 6.2, 7.9, 8.4, 9.6, 10.3];
  const y = Array.from({ length: 20 }, (_, i) => 0.1 * i + 0.013 * i * i);
  // scipy.stats.mannwhitneyu(x, y, alternative=alt), y = [0.1*i + 0.013*i*i for i in range(20)]
  const p = { 'two-sided': 0.0002979307327133414, greater: 0.0001489653663566707, less: 0.9998883564100952 };
  for (const alt of ALTS) {
    const r = mannWhitneyU(x, y, { alternative: alt });
    assert.equal(r.method, 'exact');
    assert.equal(r.U, 146);
    close(r.p, p[alt], 1e-10, 0, alt);
  }
});

test('n = 1 in one group works (exact)', () => {
  // scipy.stats.mannwhitneyu([5], [1,2,3,4,6,7,8,9,10,11])
  const r = mannWhitneyU([5], [1, 2, 3, 4, 6, 7, 8, 9, 10, 11]);
  assert.equal(r.U, 4);
  close(r.p, 0.9090909090909092, 1e-12);
});

test('all values tied / identical groups give p = 1 (scipy returns 1.0)', () => {
  // scipy.stats.mannwhitneyu([3,3,3], [3,3,3,3]) -> (6.0, 1.0)
  const r = mannWhitneyU([3, 3, 3], [3, 3, 3, 3]);
  assert.equal(r.U, 6);
  assert.equal(r.p, 1);
  assert.match(r.note!, /tied/);
  const same = mannWhitneyU([1, 2, 3, 4], [1, 2, 3, 4]);
  assert.equal(same.U, 8);
  assert.equal(same.p, 1);
});

test('exact null pmf sums to 1, is symmetric and matches a hand count', () => {
  const pmf = mannWhitneyNullPmf(3, 4);
  assert.equal(pmf.length, 13);
  close(pmf.reduce((s, v) => s + v, 0), 1, 1e-14);
  for (let k = 0; k < 13; k++) close(pmf[k], pmf[12 - k]!, 1e-14);
  // Gaussian binomial [7 choose 3]_q coefficients: 1 1 2 3 4 4 5 4 4 3 2 1 1 over C(7,3) = 35
  const counts = [1, 1, 2, 3, 4, 4, 5, 4, 4, 3, 2, 1, 1];
  counts.forEach((c, k) => close(pmf[k], c / 35, 1e-14));
  assert.deepEqual(Array.from(mannWhitneyNullPmf(4, 3)), Array.from(pmf));
});

test('invalid input throws a clear error', () => {
  assert.throws(() => mannWhitneyU([], [1]), /mannWhitneyU: x is empty/);
  assert.throws(() => mannWhitneyU([1, 2], [Number.NaN]), /y\[0\] is NaN/);
  assert.throws(() => mannWhitneyU([1], [2], { method: 'magic' as never }), /method must be/);
});
