/**
 * Terminal summary of a steering run (plain text; numbers via src/report/table.ts).
 *
 * @module
 */
import { fmt, foldRepeated, renderTable } from '../../report/table.ts';
import type { SteerSummary } from './schema.ts';

function pText(p: number | null): string {
  return p === null ? '—' : p < 1e-4 ? p.toExponential(1) : p.toFixed(4);
}

/** The summary as text: dose-response per group × unit, trend, calibrated condition, mass check. */
export function renderSteerSummary(s: SteerSummary): string {
  const out: string[] = [];
  out.push(`samples: ${s.nSamples}, applicable: ${s.nApplicable}, not applicable: ${s.notApplicable.length}`);
  for (const line of foldRepeated(s.notApplicable.map((na) => `${na.group}: ${na.reason.split(' (')[0]}`))) out.push(`  - ${line}`);
  out.push('');
  out.push('Steering marker → function attention to level ℓ (attention mass at the marker row, all selected heads) vs the same ℓ on matched random keys.');
  out.push('ΔNLL = change of the mean NLL of the real continuation (nats/token; negative = the real test line becomes more likely). KL at the marker in nats.');
  for (const c of s.cells) {
    out.push('');
    out.push(`${c.group} · ${c.unit.id} (n = ${c.n}; natural mass on the function ${fmt(c.medianNaturalMass, 3)}, on the control keys ${fmt(c.medianNaturalMassControl, 3)})`);
    out.push(
      renderTable(
        ['ℓ', 'reached', 'KL steer', 'KL ctl', 'ΔNLL steer', 'ΔNLL ctl', 'r_rb', 'p', 'p Holm', 'top1 chg steer/ctl'],
        c.levels.map((l) => [
          fmt(l.level, 3),
          fmt(l.medianAchievedMass, 3),
          l.medianKlSteer,
          l.medianKlControl,
          l.medianDNllSteer,
          l.medianDNllControl,
          l.rankBiserial === null ? '—' : fmt(l.rankBiserial, 2),
          pText(l.p),
          pText(l.pHolm),
          l.top1ChangedSteer === null ? '—' : `${fmt(l.top1ChangedSteer, 2)}/${fmt(l.top1ChangedControl, 2)}`,
        ]),
      ),
    );
    const t = c.trend;
    if (t.permutation) out.push(`PRIMARY dose-response trend (within-sample permutation, two-sided, B = ${t.permutation.nPermutations}): ${t.permutation.direction} (${t.permutation.direction === 'increasing' ? 'more mass on the function helps the real line more than on random keys' : t.permutation.direction === 'decreasing' ? 'more mass on the function hurts the real line more than on random keys' : 'no trend'}); p ${pText(t.permutation.p)}, Holm over units ${pText(t.permutation.pHolm)}`);
    out.push(`secondary dose-response: median Spearman ρ(ℓ, ΔNLL) steer ${fmt(t.medianRhoSteer, 2)}, control ${fmt(t.medianRhoControl, 2)} (n = ${t.n}; p ${pText(t.p)}, Holm ${pText(t.pHolm)})`);
    const k = c.calibrated;
    if (k)
      out.push(
        `calibrated to ${k.to} (median level ${fmt(k.medianLevel, 3)} vs natural ${fmt(k.medianNaturalMass, 3)}): ΔNLL steer ${fmt(k.medianDNllSteer)}, control ${fmt(k.medianDNllControl)}; ` +
          `p vs baseline ${pText(k.pVsBaseline)} (Holm ${pText(k.pVsBaselineHolm)}), p vs control ${pText(k.pVsControl)} (Holm ${pText(k.pVsControlHolm)})`,
      );
    for (const n of foldRepeated(c.notes).slice(0, 4)) out.push(`  note: ${n}`);
  }
  out.push('');
  out.push(`attention mass check: max |measured − intended| = ${s.maxMassError === null ? '—' : s.maxMassError.toExponential(2)} over every steered and control condition`);
  out.push(`correction: ${s.correction}`);
  for (const r of s.reach ?? []) {
    for (const [what, f] of [['primary trend', r.trend], ['per-level (secondary)', r.levels]] as const) {
      const line = `${r.group}, ${what}: smallest reachable Holm-adjusted p = ${f.minP.toPrecision(3)} (n = ${r.n}, ${f.tests} tests; α = ${r.alpha})`;
      out.push(f.reachable ? line : `warning: ${line} — α is NOT reachable`);
    }
  }
  return out.join('\n');
}
