/**
 * Statistics of the transplant experiment (Rust recipients, paired by pair).
 *
 * Per unit × arm: Wilson 95% CIs of preserved / syntaxOk / executedPass; the preserved rate difference
 * arm − baseline with a paired percentile bootstrap 95% CI; exact two-sided McNemar of the arm vs baseline
 * and vs each control arm (the Rust-donor `control`, the `shuffled` map; with the direction); the mean
 * paired difference of log p(NAME( ) (nats) vs baseline and vs each control, with a bootstrap CI and a
 * two-sided paired sign-flip permutation test (exact for n ≤ 16).
 * Holm across arms × units within each family: preserved vs baseline, vs control, vs shuffled; log p vs
 * baseline, vs control, vs shuffled. The summary states the families' size and smallest reachable adjusted p.
 *
 * Criteria (the roadmap's "transplant effect"), on the pattern arm:
 *  - preservation: some unit whose pattern transplant raises preservation with Holm p < α vs baseline AND
 *    vs both controls, all increases;
 *  - log p(NAME( ): some unit whose pattern transplant raises log p with Holm p < α vs baseline and vs both
 *    controls, all increases.
 *
 * @module
 */
import { bootstrapCI1 } from '../../stats/bootstrap.ts';
import { holm } from '../../stats/correct.ts';
import { pairedPermutationTest, PAIRED_EXACT_MAX_N } from '../../stats/permutation.ts';
import { mcnemarPaired, minMcNemarP, wilson } from '../../stats/proportion.ts';
import { createRng } from '../../stats/rng.ts';
import type { TransplantConfig } from './experiment.ts';
import { ARMS, CONTROL_ARMS, type ArmName, type Criterion, type TransplantComparison, type TransplantRecord, type TransplantSummary } from './schema.ts';

type Outcome = TransplantRecord['baseline']['outcome'];
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: readonly number[]) => (xs.length ? sum(xs) / xs.length : null);
const bit = (b: boolean) => (b ? 1 : 0);
const pass = (o: Outcome) => bit(o.executed === 'pass');

type Cfg = Pick<TransplantConfig, 'units' | 'alpha' | 'nBoot' | 'nPermutations'>;

/** Smallest two-sided p of the paired sign-flip test on n pairs (exact: 2/2^n; Monte Carlo: 1/(B+1)). */
export function minPermutationP(n: number, nPermutations: number): number {
  if (n <= 0) return 1;
  return n <= PAIRED_EXACT_MAX_N ? Math.min(1, 2 / 2 ** n) : 1 / (nPermutations + 1);
}

function logpTest(a: (number | null)[], b: (number | null)[], cfg: Cfg, seed: number, stream: string): TransplantComparison['logpVsBaseline'] {
  const d: number[] = [];
  a.forEach((x, i) => {
    const y = b[i];
    if (x !== null && y !== null && y !== undefined) d.push(x - y);
  });
  if (d.length === 0) return { n: 0, meanDiff: null, ci: null, p: null, pHolm: null };
  const p = d.every((x) => x === 0) ? 1 : pairedPermutationTest(d, { rng: createRng(seed, `transplant/perm/${stream}`), nPermutations: cfg.nPermutations }).p;
  let ci: { lo: number; hi: number } | null = null;
  if (d.length >= 2) {
    const boot = bootstrapCI1(d, (x) => mean(x), { nBoot: cfg.nBoot, rng: createRng(seed, `transplant/boot-logp/${stream}`), method: 'percentile' });
    if (boot.lo !== null && boot.hi !== null) ci = { lo: boot.lo, hi: boot.hi };
  }
  return { n: d.length, meanDiff: mean(d), ci, p, pHolm: null };
}

