import { test } from 'node:test';
import assert from 'node:assert/strict';
import wilcoxonStdlib from '@stdlib/stats-wilcoxon';
import { wilcoxonSignedRank } from '../../src/stats/tests.ts';
import { close } from './helpers.ts';

const ALTS = ['two-sided', 'greater', 'less'] as const;

test('exact path (n = 8) matches scipy.stats.wilcoxon', () => {
  const d = [1.5, -0.3, 2.2, 0.8, -1.1, 3.0, 0.4, 1.9];
  // scipy.stats.wilcoxon(d, alternative=alt)
  const expected = {
    'two-sided': { W: 5, p: 0.078125 },
    greater: { W: 31, p: 0.0390625 },
    less: { W: 31, p: 0.97265625 },
  };
  for (const alt of ALTS) {
    const r = wilcoxonSignedRank(d, { alternative: alt });
    assert.equal(r.method, 'exact');
    assert.equal(r.W, expected[alt].W);
    close(r.p, expected[alt].p, 1e-12, 0, alt);
  }
});

test('exact path (n = 30) matches scipy', () => {
  // d2 = numpy.round(numpy.random.RandomState(7).normal(0.4, 1, 30), 4); scipy.stats.wilcoxon(d2, alternative=alt)
  const d2 = [2.0905, -0.0659, 0.4328, 0.8075, -0.3889, 0.4021, 0.3991, -1.3547, 1.4177, 1.0005, -0.2254, 0.2285, 0.9053, 0.1386, 0.1573, -1.0532, 0.9546, 0.5239, 0.6745, -1.1265, 2.0507, 0.5543, 0.0129, 2.4291, 0.3546, -1.0507, -0.0052, -1.8883, 1.4494, -0.0165];
  const expected = {
    'two-sided': { W: 142, p: 0.0635564886033535 },
    greater: { W: 323, p: 0.03177824430167675 },
    less: { W: 323, p: 0.9697173843160272 },
  };
  for (const alt of ALTS) {
    const r = wilcoxonSignedRank(d2, { alternative: alt });
    assert.equal(r.method, 'exact');
    assert.equal(r.W, expected[alt].W);
    close(r.p, expected[alt].p, 1e-10, 0, alt);
  }
});

test('zeros switch to the normal approximation; wilcox and pratt zero methods match scipy', () => {
  const d3 = [0, 1.2, -0.4, 2.5, 0, 3.1, 1.7, -0.9, 2.2, 0.6, 1.4];
  // scipy.stats.wilcoxon(d3, zero_method=zm, alternative=alt)
  const expected = {
    wilcox: { 'two-sided': [4, 0.028401837044201694], greater: [41, 0.014200918522100847], less: [41, 0.9857990814778992] },
    pratt: { 'two-sided': [8, 0.035745985694791683], greater: [55, 0.017872992847395842], less: [55, 0.9821270071526041] },
  } as const;
  for (const zm of ['wilcox', 'pratt'] as const) {
    for (const alt of ALTS) {
      const r = wilcoxonSignedRank(d3, { zeroMethod: zm, alternative: alt });
      assert.equal(r.method, 'normal');
      assert.equal(r.nZero, 2);
      assert.equal(r.W, expected[zm][alt][0]);
      close(r.p, expected[zm][alt][1], 1e-10, 0, `${zm}/${alt}`);
    }
  }
  // scipy.stats.wilcoxon(d3, method='approx', correction=True, zero_method='pratt', alternative='greater')
  close(wilcoxonSignedRank(d3, { zeroMethod: 'pratt', alternative: 'greater', correction: true }).p, 0.019933300437911118, 1e-10);
  // method 'exact' with zeros falls back (as scipy does, with a warning there)
  const ex = wilcoxonSignedRank(d3, { method: 'exact' });
  assert.equal(ex.method, 'normal');
  assert.match(ex.note!, /zero differences/);
});

test('ties (no zeros) use the tie-corrected normal approximation = scipy method="approx"', () => {
  const d4 = [1, 2, 2, -1, 3, 3, 3, 4, -2, 5];
  // scipy.stats.wilcoxon(d4, alternative=alt, method='approx')
  // (scipy 1.10 method='auto' instead truncates R+ and uses the exact table: 0.02734375 / 0.013671875 / 0.990234375)
  const expected = { 'two-sided': [5.5, 0.02409137656203038], greater: [49.5, 0.01204568828101519], less: [49.5, 0.9879543117189848] } as const;
  for (const alt of ALTS) {
    const r = wilcoxonSignedRank(d4, { alternative: alt });
    assert.equal(r.method, 'normal');
    assert.equal(r.W, expected[alt][0]);
    close(r.p, expected[alt][1], 1e-10, 0, alt);
  }
  // scipy.stats.wilcoxon(d4, method='approx', correction=True)
  close(wilcoxonSignedRank(d4, { correction: true }).p, 0.02749596793801716, 1e-10);
});

