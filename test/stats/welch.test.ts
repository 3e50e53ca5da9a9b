import { test } from 'node:test';
import assert from 'node:assert/strict';
import { welchT } from '../../src/stats/tests.ts';
import { close } from './helpers.ts';

const X = [1.2, 3.4, 2.2, 5.1, 4.4, 2.9];
const Y = [0.5, 1.1, 2.0, 1.7, 0.9, 1.4, 2.6];

test('welchT matches scipy.stats.ttest_ind(equal_var=False) for all alternatives', () => {
  // scipy.stats.ttest_ind(X, Y, equal_var=False, alternative=alt)
  const expected = {
    'two-sided': 0.029540603596861215,
    greater: 0.014770301798430608,
    less: 0.9852296982015694,
  } as const;
  for (const alt of ['two-sided', 'greater', 'less'] as const) {
    const r = welchT(X, Y, { alternative: alt });
    close(r.t, 2.7180099657869787, 1e-12);
    close(r.p, expected[alt], 1e-10, 0, alt);
  }
  const r = welchT(X, Y);
  // Welch–Satterthwaite df computed in numpy: (vx/nx+vy/ny)**2/((vx/nx)**2/(nx-1)+(vy/ny)**2/(ny-1))
  close(r.df, 7.076781268847424, 1e-12);
  close(r.meanX, 3.2, 1e-14);
  close(r.meanY, 1.457142857142857, 1e-14);
  assert.equal(r.nX, 6);
  assert.equal(r.nY, 7);
  assert.equal(r.note, undefined);
  // antisymmetry
  close(welchT(Y, X).t, -2.7180099657869787, 1e-12);
});

test('very small p-values keep relative precision', () => {
  // scipy.stats.ttest_ind([10.1,10.3,10.2,10.4,10.25], [1.0,1.2,0.9,1.1,1.05], equal_var=False)
  const r = welchT([10.1, 10.3, 10.2, 10.4, 10.25], [1.0, 1.2, 0.9, 1.1, 1.05]);
  close(r.t, 130.10764773832452, 1e-10);
  close(r.p, 1.3616224947372401e-14, 1e-6);
});

test('one zero-variance group is fine (df = n - 1 of the other)', () => {
  // scipy.stats.ttest_ind([2,2,2,2], [1.0,2.5,3.1,0.4,1.9], equal_var=False)
  const r = welchT([2, 2, 2, 2], [1.0, 2.5, 3.1, 0.4, 1.9]);
  close(r.t, 0.4496355156223082, 1e-12);
  close(r.p, 0.6762620080299633, 1e-10);
  close(r.df, 4, 1e-12);
});

test('identical groups give t = 0, p = 1', () => {
  // scipy.stats.ttest_ind([1,2,3,4], [1,2,3,4], equal_var=False) -> (0.0, 1.0)
  const r = welchT([1, 2, 3, 4], [1, 2, 3, 4]);
  close(r.t, 0, 0, 0);
  close(r.p, 1, 1e-12);
});

test('undefined cases return null with a note, never NaN', () => {
  const both = welchT([3, 3, 3], [5, 5]);
  assert.equal(both.t, null);
  assert.equal(both.p, null);
  assert.equal(both.df, null);
  assert.match(both.note!, /zero variance/);
  assert.equal(both.meanX, 3);
  const n1 = welchT([1], [1, 2, 3]);
  assert.equal(n1.p, null);
  assert.match(n1.note!, /at least 2/);
  assert.ok(!JSON.stringify(both).includes('NaN'));
});

test('invalid input throws a clear error', () => {
  assert.throws(() => welchT([], [1, 2]), /welchT: x is empty/);
  assert.throws(() => welchT([1, 2], [1, Number.NaN]), /welchT: y\[1\] is NaN/);
  assert.throws(() => welchT([1, Infinity], [1, 2]), /x\[1\] is Infinity/);
  assert.throws(() => welchT([1, 2], [3, 4], { alternative: 'bigger' as never }), /alternative must be/);
});
