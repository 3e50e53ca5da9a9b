/**
 * Statistics of the steering experiment, computed from the records (a resumed run gives the same summary).
 *
 * Per corpus group (languages are never pooled) × analysis unit:
 * - natural level: the baseline marker → function attention mass (median over samples), and the same for
 *   the matched control keys;
 * - per dose level ℓ: medians of KL and of ΔNLL of the real continuation (nats/token) for steer and control,
 *   and a two-sided Wilcoxon signed-rank test of ΔNLL(steer) − ΔNLL(control) per sample ("is mass ℓ on the
 *   function tokens different from mass ℓ on matched random tokens?"); Holm across units × levels of the
 *   group;
 * - PRIMARY test, dose-response trend (`trend.permutation`): within-sample permutation trend test
 *   (src/experiments/steer-generation/stats.ts `trendTest`) of y_ij = ΔNLL(control) − ΔNLL(steer) at level
 *   ℓ_j (positive = steering the function helps the real test line more than steering random keys), the
 *   statistic Σ_ij y_ij·ℓ_j, levels shuffled within each sample; two-sided (2 × the smaller one-sided p),
 *   direction reported (`increasing` = more mass on the function, better than control); Holm across the
 *   group's units ONLY, so it can reach α at n = 10 (Holm over 4 units: 4 × 2/(B+1)), where the per-level
 *   tests cannot (4 units × 7 levels × 2/2^10 = 0.055);
 * - secondary trend: per sample, Spearman ρ between ℓ and ΔNLL(steer) (and the same for the controls);
 *   two-sided Wilcoxon of ρ_steer − ρ_control; Holm across the group's units. Negative ρ = more attention to
 *   the function makes the real test line more likely.
 * - `reach`: the smallest Holm-adjusted p each family can reach (see {@link steerReach}); the terminal
 *   output warns when it is not below α.
 * - calibrated: ΔNLL when the marker gets the reference group's mean mass: Wilcoxon of ΔNLL(steer) vs 0 and
 *   of ΔNLL(steer) − ΔNLL(control); Holm across the group's units.
 * - the measured attention mass: max |measured − intended| over every condition (a steer that does not
 *   reach its level is reported, never hidden).
 *
 * @module
 */
import { holm, median, wilcoxonSignedRank, matchedPairsRankBiserial } from '../../stats/index.ts';
import { trendTest } from '../steer-generation/stats.ts';
import type { AnalysisUnit as KnockoutUnit } from '../shared/units.ts';
import type { SteerCalibratedStats, SteerCell, SteerLevelStats, SteerOkRecord, SteerRecord, SteerSummary, SteerTrendStats } from './schema.ts';

export type { SteerSummary };

export interface SteerStatsOptions {
  /** Significance level after correction (default 0.05). */
  alpha?: number;
  /** Groups summarised (default: groups not ending in `_baseline`). */
  primaryGroups?: readonly string[];
  seed?: number;
  /** Permutations of the primary trend test (default 9999). */
  nPermutations?: number;
}

/**
 * Smallest Holm-adjusted p per family for a group with `n` samples: the trend permutation test
 * 2/(B+1) two-sided × units; the per-level exact two-sided Wilcoxon 2/2^n × units × levels.
 */
export function steerReach(n: number, units: number, levels: number, nPermutations: number, alpha: number) {
  const trend = Math.min(1, units * (2 / (nPermutations + 1)));
  const perLevel = n > 0 ? Math.min(1, units * levels * 2 * 2 ** -n) : 1;
  return { n, alpha, trend: { tests: units, minP: trend, reachable: trend < alpha }, levels: { tests: units * levels, minP: perLevel, reachable: perLevel < alpha } };
}

/** Two-sided within-sample permutation trend test of y (rows: samples, columns: levels). */
function trend2(y: number[][], levels: readonly number[], nPerm: number, seed: number, stream: string) {
  if (y.length === 0 || levels.length < 2) return null;
  const up = trendTest(y, levels, nPerm, seed, stream);
  const down = trendTest(y.map((r) => r.map((v) => -v)), levels, nPerm, seed, stream);
  return { statistic: up.statistic, p: Math.min(1, 2 * Math.min(up.p, down.p)), pHolm: null as number | null, direction: up.direction, nPermutations: nPerm };
}