export function summarizeTransplant(records: readonly TransplantRecord[], cfg: Cfg, seed: number, skipped: TransplantSummary['skipped'], caveats: string[]): TransplantSummary {
  const n = records.length;
  const base = records.map((r) => r.baseline.outcome);
  const bPres = base.map((o) => bit(o.preserved));
  const bLogp = records.map((r) => r.baseline.logpCall);
  const comparisons: TransplantComparison[] = [];
  for (const u of cfg.units) {
    const cell = (arm: ArmName) =>
      records.map((r) => {
        const x = r.units.find((y) => y.unit.id === u.id)?.arms.find((a) => a.arm === arm);
        if (!x) throw new Error(`transplant record '${r.id}' has no ${arm} arm at unit ${u.id} (results of other settings?)`);
        return x;
      });
    const ctl = cell('control');
    const cPres = ctl.map((x) => bit(x.outcome.preserved));
    const cLogp = ctl.map((x) => x.logpCall);
    const shf = cell('shuffled');
    const sPres = shf.map((x) => bit(x.outcome.preserved));
    const sLogp = shf.map((x) => x.logpCall);
    const fnBase = mean(records.map((r) => r.units.find((y) => y.unit.id === u.id)!.fnMassBaseline));
    for (const arm of ARMS) {
      const xs = cell(arm);
      const t = xs.map((x) => bit(x.outcome.preserved));
      const stream = `${u.id}/${arm}`;
      let diffCi: TransplantComparison['diffCi'] = null;
      const diffs = t.map((v, i) => v - bPres[i]!);
      if (n >= 2) {
        const boot = bootstrapCI1(diffs, (x) => mean(x), { nBoot: cfg.nBoot, rng: createRng(seed, `transplant/boot/${stream}`), method: 'percentile' });
        if (boot.lo !== null && boot.hi !== null) diffCi = { lo: boot.lo, hi: boot.hi };
      }
      const logp = xs.map((x) => x.logpCall);
      const fm = xs.map((x) => x.fnMass).filter((v): v is number => v !== null);
      const isCtl = (CONTROL_ARMS as readonly string[]).includes(arm);
      comparisons.push({
        unit: u.id,
        arm,
        n,
        preserved: wilson(sum(t), n),
        syntaxOk: wilson(sum(xs.map((x) => bit(x.outcome.syntaxOk))), n),
        executedPass: wilson(sum(xs.map((x) => pass(x.outcome))), n),
        diff: mean(diffs),
        diffCi,
        vsBaseline: mcnemarPaired(bPres, t),
        vsControl: isCtl ? null : mcnemarPaired(cPres, t),
        vsShuffled: isCtl ? null : mcnemarPaired(sPres, t),
        pHolmBaseline: null,
        pHolmControl: null,
        pHolmShuffled: null,
        logpArm: mean(logp.filter((v): v is number => v !== null)),
        logpVsBaseline: logpTest(logp, bLogp, cfg, seed, `${stream}/base`),
        logpVsControl: isCtl ? null : logpTest(logp, cLogp, cfg, seed, `${stream}/ctl`),
        logpVsShuffled: isCtl ? null : logpTest(logp, sLogp, cfg, seed, `${stream}/shf`),
        fnMass: fm.length ? mean(fm) : null,
        fnMassBaseline: fm.length ? fnBase : null,
      });
    }
  }
  const assign = <T>(rows: T[], ps: (number | null)[], set: (r: T, p: number | null) => void) => {
    const h = holm(ps);
    rows.forEach((r, i) => set(r, h[i] ?? null));
  };
  const withCtl = comparisons.filter((c) => c.vsControl !== null);
  assign(comparisons, comparisons.map((c) => c.vsBaseline.p), (c, p) => (c.pHolmBaseline = p));
  assign(withCtl, withCtl.map((c) => c.vsControl!.p), (c, p) => (c.pHolmControl = p));
  assign(comparisons, comparisons.map((c) => c.logpVsBaseline.p), (c, p) => (c.logpVsBaseline.pHolm = p));
  assign(withCtl, withCtl.map((c) => c.logpVsControl!.p), (c, p) => (c.logpVsControl!.pHolm = p));
  assign(withCtl, withCtl.map((c) => c.vsShuffled!.p), (c, p) => (c.pHolmShuffled = p));
  assign(withCtl, withCtl.map((c) => c.logpVsShuffled!.p), (c, p) => (c.logpVsShuffled!.pHolm = p));

  const m = comparisons.length;
  const nLogp = records.filter((r) => r.baseline.logpCall !== null).length;
  const mcMin = n ? minMcNemarP(n, m) : 1;
  const lpMin = Math.min(1, m * minPermutationP(nLogp, cfg.nPermutations));
  const a = cfg.alpha;
  const extra: string[] = [];
  if (mcMin >= a) extra.push(`with n = ${n} pairs and ${m} McNemar tests under Holm the smallest reachable p is ${mcMin.toPrecision(3)} ≥ α = ${a}: the preservation criterion cannot be met; run more pairs or fewer units`);
  if (lpMin >= a) extra.push(`with ${nLogp} pairs with log p and ${m} permutation tests under Holm the smallest reachable p is ${lpMin.toPrecision(3)} ≥ α = ${a}: the log p criterion cannot be met`);
  const c = (tests: number, minP: number) => ({ method: 'holm' as const, tests, minReachableP: minP, alpha: a, alphaReachable: minP < a });
  return {
    n,
    pairing: { name: records.filter((r) => r.pairing === 'name').length, params: records.filter((r) => r.pairing === 'params').length },
    baseline: {
      preserved: wilson(sum(bPres), n),
      syntaxOk: wilson(sum(base.map((o) => bit(o.syntaxOk))), n),
      executedPass: wilson(sum(base.map(pass)), n),
      logpCall: mean(bLogp.filter((v): v is number => v !== null)),
      nLogp,
    },
    comparisons,
    criteria: criteria(comparisons.filter((x) => x.arm === 'pattern'), a),
    correction: { mcnemar: c(m, mcMin), logp: c(m, lpMin) },
    skipped,
    caveats: [...caveats, ...extra],
  };
}

