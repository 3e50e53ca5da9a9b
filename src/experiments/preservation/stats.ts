/**
 * Statistics of the preservation experiment.
 *
 * Per language × unit × edited condition × criterion: rates with Wilson 95% CIs (baseline, treated,
 * controls pooled over draws), exact two-sided McNemar of treated vs baseline and of treated vs the
 * first control draw (paired by prompt, with the direction), and the relative change of the rate,
 * (treated − baseline) / baseline, with a paired percentile bootstrap 95% CI over prompts.
 * Holm corrects the primary criterion (`preserved`) across languages × units × conditions within the
 * model, separately for the baseline and the control comparisons; the summary states the family size and
 * the smallest adjusted p the design can reach.
 *
 * Roadmap criteria, per language:
 *  - knockout reduces preservation by more than `dropThreshold` (20 %): some unit whose knockout is
 *    significant vs baseline AND vs control (Holm), lower than both, and whose relative-change CI lies
 *    entirely below −20 % (the drop exceeds 20 % with 95 % confidence);
 *  - amplify improves preservation: some unit whose amplify is significant vs baseline and vs control
 *    (Holm), higher than both.
 *
 * @module
 */
import { bootstrapCI1 } from '../../stats/bootstrap.ts';
import { holm } from '../../stats/correct.ts';
import { mcnemarPaired, minMcNemarP, wilson, type Proportion } from '../../stats/proportion.ts';
import { createRng } from '../../stats/rng.ts';
import type { PreservationConfig } from './experiment.ts';
import type { Comparison, Criterion, Outcome, PreservationRecord, PreservationSummary } from './schema.ts';

export const CRITERIA = ['preserved', 'called', 'arityOk', 'syntaxOk', 'executedPass'] as const;
type CriterionName = (typeof CRITERIA)[number];

const value = (o: Outcome, c: CriterionName): 0 | 1 => (c === 'executedPass' ? (o.executed === 'pass' ? 1 : 0) : o[c] ? 1 : 0);
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

function relChange(t: readonly number[], b: readonly number[]): number | null {
  const sb = sum(b);
  return sb === 0 ? null : (sum(t) - sb) / sb;
}

export function summarizePreservation(
  records: readonly PreservationRecord[],
  cfg: Pick<PreservationConfig, 'units' | 'arms' | 'alpha' | 'dropThreshold' | 'nBoot'>,
  seed: number,
  skipped: PreservationSummary['skipped'],
  caveats: string[],
): PreservationSummary {
  const langs = (['python', 'rust'] as const).filter((l) => records.some((r) => r.language === l));
  const comparisons: Comparison[] = [];
  for (const lang of langs) {
    const rs = records.filter((r) => r.language === lang);
    for (const u of cfg.units) {
      for (const arm of cfg.arms) {
        for (const crit of CRITERIA) {
          const b = rs.map((r) => value(r.baseline, crit));
          const cells = rs.map((r) => r.units.find((x) => x.unit.id === u.id)!.arms.find((a) => a.condition === arm.condition)!);
          const t = cells.map((c) => value(c.treated, crit));
          const c0 = cells.map((c) => value(c.controls[0]!, crit));
          const cAll = cells.flatMap((c) => c.controls.map((o) => value(o, crit)));
          const rc = relChange(t, b);
          let ci: Comparison['relChangeCi'] = null;
          if (rc !== null && rs.length >= 2) {
            const idx = rs.map((_, i) => i);
            const boot = bootstrapCI1(idx, (ix) => relChange(ix.map((i) => t[i]!), ix.map((i) => b[i]!)), {
              nBoot: cfg.nBoot,
              rng: createRng(seed, `preservation/boot/${lang}/${u.id}/${arm.condition}/${crit}`),
              method: 'percentile',
            });
            if (boot.lo !== null && boot.hi !== null) ci = { lo: boot.lo, hi: boot.hi };
          }
          comparisons.push({
            language: lang,
            unit: u.id,
            condition: arm.condition,
            criterion: crit,
            n: rs.length,
            baseline: wilson(sum(b), b.length),
            treated: wilson(sum(t), t.length),
            control: wilson(sum(cAll), cAll.length),
            relChange: rc,
            relChangeCi: ci,
            vsBaseline: mcnemarPaired(b, t),
            vsControl: mcnemarPaired(c0, t),
            pHolmBaseline: null,
            pHolmControl: null,
          });
        }
      }
    }
  }
  const primary = comparisons.filter((c) => c.criterion === 'preserved');
  const hb = holm(primary.map((c) => c.vsBaseline.p));
  const hc = holm(primary.map((c) => c.vsControl.p));
  primary.forEach((c, i) => {
    c.pHolmBaseline = hb[i] ?? null;
    c.pHolmControl = hc[i] ?? null;
  });
  const nMin = Math.min(...langs.map((l) => records.filter((r) => r.language === l).length));
  const minReachableP = langs.length ? minMcNemarP(nMin, primary.length) : 1;
  const baseRate = (l: 'python' | 'rust'): Proportion | null => {
    const rs = records.filter((r) => r.language === l);
    return rs.length ? wilson(rs.filter((r) => r.baseline.preserved).length, rs.length) : null;
  };
  const out: PreservationSummary = {
    n: { python: records.filter((r) => r.language === 'python').length, rust: records.filter((r) => r.language === 'rust').length },
    baseline: { python: baseRate('python'), rust: baseRate('rust') },
    comparisons,
    criteria: langs.flatMap((l) => criteria(primary.filter((c) => c.language === l), l, cfg)),
    correction: { method: 'holm', tests: primary.length, minReachableP, alpha: cfg.alpha, alphaReachable: minReachableP < cfg.alpha },
    skipped,
    caveats: [...caveats, ...(minReachableP < cfg.alpha ? [] : [`with n = ${nMin} prompts and ${primary.length} tests under Holm the smallest reachable p is ${minReachableP.toPrecision(3)} ≥ α = ${cfg.alpha}: no criterion can be met; run more prompts or fewer units`])],
  };
  return out;
}