test('n > 50 uses the normal approximation (scipy auto)', () => {
  // d5 = numpy.round(numpy.random.RandomState(11).normal(0.3, 1, 60), 4); scipy.stats.wilcoxon(d5, alternative=alt)
  const d5 = [2.0495, 0.0139, -0.1846, -2.3533, 0.2917, -0.0196, -0.2366, 0.6154, 0.7211, -0.7656, -0.5862, -0.1757, 0.9897, 0.8612, -1.0055, -0.8195, 1.0368, 1.8746, 0.2689, -0.3834, 1.3956, -0.0096, 1.0258, 1.8491, 0.9301, 0.3735, 1.0323, -0.3426, 0.1219, -0.274, 0.0956, -0.1865, 0.1142, -0.0805, 0.389, 0.3637, 0.5963, 1.7028, -1.2469, 1.5956, 0.0627, -0.9323, 0.1276, 0.3918, 1.3676, -0.7616, 0.5173, 0.4178, -1.3841, -0.8858, 0.9001, 0.9956, 1.3877, 0.8338, 0.6952, 0.4229, 1.5091, -0.5431, 0.1581, 0.6854];
  const two = wilcoxonSignedRank(d5);
  assert.equal(two.method, 'normal');
  assert.equal(two.W, 560);
  close(two.p, 0.008965442917608287, 1e-10);
  const gr = wilcoxonSignedRank(d5, { alternative: 'greater' });
  assert.equal(gr.W, 1270);
  close(gr.p, 0.004482721458804143, 1e-10);
});

test('(x, y) form equals the differences form', () => {
  const x = [5.1, 4.8, 6.0, 5.5, 7.2, 6.6];
  const y = [4.9, 5.0, 5.1, 5.6, 6.1, 5.2];
  // scipy.stats.wilcoxon(x, y) -> (4.0, 0.21875)
  const r = wilcoxonSignedRank(x, y);
  assert.equal(r.W, 4);
  close(r.p, 0.21875, 1e-12);
  assert.equal(wilcoxonSignedRank(x, y, { alternative: 'greater' }).p, wilcoxonSignedRank(x.map((v, i) => v - y[i]!), { alternative: 'greater' }).p);
});

test('exact two-sided p at the centre of the distribution is capped at 1', () => {
  // n = 3, R+ = 3 = n(n+1)/4 (centre): scipy returns 1.0
  const r = wilcoxonSignedRank([1, 2, -3]);
  assert.equal(r.method, 'exact');
  assert.equal(r.p, 1);
  // @stdlib/stats-wilcoxon returns 1.25 here (> 1), one reason we don't wrap it directly.
  assert.ok(wilcoxonStdlib([1, 2, -3]).pValue > 1);
});

test('all-zero differences give W = p = null with a note; bad input throws', () => {
  const r = wilcoxonSignedRank([0, 0, 0]);
  assert.equal(r.p, null);
  assert.equal(r.W, null);
  assert.match(r.note!, /all differences are zero/);
  assert.equal(wilcoxonSignedRank([1, 2, 3], [1, 2, 3]).p, null);
  assert.throws(() => wilcoxonSignedRank([]), /diffs is empty/);
  assert.throws(() => wilcoxonSignedRank([1, 2], [1]), /equal length/);
  assert.throws(() => wilcoxonSignedRank([1, Number.NaN]), /diffs\[1\] is NaN/);
  assert.throws(() => wilcoxonSignedRank([1, 2], { zeroMethod: 'zsplit' as never }), /zeroMethod/);
});

test('n = 1 works (exact): p = 1 two-sided, 0.5 one-sided', () => {
  // scipy.stats.wilcoxon([2.0]) -> (0.0, 1.0); alternative='greater' -> (1.0, 0.5)
  assert.equal(wilcoxonSignedRank([2]).p, 1);
  assert.equal(wilcoxonSignedRank([2], { alternative: 'greater' }).p, 0.5);
});
