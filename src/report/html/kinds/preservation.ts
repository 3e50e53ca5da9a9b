/**
 * Report of a `plip preservation` result (roadmap phase 3): rates with the results' Wilson 95% CIs per
 * condition (baseline, treated, control), criterion and category (language), the relative change of the
 * preservation rate per unit with its bootstrap CI against the −20% threshold, the comparisons, and the
 * roadmap criteria as the experiment evaluated them (met / not met), caveats first.
 *
 * @module
 */
import { preservationRecordSchema, preservationSummarySchema, type PreservationRecord, type PreservationSummary } from '../../../experiments/preservation/schema.ts';
import { resultsDocSchema } from '../../../experiments/shared/results-doc.ts';
import type { HookedModel } from '../../../model/model.ts';
import { attentionFrom, sampleText } from '../attention.ts';
import { layerCurve, rates } from '../charts.ts';
import type { Figure } from '../figure.ts';
import type { Criterion, KindRenderer, ReportSection, ResultsDoc, Table, TokenAttention } from '../types.ts';
import { REPLICATION } from '../replication.ts';
import { zodCheck } from './validate.ts';
import { criterionDetail, tokenViewLayer } from './generation-parts.ts';

const schema = resultsDocSchema(preservationRecordSchema, preservationSummarySchema);

async function render(doc: ResultsDoc, ctx: { model?: HookedModel; sample?: string }): Promise<ReportSection> {
  const s = doc.summary as PreservationSummary;
  const records = doc.records as PreservationRecord[];
  const threshold = (doc.header.settings as { dropThreshold?: number }).dropThreshold ?? 0.2;
  const figures: Figure[] = [];

  const rows = s.comparisons.flatMap((c) =>
    (
      [
        ['baseline', c.baseline],
        [c.condition, c.treated],
        [`${c.condition} control`, c.control],
      ] as const
    ).map(([condition, p]) => ({ row: c.criterion, column: c.language, x: c.unit, condition, rate: p.rate, lo: p.lo, hi: p.hi, k: p.k, n: p.n })),
  );
  figures.push({
    id: 'preservation-rates',
    title: 'Preservation rates with 95% Wilson CIs per condition, criterion and category',
    caption: 'Share of generated tests meeting each criterion (preserved = calls the function by name with a fitting argument list), per language and unit, at baseline, under the edit of marker → function-token attention, and under the same edit of matched random keys (control draws pooled). Error bars: Wilson score 95% intervals from the results file.',
    spec: rates(rows, { x: 'unit', rowTitle: 'criterion', columnTitle: 'language' }),
  });

  const unitIndex = new Map<string, number>();
  for (const c of s.comparisons) if (!unitIndex.has(c.unit)) unitIndex.set(c.unit, unitIndex.size);
  const rel = s.comparisons
    .filter((c) => c.criterion === 'preserved' && c.relChange !== null)
    .map((c) => ({ layer: c.unit, series: `${c.language} ${c.condition}`, mean: c.relChange, lo: c.relChangeCi?.lo ?? null, hi: c.relChangeCi?.hi ?? null }));
  if (rel.length) {
    const units = [...unitIndex.keys()];
    figures.push({
      id: 'preservation-relative-change',
      title: 'Relative change of the preservation rate per unit',
      caption: `(treated − baseline) / baseline with its paired bootstrap 95% CI (from the results file), per language and condition. Band: the roadmap threshold, a drop of more than ${Math.round(threshold * 100)}% (dashed at −${Math.round(threshold * 100)}%), down to −100%.`,
      spec: layerCurve(rel, { x: 'unit', y: 'relative change of the rate', nullRows: units.map((u) => ({ layer: u, series: `threshold −${Math.round(threshold * 100)}%`, mean: -threshold, lo: -1, hi: -threshold })) }),
    });
  }

  const pct = (x: number | null) => (x === null ? null : `${(100 * x).toFixed(1)}%`);
  const tables: Table[] = [
    {
      caption: `Primary criterion "preserved" (exact two-sided McNemar; Holm over ${s.correction.tests} tests; smallest reachable adjusted p ${s.correction.minReachableP.toPrecision(3)}, α = ${s.correction.alpha} ${s.correction.alphaReachable ? 'reachable' : 'NOT reachable'})`,
      columns: ['language', 'unit', 'condition', 'n', 'baseline', 'treated', 'control', 'rel. change', 'rel. 95% CI', 'lost / gained', 'p vs baseline', 'Holm vs baseline', 'Holm vs control'],
      rows: s.comparisons
        .filter((c) => c.criterion === 'preserved')
        .map((c) => [c.language, c.unit, c.condition, c.n, pct(c.baseline.rate), pct(c.treated.rate), pct(c.control.rate), c.relChange, c.relChangeCi ? `[${pct(c.relChangeCi.lo)}, ${pct(c.relChangeCi.hi)}]` : null, `${c.vsBaseline.lost}/${c.vsBaseline.gained}`, c.vsBaseline.p, c.pHolmBaseline, c.pHolmControl]),
      pColumns: [10, 11, 12],
    },
  ];
  if (s.skipped.length) tables.push({ caption: 'Skipped prompts', columns: ['id', 'group', 'reason'], rows: s.skipped.map((x) => [x.id, x.group, x.reason]) });

  const criteria: Criterion[] = s.criteria.map((c) => ({
    name: `${c.criterion} (${c.language})`,
    source: 'roadmap Phase 3 success (evaluated by plip preservation)',
    met: c.met,
    detail: criterionDetail(c, { label: 'relative change', value: (v) => pct(v) ?? '—', bound: (v) => pct(v) ?? '—' }),
  }));
  criteria.push({ name: REPLICATION, source: 'roadmap Phase 3 success', met: null, detail: `this result is one model (${doc.header.model?.id}); pass results of other models to the same plip report to decide it` });

  const notes = [...s.caveats.map((c) => `caveat: ${c}`)];
  const tokenViews: TokenAttention[] = [];
  if (ctx.model) {
    const r = ctx.sample ? records.find((x) => x.id === ctx.sample) : records[0];
    if (!r) throw new Error(`${doc.path}: --sample '${ctx.sample}' is not a prompt of this result`);
    const heads = [...Array(ctx.model.spec.nHeads).keys()];
    tokenViews.push(attentionFrom(ctx.model, await sampleText(doc, r.id), { sampleId: r.id, layer: tokenViewLayer(r.units), heads, query: r.marker.first, highlight: r.targets, expectTokens: r.promptTokens }));
  } else notes.push("Token view not drawn: pass --model to recompute a prompt's attention.");

  return {
    title: `Preservation — ${doc.header.model?.id ?? ''}`,
    intro: `${s.caveats.map((c) => `Caveat: ${c}. `).join('')}Generated tests under knockout / amplify of the marker → function-token attention vs matched random-key controls: n = ${s.n.python} Python and ${s.n.rust} Rust prompts, units ${[...unitIndex.keys()].join(', ')}; baseline preservation Python ${pct(s.baseline.python?.rate ?? null) ?? '—'}, Rust ${pct(s.baseline.rust?.rate ?? null) ?? '—'}.`,
    figures,
    tables,
    criteria,
    tokenViews,
    notes,
  };
}

export const preservationRenderer: KindRenderer = { kind: 'preservation', validate: (d) => zodCheck(schema, d, 'preservation'), render };
