/**
 * Report of a `plip copying` result: rates (calls the function by name; right number of arguments) with
 * Wilson CIs per condition (baseline, knockout, control), unit and group; per-prompt teacher-forced
 * log p(NAME() against controls; the statistics table; roadmap Phase 3 criteria.
 *
 * @module
 */
import { z } from 'zod';
import type { HookedModel } from '../../../model/model.ts';
import { attentionFrom, sampleText } from '../attention.ts';
import { distribution, jitter, rates } from '../charts.ts';
import type { Figure } from '../figure.ts';
import { wilson } from '../stats.ts';
import type { Criterion, KindRenderer, ReportSection, ResultsDoc, Table, TokenAttention } from '../types.ts';
import { REPLICATION } from '../replication.ts';
import { zodCheck } from './validate.ts';

// The copying experiment has TS interfaces, not a zod schema; this checks the fields the report reads.
const outcome = z.object({ completion: z.string(), called: z.boolean(), arityOk: z.boolean(), callLogprob: z.number().nullable() });
const recordSchema = z.object({
  key: z.string(),
  id: z.string(),
  group: z.string(),
  name: z.string(),
  marker: z.int().min(0),
  nameTokens: z.array(z.int().min(0)),
  baseline: outcome,
  units: z.record(z.string(), z.object({ layers: z.array(z.int().min(0)), knockout: outcome, controls: z.array(outcome), controlKeys: z.array(z.array(z.int())) })),
});
const statSchema = z.object({
  group: z.string(), unit: z.string(), n: z.int(), rateBaseline: z.number(), rateKnockout: z.number(), rateControl: z.number(),
  discordant: z.object({ lost: z.int(), gained: z.int() }), pMcNemarBaseline: z.number(), pMcNemarControl: z.number(), pPermControl: z.number(),
  pHolmBaseline: z.number(), pHolmControl: z.number(), effect: z.boolean(), nLogprob: z.int(),
  logprobBaseline: z.number().nullable(), logprobKnockout: z.number().nullable(), logprobControl: z.number().nullable(), pLogprobControl: z.number().nullable(), pHolmLogprob: z.number().nullable(),
});
const copyingDocSchema = z.object({ header: z.looseObject({ experiment: z.literal('copying') }), records: z.array(recordSchema), summary: z.object({ stats: z.array(statSchema) }) });
type Rec = z.infer<typeof recordSchema>;
type Stat = z.infer<typeof statSchema>;

