/**
 * Terminal report of `plip patch`: pairs left out first, then the effect table.
 *
 * @module
 */
import type { Provenance } from '../../report/results.ts';
import { fmt, foldRepeated, renderTable } from '../../report/table.ts';
import type { PatchRecord, PatchSummary } from './schema.ts';

export function renderPatch(s: PatchSummary, _run?: { header: Provenance; records: readonly PatchRecord[] }): string {
  const out: string[] = [];
  out.push(`pairs: ${s.nPairs}; excluded: ${s.excluded.length}`);
  const lines = foldRepeated(s.excluded.map((x) => `${x.group}: ${x.reason.replace(`prompt '${x.id}': `, '')}`));
  for (const l of lines.slice(0, 8)) out.push(`  - ${l}`);
  if (lines.length > 8) out.push(`  … ${lines.length - 8} more in the results file`);
  out.push('Name-swap patching: effect = share of the recipient→donor change of logit[A₁] − logit[B₁] at the last prompt position that the patch reproduces (0 none, 1 full)');
  out.push(
    renderTable(
      ['group', 'condition', 'n', 'mean effect', '95% CI', 'median', 'p', 'p Holm'],
      s.conditions.map((c) => [c.group, c.condition, String(c.n), c.meanEffect, c.ci ? `[${fmt(c.ci.lo, 3)}, ${fmt(c.ci.hi, 3)}]` : '—', c.medianEffect, c.p, c.pHolm]),
    ),
  );
  out.push(s.correction);
  for (const r of s.reach ?? []) {
    const line = `${r.group}: smallest reachable Holm-adjusted p = ${r.minP.toPrecision(3)} (n = ${r.n}, ${r.tests} conditions, exact two-sided Wilcoxon 2/2^n; α = ${r.alpha})`;
    out.push(r.reachable ? line : `warning: ${line} — α is NOT reachable`);
  }
  return out.join('\n');
}