function criteria(rows: Comparison[], lang: 'python' | 'rust', cfg: Pick<PreservationConfig, 'alpha' | 'dropThreshold'>): Criterion[] {
  const a = cfg.alpha;
  const sig = (c: Comparison) => (c.pHolmBaseline ?? 1) < a && (c.pHolmControl ?? 1) < a;
  const out: Criterion[] = [];
  const ko = rows.filter((c) => c.condition === 'knockout');
  if (ko.length) {
    const ok = ko.filter((c) => sig(c) && c.vsBaseline.direction === 'decrease' && c.vsControl.direction === 'decrease' && c.relChangeCi !== null && c.relChangeCi.hi < -cfg.dropThreshold);
    const best = (ok.length ? ok : ko).reduce((x, y) => ((y.relChange ?? 0) < (x.relChange ?? 0) ? y : x));
    out.push({
      criterion: `knockout reduces preservation by more than ${Math.round(cfg.dropThreshold * 100)}%`,
      language: lang,
      met: ok.length > 0,
      unit: best.unit,
      value: best.relChange,
      ci: best.relChangeCi,
      p: best.pHolmBaseline,
      n: best.n,
      note: ok.length
        ? `${ok.length} of ${ko.length} unit(s) qualify; shown: the largest drop (Holm p vs control ${fmtP(best.pHolmControl)})`
        : `no unit qualifies (needs Holm p < ${a} vs baseline and vs control, and the whole 95% CI of the relative change below −${Math.round(cfg.dropThreshold * 100)}%); shown: the largest drop`,
    });
  }
  const amp = rows.filter((c) => c.condition === 'amplify');
  if (amp.length) {
    const ok = amp.filter((c) => sig(c) && c.vsBaseline.direction === 'increase' && c.vsControl.direction === 'increase');
    const best = (ok.length ? ok : amp).reduce((x, y) => ((y.relChange ?? -Infinity) > (x.relChange ?? -Infinity) ? y : x));
    out.push({
      criterion: 'amplify improves preservation',
      language: lang,
      met: ok.length > 0,
      unit: best.unit,
      value: best.relChange,
      ci: best.relChangeCi,
      p: best.pHolmBaseline,
      n: best.n,
      note: ok.length ? `${ok.length} of ${amp.length} unit(s) qualify; shown: the largest gain` : `no unit qualifies (needs a Holm-significant increase vs baseline and vs control); shown: the largest change`,
    });
  }
  return out;
}

const fmtP = (p: number | null) => (p === null ? '—' : p < 1e-3 ? p.toExponential(1) : p.toFixed(3));