/** Spearman rank correlation (average ranks for ties); null when either side is constant. */
export function spearman(x: readonly number[], y: readonly number[]): number | null {
  if (x.length !== y.length || x.length < 2) return null;
  const rank = (v: readonly number[]) => {
    const idx = v.map((_, i) => i).sort((a, b) => v[a]! - v[b]!);
    const r = new Array<number>(v.length);
    for (let i = 0; i < idx.length; ) {
      let j = i;
      while (j + 1 < idx.length && v[idx[j + 1]!] === v[idx[i]!]) j++;
      for (let k = i; k <= j; k++) r[idx[k]!] = (i + j) / 2 + 1;
      i = j + 1;
    }
    return r;
  };
  const rx = rank(x);
  const ry = rank(y);
  const mx = rx.reduce((s, v) => s + v, 0) / rx.length;
  const my = ry.reduce((s, v) => s + v, 0) / ry.length;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i]! - mx) * (ry[i]! - my);
    sxx += (rx[i]! - mx) ** 2;
    syy += (ry[i]! - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : null;
}

const fin = (x: number | null | undefined): number | null => (x === null || x === undefined || !Number.isFinite(x) ? null : x);
const med = (xs: number[]) => (xs.length ? fin(median(xs)) : null);

function wilcoxonP(d: number[], notes: string[], what: string): number | null {
  if (d.length === 0) return null;
  if (d.every((x) => x === 0)) {
    notes.push(`${what}: every difference is 0`);
    return 1;
  }
  try {
    const w = wilcoxonSignedRank(d, { alternative: 'two-sided' });
    if (w.note) notes.push(`${what}: ${w.note}`);
    return w.p;
  } catch (e) {
    notes.push(`${what}: ${(e as Error).message}`);
    return null;
  }
}

function cell(group: string, unit: KnockoutUnit, rows: SteerOkRecord[], levels: readonly number[], o: { seed: number; nPermutations: number }): SteerCell {
  const notes: string[] = [];
  const withNll = rows.filter((r) => r.levels.every((l) => l.steer.dMeanNll !== null && l.control.dMeanNll !== null));
  if (withNll.length < rows.length) notes.push(`${rows.length - withNll.length} sample(s) without a continuation: not in the ΔNLL statistics`);
  const lv: SteerLevelStats[] = levels.map((level, i) => {
    const at = rows.map((r) => r.levels[i]!);
    if (at.some((a) => a.level !== level)) throw new Error(`internal: record level order differs from the settings at level ${level}`);
    const atN = withNll.map((r) => r.levels[i]!);
    const d = atN.map((a) => a.steer.dMeanNll! - a.control.dMeanNll!);
    let rb: number | null = null;
    if (d.some((x) => x !== 0)) {
      try {
        rb = fin(matchedPairsRankBiserial(d).r);
      } catch {
        rb = null;
      }
    }
    return {
      level,
      n: at.length,
      nNll: atN.length,
      medianAchievedMass: med(at.map((a) => a.steer.achievedMass)),
      medianKlSteer: med(at.map((a) => a.steer.kl)),
      medianKlControl: med(at.map((a) => a.control.kl)),
      medianDNllSteer: med(atN.map((a) => a.steer.dMeanNll!)),
      medianDNllControl: med(atN.map((a) => a.control.dMeanNll!)),
      p: wilcoxonP(d, notes, `level ${level}`),
      pHolm: null,
      rankBiserial: rb,
      top1ChangedSteer: at.length ? at.filter((a) => a.steer.top1Changed).length / at.length : null,
      top1ChangedControl: at.length ? at.reduce((s, a) => s + a.control.top1ChangedRate, 0) / at.length : null,
    };
  });
  const xs = levels.slice();
  const rhoS: number[] = [];
  const rhoC: number[] = [];
  for (const r of withNll) {
    const a = spearman(xs, r.levels.map((l) => l.steer.dMeanNll!));
    const b = spearman(xs, r.levels.map((l) => l.control.dMeanNll!));
    if (a !== null && b !== null) {
      rhoS.push(a);
      rhoC.push(b);
    }
  }
  if (levels.length < 3) notes.push('trend: fewer than 3 levels; Spearman ρ is ±1 or undefined');
  const trend: SteerTrendStats = {
    n: rhoS.length,
    medianRhoSteer: med(rhoS),
    medianRhoControl: med(rhoC),
    p: wilcoxonP(rhoS.map((v, i) => v - rhoC[i]!), notes, 'trend'),
    pHolm: null,
    permutation: trend2(withNll.map((r) => r.levels.map((l) => l.control.dMeanNll! - l.steer.dMeanNll!)), levels, o.nPermutations, o.seed, `steer/trend/${group}/${unit.id}`),
  };
  const calRows = withNll.filter((r) => r.calibrated !== null);
  const calibrated: SteerCalibratedStats | null = calRows.length
    ? {
        to: calRows[0]!.calibrated!.to,
        n: calRows.length,
        medianLevel: med(calRows.map((r) => r.calibrated!.levelMean)),
        medianNaturalMass: med(calRows.map((r) => r.baselineMassMean)),
        medianDNllSteer: med(calRows.map((r) => r.calibrated!.steer.dMeanNll!)),
        medianDNllControl: med(calRows.map((r) => r.calibrated!.control.dMeanNll!)),
        pVsBaseline: wilcoxonP(calRows.map((r) => r.calibrated!.steer.dMeanNll!), notes, 'calibrated vs baseline'),
        pVsControl: wilcoxonP(calRows.map((r) => r.calibrated!.steer.dMeanNll! - r.calibrated!.control.dMeanNll!), notes, 'calibrated vs control'),
        pVsBaselineHolm: null,
        pVsControlHolm: null,
      }
    : null;
  return {
    group,
    unit,
    n: rows.length,
    medianNaturalMass: med(rows.map((r) => r.baselineMassMean)),
    medianNaturalMassControl: med(rows.map((r) => r.controlBaselineMassMean)),
    levels: lv,
    trend,
    calibrated,
    notes,
  };
}

