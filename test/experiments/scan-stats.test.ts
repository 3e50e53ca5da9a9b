/**
 * The scan's USE of the statistics toolkit (the tests themselves are checked against SciPy in test/stats):
 * values per layer → Welch / Mann–Whitney / permutation / Hedges g, Holm and BH across layers, best layer,
 * verdicts, and the edge cases of the real corpus (a zero-by-construction group, n = 1, ties).
 * Reference values: SciPy 1.10.1 / NumPy 1.24.2 (/usr/bin/python3), code quoted next to each literal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestLayer, correctAcrossLayers, metricValue, testTwoGroups, verdicts } from '../../src/experiments/scan/stats.ts';
import type { ScanComparison, ScanRecord, ScanTestRow } from '../../src/experiments/scan/schema.ts';

const O = { seed: 7, nPermutations: 9999, nBoot: 999, alpha: 0.05 };
const close = (a: number | null, b: number, rel = 1e-9, msg?: string) => {
  assert.ok(a !== null, msg ?? 'value is null');
  assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)), `${msg ?? ''} ${a} vs ${b}`);
};

const A = [0.0023, 0.0031, 0.0012, 0.0045, 0.0019, 0.0027, 0.0033, 0.0008, 0.0021, 0.0036];
const B = [0.0005, 0.0011, 0.0002, 0.0009, 0.0007, 0.0013, 0.0004, 0.001, 0.0006, 0.0003];

test('testTwoGroups matches SciPy on attention-like values', () => {
  const r = testTwoGroups(A, B, 3, 'x', O);
  // scipy.stats.ttest_ind(A, B, equal_var=False) → (4.951214444228985, 0.00044927300832768704)
  close(r.welch.t, 4.951214444228985, 1e-10);
  close(r.welch.p, 0.00044927300832768704, 1e-8);
  // Welch–Satterthwaite df in numpy
  close(r.welch.df, 10.879616678684616, 1e-10);
  // scipy.stats.mannwhitneyu(A, B, alternative='two-sided') → (95.0, 0.0007685389131627665) (normal approx: n > 8)
  close(r.mannWhitney.U, 95, 0);
  close(r.mannWhitney.p, 0.0007685389131627665, 1e-8);
  // numpy: d = (mean(A)-mean(B))/sp, sp pooled ddof=1; J = 1 - 3/(4·20 - 9)
  close(r.hedgesG.g, 2.120690537059972, 1e-10);
  assert.ok(r.hedgesG.ciLow! < r.hedgesG.g! && r.hedgesG.g! < r.hedgesG.ciHigh!);
  assert.equal(r.hedgesG.ciLevel, 0.95);
  assert.equal(r.permutation.method, 'monte-carlo');
  assert.equal(r.permutation.nPermutations, 9999);
  assert.ok(r.permutation.p! > 0 && r.permutation.p! < 0.01);
  close(r.ratio, A.reduce((s, x) => s + x, 0) / B.reduce((s, x) => s + x, 0), 1e-12);
  assert.equal(r.layer, 3);
  // Seeded: the same label gives the same Monte Carlo p and CI; another label another stream.
  const again = testTwoGroups(A, B, 3, 'x', O);
  assert.deepEqual(again, r);
  assert.notDeepEqual(testTwoGroups(A, B, 3, 'y', O).hedgesG, r.hedgesG);
});

test('exact permutation p for small groups (enumerated in Python, |T| >= |T_obs| convention)', () => {
  // itertools.combinations over 8 values, 4 per group: 6 of 70 splits as extreme → 0.08571428571428572
  const r = testTwoGroups([0.31, 0.42, 0.29, 0.55], [0.12, 0.2, 0.33, 0.18], 0, 'small', O);
  assert.equal(r.permutation.method, 'exact');
  assert.equal(r.permutation.nPermutations, 70);
  close(r.permutation.p, 0.08571428571428572, 1e-12);
  close(r.permutation.observed, 0.185, 1e-12);
});

test('ties: Mann–Whitney uses the tie-corrected normal approximation', () => {
  // scipy.stats.mannwhitneyu([1,2,2,3,3,3], [2,2,4,4,5]) → (8.0, 0.21892830914721761)
  const r = testTwoGroups([1, 2, 2, 3, 3, 3], [2, 2, 4, 4, 5], 0, 'ties', O);
  close(r.mannWhitney.U, 8, 0);
  close(r.mannWhitney.p, 0.21892830914721761, 1e-8);
  assert.equal(r.mannWhitney.method, 'normal');
  // scipy.stats.ttest_ind(..., equal_var=False) → (-1.5540573797716224, 0.1683458516180884)
  close(r.welch.t, -1.5540573797716224, 1e-10);
  close(r.welch.p, 0.1683458516180884, 1e-8);
});

test('edge cases: a zero-variance group (zero by construction), both constant, n = 1, empty', () => {
  // One group all zeros: scipy.stats.ttest_ind([0.1,0.2,0.15],[0,0,0],equal_var=False) → (5.196152422706632, 0.03509871864598465)
  const z = testTwoGroups([0.1, 0.2, 0.15], [0, 0, 0], 0, 'zv', O);
  close(z.welch.t, 5.196152422706632, 1e-10);
  close(z.welch.p, 0.03509871864598465, 1e-8);
  // scipy.stats.mannwhitneyu([0.1,0.2,0.15],[0,0,0]) → (9.0, 0.06360256962075367)
  close(z.mannWhitney.p, 0.06360256962075367, 1e-8);
  assert.equal(z.ratio, null, 'ratio to a zero mean is undefined, not Infinity');
  // Both constant: t undefined → null with a note (never NaN).
  const c = testTwoGroups([0, 0, 0], [0, 0], 0, 'const', O);
  assert.equal(c.welch.t, null);
  assert.equal(c.welch.p, null);
  assert.match(c.welch.note!, /zero variance/);
  assert.equal(c.hedgesG.g, null);
  // n = 1
  const one = testTwoGroups([0.5], [0.1, 0.2, 0.3], 0, 'one', O);
  assert.equal(one.welch.p, null);
  assert.match(one.welch.note!, /at least 2/);
  assert.equal(one.sdA, null);
  // empty group (every ratio undefined)
  const e = testTwoGroups([0.1, 0.2], [], 0, 'empty', O);
  assert.equal(e.nB, 0);
  assert.equal(e.welch.p, null);
  assert.match(e.welch.note!, /no values in group b/);
  assert.ok(JSON.stringify([z, c, one, e]).indexOf('NaN') < 0);
});

test('Holm and BH across layers equal the step-down / step-up formulas (computed in NumPy)', () => {
  const ps = [0.4813, 0.1309, 0.7196, 0.0011, 0.0061];
  const rows = ps.map((p, layer) => {
    const r = testTwoGroups([1, 2, 3], [2, 3, 4], layer, `L${layer}`, { ...O, nBoot: 10, nPermutations: 10 });
    r.welch.p = p;
    r.mannWhitney.p = p;
    r.permutation.p = p;
    return r;
  });
  correctAcrossLayers(rows);
  const holm = [0.9626, 0.3927, 0.9626, 0.0055, 0.0244];
  const bh = [0.601625, 0.21816666666666665, 0.7196, 0.0055, 0.01525];
  for (const k of ['welch', 'mannWhitney', 'permutation'] as const) {
    rows.forEach((r, i) => {
      close(r[k].pHolm, holm[i]!, 1e-12, `${k} holm ${i}`);
      close(r[k].pBH, bh[i]!, 1e-12, `${k} bh ${i}`);
    });
  }
  const best = bestLayer(rows)!;
  assert.equal(best.layer, 3);
  close(best.pHolm, 0.0055, 1e-12);
  // A null p (undefined test) is not counted as a hypothesis.
  rows[0]!.welch.p = null;
  correctAcrossLayers(rows);
  assert.equal(rows[0]!.welch.pHolm, null);
  close(rows[3]!.welch.pHolm, 0.0044, 1e-12);
});

test('bestLayer breaks ties on Holm p by raw p, then |g|', () => {
  const row = (layer: number, p: number, pHolm: number, g: number) =>
    ({ layer, meanA: 1, meanB: 0.5, ratio: 2, welch: { p, pHolm, pBH: p }, hedgesG: { g } }) as unknown as ScanTestRow;
  assert.equal(bestLayer([row(0, 0.02, 0.1, 1), row(1, 0.01, 0.1, 0.5), row(2, 0.01, 0.1, 2)])!.layer, 2);
  assert.equal(bestLayer([]), null);
});

function rec(group: string, observed: number, uniformNull: number, control: number | null): ScanRecord {
  return {
    group,
    uniformNull,
    uniformNullNoSink: uniformNull === 0 ? null : uniformNull,
    layers: [{ layer: 0, mean: { observed, observedNoSink: observed, control, controlNoSink: control, sink: 0.5 } }],
  } as unknown as ScanRecord;
}

test('metricValue: per-sample ratios, null when the null model is 0 or missing', () => {
  close(metricValue(rec('a', 0.2, 0.05, 0.1), 0, 'ratioUniform'), 4, 1e-12);
  close(metricValue(rec('a', 0.2, 0.05, 0.1), 0, 'ratioControl'), 2, 1e-12);
  assert.equal(metricValue(rec('a', 0, 0, 0), 0, 'ratioUniform'), null);
  assert.equal(metricValue(rec('a', 0, 0, 0), 0, 'ratioControl'), null);
  assert.equal(metricValue(rec('a', 0.1, 0.1, null), 0, 'ratioControlNoSink'), null);
  assert.equal(metricValue(rec('a', 0.1, 0.1, 0.1), 5, 'observed'), null, 'layer not scanned');
});

test('verdicts: holds, does not hold, reversed, undefined', () => {
  const mk = (meanA: number, meanB: number, pHolm: number | null) => ({ description: '', layers: [], best: pHolm === null ? null : { layer: 2, meanA, meanB, ratio: meanA / meanB, g: 1, p: pHolm, pHolm, pBH: pHolm } });
  const c = {
    a: 'py',
    b: 'rs',
    primary: true,
    metrics: {
      observed: mk(2, 1, 0.001),
      observedNoSink: mk(2, 1, 0.2),
      ratioUniform: mk(1, 2, 0.001),
      ratioUniformNoSink: mk(1, 2, null),
      ratioControl: mk(2, 1, 0.05),
      ratioControlNoSink: mk(2, 1, 0.049),
    },
  } as unknown as ScanComparison;
  const v = verdicts(c, 0.05);
  assert.deepEqual(
    v.map((x) => x.survives),
    [true, false, false, null, false, true],
  );
  assert.match(v[0]!.statement, /py > rs holds \(best layer 2, Holm-corrected Welch p = 0\.0010 < 0\.05\)/);
  assert.match(v[1]!.statement, /does NOT hold/);
  assert.match(v[2]!.statement, /reversed/);
});

test('scanReach: the smallest Holm-adjusted p the design allows (hand-computed), and the warning when α is out of reach', async () => {
  const { scanReach } = await import('../../src/experiments/scan/experiment.ts');
  const small = scanReach(3, 3, 4, 9999, 0.05); // C(6,3) = 20
  assert.ok(Math.abs(small.mannWhitneyMinP - (4 * 2) / 20) < 1e-12);
  assert.ok(Math.abs(small.permutationMinP - 0.4) < 1e-12);
  assert.equal(small.welchMinP, null);
  assert.equal(small.reachable, false);
  const big = scanReach(10, 10, 4, 9999, 0.05); // C(20,10) = 184756
  assert.ok(Math.abs(big.mannWhitneyMinP - 8 / 184756) < 1e-15);
  assert.ok(Math.abs(big.permutationMinP - 4 / 10000) < 1e-15, 'Monte Carlo floor 1/(B+1) dominates');
  assert.equal(big.reachable, true);
});
