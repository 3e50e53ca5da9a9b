/**
 * Statistics of phase 4.
 *
 * Per unit × dose: preservation and executed-pass rates with Wilson 95% CIs; exact two-sided McNemar of
 * the steered test vs baseline and vs the first control draw (paired by prompt); Holm across units × doses.
 * Per unit: a dose-response trend test across the multiples — statistic T = Σ_prompts Σ_doses k·y
 * (the stratified Cochran–Armitage numerator), null distribution from permuting each prompt's outcomes
 * across doses (valid for paired data: under H0 a prompt's outcomes are exchangeable across doses),
 * one-sided for an increase, Holm across units; the ceiling is the smallest multiple at which the rate
 * reaches its maximum.
 *
 * Criteria (roadmap phase 4, Rust): "steering improves Rust test quality" — at ×1 (the Python level) some
 * unit is Holm-significantly better than baseline and than its control; "dose-dependent up to a ceiling" —
 * some unit's trend is Holm-significant and increasing (its ceiling reported).
 *
 * @module
 */
import { bootstrapCI1 } from '../../stats/bootstrap.ts';
import { holm } from '../../stats/correct.ts';
import { mcnemarPaired, minMcNemarP, wilson } from '../../stats/proportion.ts';
import { createRng } from '../../stats/rng.ts';
import type { Outcome } from '../shared/outcome.ts';
import type { SteerGenConfig } from './experiment.ts';
import type { SteerGenRecord, SteerGenSummary } from './schema.ts';

const pres = (o: Outcome): 0 | 1 => (o.preserved ? 1 : 0);
const passed = (o: Outcome): 0 | 1 => (o.executed === 'pass' ? 1 : 0);
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
/** Wilson rate of passing tests, null when nothing was executed. */
const passRate = (os: readonly Outcome[]) => (os.every((o) => o.executed === null) ? null : wilson(sum(os.map(passed)), os.length));

/** Within-prompt permutation trend test; `y[i][j]` = outcome of prompt i at dose j, `d[j]` = dose. */
export function trendTest(y: readonly (readonly number[])[], d: readonly number[], nPerm: number, seed: number, stream: string): { statistic: number; p: number; direction: 'increasing' | 'decreasing' | 'flat' } {
  const stat = (rows: readonly (readonly number[])[]) => sum(rows.map((r) => sum(r.map((v, j) => v * d[j]!))));
  const t = stat(y);
  const dMean = sum(d) / d.length;
  const expected = sum(y.map((r) => sum(r) * dMean));
  const direction = Math.abs(t - expected) < 1e-12 ? 'flat' : t > expected ? 'increasing' : 'decreasing';
  const rng = createRng(seed, stream);
  let ge = 0;
  const buf = y.map((r) => [...r]);
  for (let b = 0; b < nPerm; b++) {
    for (const r of buf) {
      for (let j = r.length - 1; j > 0; j--) {
        const k = Math.floor(rng.next() * (j + 1));
        [r[j], r[k]] = [r[k]!, r[j]!];
      }
    }
    if (stat(buf) >= t - 1e-12) ge++;
  }
  return { statistic: t, p: (ge + 1) / (nPerm + 1), direction };
}