async function render(doc: ResultsDoc, ctx: { model?: HookedModel; sample?: string }): Promise<ReportSection> {
  const records = doc.records as Rec[];
  const stats = (doc.summary as { stats: Stat[] }).stats;
  const groups = [...new Set(records.map((r) => r.group))];
  const units = [...new Set(records.flatMap((r) => Object.keys(r.units)))];
  const s = doc.header.settings as { level?: number | null; factor?: number | null; controls?: number };
  const edit = s.level != null ? `set(${s.level})` : s.factor != null ? `scale(${s.factor})` : 'knockout';

  const rows: Record<string, string | number | null>[] = [];
  for (const crit of ['called', 'arityOk'] as const) {
    const label = crit === 'called' ? 'calls the function by name' : 'right number of arguments';
    for (const g of groups) {
      const rs = records.filter((r) => r.group === g);
      for (const u of units) {
        const withU = rs.filter((r) => r.units[u]);
        const push = (condition: string, k: number, n: number) => {
          const w = wilson(k, n);
          rows.push({ row: label, column: g, x: u, condition, rate: w.estimate, lo: w.lo, hi: w.hi, k, n });
        };
        push('baseline', withU.filter((r) => r.baseline[crit]).length, withU.length);
        push(edit, withU.filter((r) => r.units[u]!.knockout[crit]).length, withU.length);
        const ctl = withU.flatMap((r) => r.units[u]!.controls);
        push('control', ctl.filter((c) => c[crit]).length, ctl.length);
      }
    }
  }
  const figures: Figure[] = [
    {
      id: 'copying-rates',
      title: 'Preservation rates with 95% Wilson CIs per condition, criterion and category',
      caption: `Share of greedy completions meeting each criterion, per group (category) and unit, at baseline, under ${edit} of the test region's edges to the name tokens, and under matched controls (all control draws pooled: n = prompts × draws). Error bars: Wilson score 95% intervals.`,
      spec: rates(rows, { x: 'unit', rowTitle: 'criterion', columnTitle: 'group' }),
    },
  ];

  const dist: Record<string, string | number>[] = [];
  let i = 0;
  for (const r of records)
    for (const u of units) {
      const x = r.units[u];
      if (!x || x.knockout.callLogprob === null) continue;
      const c = x.controls.map((o) => o.callLogprob).filter((v): v is number => v !== null);
      dist.push({ facet: u, condition: edit, value: x.knockout.callLogprob, id: r.id, jitter: jitter(i++) });
      if (c.length) dist.push({ facet: u, condition: 'control', value: c.reduce((a, b) => a + b, 0) / c.length, id: r.id, jitter: jitter(i++) });
      if (r.baseline.callLogprob !== null) dist.push({ facet: u, condition: 'baseline', value: r.baseline.callLogprob, id: r.id, jitter: jitter(i++) });
    }
  figures.push({
    id: 'copying-logprob-distribution',
    title: 'Per-prompt teacher-forced log p(NAME( | prompt): baseline, edit and controls',
    caption: 'Each point is one prompt (all groups): the summed log-probability, in nats, of the true call right after the prompt; control = mean over the draws.',
    spec: distribution(dist, { y: 'log p (nats)', facet: 'unit' }),
  });

  const tables: Table[] = [
    {
      caption: `Copying rate (calls the function by name) — McNemar vs baseline, permutation vs control; Holm across units`,
      columns: ['group', 'unit', 'n', 'baseline', edit, 'control', 'lost / gained', 'p vs baseline', 'p vs control', 'Holm vs baseline', 'Holm vs control', 'effect'],
      rows: stats.map((t) => [t.group, t.unit, t.n, t.rateBaseline, t.rateKnockout, t.rateControl, `${t.discordant.lost}/${t.discordant.gained}`, t.pMcNemarBaseline, t.pPermControl, t.pHolmBaseline, t.pHolmControl, t.effect]),
      pColumns: [7, 8, 9, 10],
    },
    {
      caption: 'Teacher-forced log p(NAME( | prompt), nats (mean over prompts); p: one-sided paired permutation, control > edit',
      columns: ['group', 'unit', 'n', 'baseline', edit, 'control', 'p', 'p Holm'],
      rows: stats.map((t) => [t.group, t.unit, t.nLogprob, t.logprobBaseline, t.logprobKnockout, t.logprobControl, t.pLogprobControl, t.pHolmLogprob]),
      pColumns: [6, 7],
    },
  ];

  const perGroup = groups.map((g) => {
    const hits = stats.filter((t) => t.group === g && t.effect && t.rateBaseline > 0 && 1 - t.rateKnockout / t.rateBaseline > 0.2);
    return { g, hits };
  });
  const criteria: Criterion[] = [
    {
      name: 'Knockout reduces preservation rate by >20%',
      source: 'roadmap Phase 3 success',
      met: perGroup.every((x) => x.hits.length > 0),
      detail:
        perGroup.map((x) => `${x.g}: ${x.hits.length ? x.hits.map((t) => `${t.unit} ${(100 * t.rateBaseline).toFixed(0)}% → ${(100 * t.rateKnockout).toFixed(0)}% (Holm p ${t.pHolmBaseline.toExponential(1)} vs baseline, ${t.pHolmControl.toExponential(1)} vs control)`).join(', ') : 'no unit with a significant relative drop > 20%'}`).join('; ') +
        '. Read as: relative drop of the copying rate > 20% with Holm p < 0.05 against both baseline and controls, in every group.',
    },
    { name: REPLICATION, source: 'roadmap Phase 3 success', met: null, detail: `this result is one model (${doc.header.model?.id}); pass results of other models to the same plip report to decide it` },
  ];

  const tokenViews: TokenAttention[] = [];
  const notes: string[] = [];
  if (ctx.model) {
    const r = ctx.sample ? records.find((x) => x.id === ctx.sample) : records[0];
    if (!r) throw new Error(`${doc.path}: --sample '${ctx.sample}' is not a prompt of this result`);
    const u = Object.values(r.units).find((x) => x.layers.length === 1) ?? Object.values(r.units)[0]!;
    const L = Math.max(...units.flatMap((k) => (r.units[k]?.layers.length === 1 ? r.units[k]!.layers : [])), u.layers[0]!);
    const heads = [...Array(ctx.model.spec.nHeads).keys()];
    tokenViews.push(attentionFrom(ctx.model, await sampleText(doc, r.id), { sampleId: r.id, layer: L, heads, query: r.marker, highlight: r.nameTokens }));
  } else notes.push("Token view not drawn: pass --model to recompute a prompt's attention.");

  return {
    title: `Copying — ${doc.header.model?.id ?? ''}`,
    intro: `Greedy generation of the test call after the marker, with the test region's attention to the name tokens edited (${edit}): ${records.length} prompts in ${groups.join(', ')}, units ${units.join(', ')}, ${s.controls ?? '?'} control draw(s).`,
    figures,
    tables,
    criteria,
    tokenViews,
    notes,
  };
}

export const copyingRenderer: KindRenderer = { kind: 'copying', validate: (d) => zodCheck(copyingDocSchema, d, 'copying'), render };
