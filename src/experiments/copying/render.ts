/**
 * Terminal report of `plip copying`: provenance, skipped prompts (before the tables), copying rates and the
 * teacher-forced call log-probabilities.
 *
 * @module
 */
import type { Provenance } from '../../report/results.ts';
import { foldRepeated, renderTable } from '../../report/table.ts';
import type { CopyingRecord, CopyingSummary } from './schema.ts';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function renderCopying(s: CopyingSummary, run: { header: Provenance; records: readonly CopyingRecord[] }): string {
  const h = run.header;
  const st = h.settings as { controls?: number; edit?: unknown };
  const out: string[] = [];
  out.push(`model ${h.model.id}; prompts ${h.corpus?.path ?? '<memory>'} (${run.records.length}); seed ${h.seed}; greedy, ${st.controls} control draw(s)`);
  if (s.skipped.length) {
    out.push(`warning: ${s.skipped.length} prompt(s) skipped (cannot be used; listed in the results summary):`);
    for (const line of foldRepeated(s.skipped.map((x) => `${x.group}: ${x.reason.replace(`prompt '${x.id}': `, '')}`))) out.push(`  - ${line}`);
  }
  for (const r of s.reach ?? []) {
    const line = `${r.group}: n = ${r.n}, Holm over ${r.tests} unit(s); smallest reachable adjusted p: vs baseline ${r.minHolmBaseline.toPrecision(3)}, vs control ${r.minHolmControl.toPrecision(3)}, log p ${r.minHolmLogprob.toPrecision(3)} (α = ${r.alpha})`;
    out.push(r.reachable ? line : `warning: ${line} — α is NOT reachable; run more prompts or fewer units`);
  }
  out.push('');
  const edit = st.edit;
  const what = edit && typeof edit === 'object' ? ('set' in edit ? `SET to ${(edit as { set: number }).set}` : `SCALED by ${(edit as { scale: number }).scale}`) : null;
  const cond = run.records[0]?.condition ?? s.stats[0]?.condition ?? 'knockout';
  const twoSided = s.stats.every((x) => x.directionBaseline !== undefined);
  out.push(what === null
    ? `Share of completions that call the function by name (first line); ${cond} = test region cannot attend to the name tokens`
    : `Share of completions that call the function by name (first line); ${cond} = test region's attention on the name tokens ${what} (controls: on random keys)`);
  out.push(twoSided ? 'p: exact McNemar and paired permutation, two-sided; direction = edited vs baseline / vs control' : 'p: one-sided for a decrease (schema version 1 file)');
  const dir = (d: string | undefined) => (d === undefined ? '' : d);
  out.push(
    renderTable(
      ['group', 'unit', 'n', 'baseline', cond, 'control', 'lost/gained', 'dir base/ctl', 'p vs base', 'p vs ctl', 'Holm base', 'Holm ctl', 'effect'],
      s.stats.map((x) => [x.group, x.unit, String(x.n), pct(x.rateBaseline), pct(x.rateKnockout), pct(x.rateControl), `${x.discordant.lost}/${x.discordant.gained}`,
        `${dir(x.directionBaseline)}/${dir(x.directionControl)}`, x.pMcNemarBaseline, Math.max(x.pMcNemarControl, x.pPermControl), x.pHolmBaseline, x.pHolmControl, x.effect ? (x.directionBaseline ?? 'yes') : 'no']),
    ),
  );
  out.push('');
  out.push(`Teacher-forced log p(NAME( | prompt), nats (mean over prompts); p: ${twoSided ? 'two-sided' : 'one-sided (control > knockout)'} paired permutation, ${cond} vs control`);
  out.push(
    renderTable(
      ['group', 'unit', 'n', 'baseline', cond, 'control', 'dir', 'p', 'Holm'],
      s.stats.map((x) => [x.group, x.unit, String(x.nLogprob), x.logprobBaseline, x.logprobKnockout, x.logprobControl, x.directionLogprob ?? '', x.pLogprobControl, x.pHolmLogprob]),
    ),
  );
  const arity = run.records.filter((x) => x.baseline.arityOk !== null);
  if (arity.length) {
    out.push('');
    out.push(`baseline calls with the right number of arguments: ${pct(arity.filter((x) => x.baseline.arityOk).length / arity.length)} of ${arity.length}`);
  }
  return out.join('\n');
}
