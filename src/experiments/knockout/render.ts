/**
 * Terminal summary of a knockout run (plain text; numbers via src/report/table.ts).
 *
 * @module
 */
import { fmt, foldRepeated, renderTable } from '../../report/table.ts';
import type { BootstrapInterval, KnockoutSummary } from './schema.ts';

function ciText(c: BootstrapInterval | null): string {
  return c && c.lo !== null && c.hi !== null ? `[${fmt(c.lo, 3)}, ${fmt(c.hi, 3)}]` : '—';
}

function pText(p: number | null): string {
  return p === null ? '—' : p < 1e-4 ? p.toExponential(1) : p.toFixed(4);
}

/** The summary as text: per-unit paired tests, Python vs Rust, not-applicable samples, verdict. */
export function renderKnockoutSummary(s: KnockoutSummary): string {
  const out: string[] = [];
  out.push(`samples: ${s.nSamples}, applicable: ${s.nApplicable}, not applicable: ${s.notApplicable.length}`);
  for (const na of s.notApplicable) out.push(`  - ${na.id} (${na.group}): ${na.reason.split(':')[0]}`);
  const notes = foldRepeated(s.units.flatMap((u) => u.notes.map((n) => `${u.unit.id}: ${n}`)));
  if (notes.length) {
    out.push('notes:');
    for (const n of notes.slice(0, 12)) out.push(`  - ${n}`);
    if (notes.length > 12) out.push(`  … ${notes.length - 12} more in the results file`);
  }
  if (s.reach) {
    for (const [what, f] of [['pooled', s.reach.pooled], ['per language', s.reach.byLanguage]] as const) {
      const line = `${what}: smallest reachable Holm-adjusted p = ${f.minP.toPrecision(3)} (n ≤ ${f.maxN}, ${f.tests} tests; α = ${s.reach.alpha})`;
      out.push(f.reachable ? line : `warning: ${line} — α is NOT reachable; add samples or test fewer units`);
    }
  }
  out.push('');
  out.push(`KL(P_baseline ‖ P_intervened) at the marker position${s.markerToken ? ` (${s.markerToken} token of the marker)` : ''}, nats; knockout vs mean of matched controls; groups: ${s.primaryGroups.join(', ')}`);
  out.push(
    renderTable(
      ['unit', 'n', 'KL ko (med)', 'KL ctl (med)', 'mean Δ', `${Math.round(s.bootstrap.level * 100)}% CI`, 'd_z', 'r_rb', 'p Wilcoxon', 'p Holm', 'p perm', 'p perm Holm', 'top1 chg ko/ctl', 'met'],
      s.units.map((u) => [
        u.unit.id,
        String(u.n),
        u.medianKlKnockout,
        u.medianKlControl,
        u.meanDiffKl,
        ciText(u.meanDiffCI),
        u.dz === null ? '—' : fmt(u.dz, 2),
        u.rankBiserial === null ? '—' : fmt(u.rankBiserial, 2),
        pText(u.wilcoxon.p),
        pText(u.wilcoxon.pHolm),
        pText(u.permutation.p),
        pText(u.permutation.pHolm),
        u.secondary.top1ChangedKnockout === null ? '—' : `${fmt(u.secondary.top1ChangedKnockout, 2)}/${fmt(u.secondary.top1ChangedControl, 2)}`,
        u.met ? 'yes' : 'no',
      ]),
    ),
  );
  out.push('');
  out.push('Python vs Rust (per-sample KL difference knockout − control; two-sided Mann–Whitney, Holm over units; per-language one-sided Wilcoxon p, Holm over units × languages)');
  if (s.markerToken === 'first') out.push('warning: measured at the FIRST marker token: for #[test] that is the prediction of `test]`, not of the test; rerun with --marker-token last to compare languages');
  out.push(
    renderTable(
      ['unit', 'n py', 'n rs', 'med Δ py', 'med Δ rs', 'p py>0 Holm', 'p rs>0 Holm', 'U', 'p MWU', 'p Holm', 'r_rb', "Hedges' g", 'g CI'],
      s.units.map((u) => [
        u.unit.id,
        String(u.pythonVsRust.nPython),
        String(u.pythonVsRust.nRust),
        u.byLanguage.python.medianDiffKl,
        u.byLanguage.rust.medianDiffKl,
        pText(u.byLanguage.python.wilcoxonPHolm ?? u.byLanguage.python.wilcoxonP),
        pText(u.byLanguage.rust.wilcoxonPHolm ?? u.byLanguage.rust.wilcoxonP),
        u.pythonVsRust.U === null ? '—' : String(u.pythonVsRust.U),
        pText(u.pythonVsRust.p),
        pText(u.pythonVsRust.pHolm),
        u.pythonVsRust.rankBiserial === null ? '—' : fmt(u.pythonVsRust.rankBiserial, 2),
        u.pythonVsRust.hedgesG === null ? '—' : fmt(u.pythonVsRust.hedgesG, 2),
        ciText(u.pythonVsRust.gCI),
      ]),
    ),
  );
  out.push('');
  out.push(`success criterion (${s.correction}): ${s.verdict.statement}`);
  if (s.verdictByLanguage) for (const l of ['python', 'rust'] as const) out.push(`  per language: ${s.verdictByLanguage[l].statement}`);
  return out.join('\n');
}