function criteria(rows: TransplantComparison[], a: number): Criterion[] {
  if (rows.length === 0) return [];
  const okPres = rows.filter((c) => (c.pHolmBaseline ?? 1) < a && (c.pHolmControl ?? 1) < a && (c.pHolmShuffled ?? 1) < a && c.vsBaseline.direction === 'increase' && c.vsControl?.direction === 'increase' && c.vsShuffled?.direction === 'increase');
  const bestPres = (okPres.length ? okPres : rows).reduce((x, y) => ((y.diff ?? -Infinity) > (x.diff ?? -Infinity) ? y : x));
  const okLp = rows.filter(
    (c) =>
      (c.logpVsBaseline.pHolm ?? 1) < a && (c.logpVsControl?.pHolm ?? 1) < a && (c.logpVsShuffled?.pHolm ?? 1) < a && (c.logpVsBaseline.meanDiff ?? 0) > 0 && (c.logpVsControl?.meanDiff ?? 0) > 0 && (c.logpVsShuffled?.meanDiff ?? 0) > 0,
  );
  const bestLp = (okLp.length ? okLp : rows).reduce((x, y) => ((y.logpVsBaseline.meanDiff ?? -Infinity) > (x.logpVsBaseline.meanDiff ?? -Infinity) ? y : x));
  return [
    {
      criterion: 'transplant effect: the Python pattern improves Rust preservation',
      language: 'rust',
      met: okPres.length > 0,
      unit: bestPres.unit,
      value: bestPres.diff,
      ci: bestPres.diffCi,
      p: bestPres.pHolmBaseline,
      n: bestPres.n,
      note: okPres.length
        ? `${okPres.length} of ${rows.length} unit(s) qualify; value = preserved rate difference vs baseline (Holm p vs control ${fmtP(bestPres.pHolmControl)}, vs shuffled ${fmtP(bestPres.pHolmShuffled)})`
        : `no unit qualifies (needs a Holm-significant increase vs baseline, vs the Rust-donor control and vs the shuffled map); shown: the largest difference vs baseline (Holm p vs control ${fmtP(bestPres.pHolmControl)}, vs shuffled ${fmtP(bestPres.pHolmShuffled)})`,
    },
    {
      criterion: 'transplant effect: the Python pattern raises log p(NAME()',
      language: 'rust',
      met: okLp.length > 0,
      unit: bestLp.unit,
      value: bestLp.logpVsBaseline.meanDiff,
      ci: bestLp.logpVsBaseline.ci,
      p: bestLp.logpVsBaseline.pHolm,
      n: bestLp.logpVsBaseline.n,
      note: okLp.length
        ? `${okLp.length} of ${rows.length} unit(s) qualify; value = mean paired difference vs baseline in nats (vs control ${lpNote(bestLp.logpVsControl)}; vs shuffled ${lpNote(bestLp.logpVsShuffled)})`
        : `no unit qualifies (needs a Holm-significant increase vs baseline and vs both controls); shown: the largest mean difference vs baseline, nats (vs control ${lpNote(bestLp.logpVsControl)}; vs shuffled ${lpNote(bestLp.logpVsShuffled)})`,
    },
  ];
}

const fmtP = (p: number | null) => (p === null ? '—' : p < 1e-3 ? p.toExponential(1) : p.toFixed(3));
const fmtSigned = (x: number | null) => (x === null ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(3)}`);
const lpNote = (t: TransplantComparison['logpVsControl']) => (t ? `${fmtSigned(t.meanDiff)} nats, Holm p ${fmtP(t.pHolm)}` : '—');
