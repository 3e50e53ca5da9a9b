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
  out.push('');
  const edit = st.edit;
  const what = edit && typeof edit === 'object' ? ('set' in edit ? `SET to ${(edit as { set: number }).set}` : `SCALED by ${(edit as { scale: number }).scale}`) : null;
  out.push(what === null
    ? 'Share of completions that call the function by name (first line); knockout = test region cannot attend to the name tokens'
    : `Share of completions that call the function by name (first line); "knockout" column = test region's attention on the name tokens ${what} (controls: on random keys)`);
  out.push(
    renderTable(
      ['group', 'unit', 'n', 'baseline', 'knockout', 'control', 'lost/gained', 'p vs base', 'p vs ctl', 'Holm base', 'Holm ctl', 'effect'],
      s.stats.map((x) => [x.group, x.unit, String(x.n), pct(x.rateBaseline), pct(x.rateKnockout), pct(x.rateControl), `${x.discordant.lost}/${x.discordant.gained}`,
        x.pMcNemarBaseline, Math.max(x.pMcNemarControl, x.pPermControl), x.pHolmBaseline, x.pHolmControl, x.effect ? 'yes' : 'no']),
    ),
  );
  out.push('');
  out.push('Teacher-forced log p(NAME( | prompt), nats (mean over prompts); p: one-sided paired permutation, control > knockout');
  out.push(
    renderTable(
      ['group', 'unit', 'n', 'baseline', 'knockout', 'control', 'p ctl>ko', 'Holm'],
      s.stats.map((x) => [x.group, x.unit, String(x.nLogprob), x.logprobBaseline, x.logprobKnockout, x.logprobControl, x.pLogprobControl, x.pHolmLogprob]),
    ),
  );
  const arity = run.records.filter((x) => x.baseline.arityOk !== null);
  if (arity.length) {
    out.push('');
    out.push(`baseline calls with the right number of arguments: ${pct(arity.filter((x) => x.baseline.arityOk).length / arity.length)} of ${arity.length}`);
  }
  return out.join('\n');
}