/** The summary of a steering results file. */
export function summarizeSteer(records: readonly SteerRecord[], units: readonly KnockoutUnit[], levels: readonly number[], nSamples: number, o: SteerStatsOptions = {}): Omit<SteerSummary, 'calibration'> {
  const groupsSeen = [...new Set(records.map((r) => r.group))];
  const primary = o.primaryGroups ? [...o.primaryGroups] : groupsSeen.filter((g) => !g.endsWith('_baseline'));
  const ok = records.filter((r): r is SteerOkRecord => r.status === 'ok');
  const na = records.filter((r) => r.status === 'not_applicable').map((r) => ({ id: r.id, group: r.group, reason: (r as { reason: string }).reason }));
  const cells: SteerCell[] = [];
  const reach: NonNullable<SteerSummary['reach']> = [];
  for (const g of primary) {
    const mine: SteerCell[] = [];
    for (const u of units) {
      const rows = ok.filter((r) => r.group === g && r.unit.id === u.id);
      if (rows.length) mine.push(cell(g, u, rows, levels, { seed: o.seed ?? 0, nPermutations: o.nPermutations ?? 9999 }));
    }
    const lvP = holm(mine.flatMap((c) => c.levels.map((l) => l.p)));
    let i = 0;
    for (const c of mine) for (const l of c.levels) l.pHolm = lvP[i++] ?? null;
    const tP = holm(mine.map((c) => c.trend.p));
    mine.forEach((c, j) => (c.trend.pHolm = tP[j] ?? null));
    const pP = holm(mine.map((c) => c.trend.permutation?.p ?? null));
    mine.forEach((c, j) => {
      if (c.trend.permutation) c.trend.permutation.pHolm = pP[j] ?? null;
    });
    reach.push({ group: g, ...steerReach(Math.max(0, ...mine.map((c) => c.n)), mine.length, levels.length, o.nPermutations ?? 9999, o.alpha ?? 0.05) });
    const withCal = mine.filter((c) => c.calibrated);
    const cb = holm(withCal.map((c) => c.calibrated!.pVsBaseline));
    const cc = holm(withCal.map((c) => c.calibrated!.pVsControl));
    withCal.forEach((c, j) => {
      c.calibrated!.pVsBaselineHolm = cb[j] ?? null;
      c.calibrated!.pVsControlHolm = cc[j] ?? null;
    });
    cells.push(...mine);
  }
  let maxErr: number | null = null;
  for (const r of ok) {
    const conds = [...r.levels.flatMap((l) => [l.steer.massError, l.control.massError]), ...(r.calibrated ? [r.calibrated.steer.massError, r.calibrated.control.massError] : [])];
    for (const e of conds) maxErr = Math.max(maxErr ?? 0, e);
  }
  return {
    primaryGroups: primary,
    nSamples,
    nApplicable: new Set(ok.map((r) => r.id)).size,
    notApplicable: na,
    correction: 'Holm within each group (primary trend permutation test, Spearman trend and calibrated: across units; per-level tests, secondary: across units × levels)',
    alpha: o.alpha ?? 0.05,
    maxMassError: maxErr,
    cells,
    reach,
  };
}