export function summarizeSteerGen(records: readonly SteerGenRecord[], cfg: Pick<SteerGenConfig, 'units' | 'doses' | 'alpha' | 'nPermutations' | 'calibration'>, seed: number, skipped: SteerGenSummary['skipped'], caveats: string[]): SteerGenSummary {
  const n = records.length;
  const base = records.map((r) => pres(r.baseline));
  const doses: SteerGenSummary['doses'] = [];
  for (const u of cfg.units) {
    for (const [j, dose] of cfg.doses.entries()) {
      const cells = records.map((r) => r.units.find((x) => x.unit.id === u.id)!.doses[j]!);
      const t = cells.map((c) => pres(c.treated));
      const c0 = cells.map((c) => pres(c.controls[0]!));
      const cAll = cells.flatMap((c) => c.controls.map(pres));
      doses.push({
        unit: u.id,
        label: dose.label,
        multiple: dose.multiple,
        absolute: dose.absolute,
        preserved: wilson(sum(t), n),
        executedPass: passRate(cells.map((c) => c.treated)),
        control: wilson(sum(cAll), cAll.length),
        vsBaseline: mcnemarPaired(base, t),
        vsControl: mcnemarPaired(c0, t),
        pHolmBaseline: 1,
        pHolmControl: 1,
      });
    }
  }
  const hb = holm(doses.map((d) => d.vsBaseline.p));
  const hc = holm(doses.map((d) => d.vsControl.p));
  doses.forEach((d, i) => {
    d.pHolmBaseline = hb[i] ?? 1;
    d.pHolmControl = hc[i] ?? 1;
  });
  const multIdx = cfg.doses.map((d, j) => (d.absolute === null ? j : -1)).filter((j) => j >= 0);
  const trends: SteerGenSummary['trends'] = cfg.units.map((u) => {
    const y = records.map((r) => multIdx.map((j) => pres(r.units.find((x) => x.unit.id === u.id)!.doses[j]!.treated)));
    const d = multIdx.map((j) => cfg.doses[j]!.multiple!);
    const tt = n ? trendTest(y, d, cfg.nPermutations, seed, `steer-generation/trend/${u.id}`) : { statistic: 0, p: 1, direction: 'flat' as const };
    const rates = multIdx.map((_, jj) => (n ? sum(y.map((r) => r[jj]!)) / n : 0));
    const max = Math.max(...rates);
    const at = rates.findIndex((r) => r === max);
    return { unit: u.id, ...tt, pHolm: 1, ceilingMultiple: n ? d[at]! : null, ceilingRate: n ? max : null };
  });
  const ht = holm(trends.map((t) => t.p));
  trends.forEach((t, i) => (t.pHolm = ht[i] ?? 1));
  const a = cfg.alpha;
  const steered = doses.filter((d) => d.multiple === 1 && d.absolute === null);
  const okSteer = steered.filter((d) => d.pHolmBaseline < a && d.pHolmControl < a && d.vsBaseline.direction === 'increase' && d.vsControl.direction === 'increase');
  const bestSteer = (okSteer.length ? okSteer : steered).reduce((x, y) => ((y.preserved.rate ?? 0) > (x.preserved.rate ?? 0) ? y : x), steered[0]!);
  const diffCi = (unit: string) => {
    const j = cfg.doses.findIndex((d) => d.multiple === 1 && d.absolute === null);
    const t = records.map((r) => pres(r.units.find((x) => x.unit.id === unit)!.doses[j]!.treated));
    if (n < 2) return null;
    const b = bootstrapCI1(records.map((_, i) => i), (ix) => sum(ix.map((i) => t[i]! - base[i]!)) / ix.length, { nBoot: 2000, rng: createRng(seed, `steer-generation/boot/${unit}`), method: 'percentile' });
    return b.lo !== null && b.hi !== null ? { lo: b.lo, hi: b.hi } : null;
  };
  const okTrend = trends.filter((t) => t.pHolm < a && t.direction === 'increasing');
  const bestTrend = (okTrend.length ? okTrend : trends).reduce((x, y) => (y.p < x.p ? y : x), trends[0]!);
  const baseRate = n ? sum(base) / n : 0;
  const minReachableP = minMcNemarP(n, doses.length);
  const criteria: SteerGenSummary['criteria'] = [
    {
      criterion: 'steering to the Python level improves Rust test quality',
      language: 'rust',
      met: okSteer.length > 0,
      unit: bestSteer?.unit ?? null,
      value: bestSteer ? (bestSteer.preserved.rate ?? 0) - baseRate : null,
      ci: bestSteer ? diffCi(bestSteer.unit) : null,
      p: bestSteer?.pHolmBaseline ?? null,
      n,
      note: okSteer.length ? `${okSteer.length} unit(s) qualify (Holm p < ${a} vs baseline and vs the mass-holding control)` : 'no unit improves significantly vs both baseline and control; value = rate difference vs baseline',
    },
    {
      criterion: 'the effect is dose-dependent up to a ceiling',
      language: 'rust',
      met: okTrend.length > 0,
      unit: bestTrend?.unit ?? null,
      value: bestTrend?.ceilingMultiple ?? null,
      ci: null,
      p: bestTrend?.pHolm ?? null,
      n,
      note: bestTrend ? `trend ${bestTrend.direction}; ceiling at ×${bestTrend.ceilingMultiple} (rate ${((bestTrend.ceilingRate ?? 0) * 100).toFixed(1)}%); value = ceiling multiple` : 'no unit',
    },
  ];
  const cal = cfg.calibration;
  return {
    n,
    calibration: { pythonMean: cal.pythonMean, rustMean: cal.rustMean, ratio: cal.rustMean > 0 ? cal.pythonMean / cal.rustMean : null },
    baseline: { preserved: wilson(sum(base), n), executedPass: passRate(records.map((r) => r.baseline)) },
    doses,
    trends,
    criteria,
    correction: { method: 'holm', tests: doses.length, minReachableP, alpha: a, alphaReachable: minReachableP < a },
    skipped,
    caveats: [...caveats, ...(minReachableP < a ? [] : [`with n = ${n} prompts and ${doses.length} tests under Holm the smallest reachable McNemar p is ${minReachableP.toPrecision(3)} ≥ α = ${a}`])],
  };
}
