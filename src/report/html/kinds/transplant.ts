/**
 * Report of a `plip transplant` result (roadmap phase 5): rates of the Rust recipients' tests with the
 * results' Wilson 95% CIs per arm (baseline, Python-donor pattern, resid and attn_out value transplants,
 * Rust-donor control) and criterion, the preserved-rate difference per unit with its bootstrap CI, per-pair
 * log p(NAME() per arm, the comparisons, the criteria as the experiment evaluated them, caveats first.
 *
 * @module
 */
import { transplantRecordSchema, transplantSummarySchema, type TransplantRecord, type TransplantSummary } from '../../../experiments/transplant/schema.ts';
import { resultsDocSchema } from '../../../experiments/shared/results-doc.ts';
import type { HookedModel } from '../../../model/model.ts';
import { attentionFrom, sampleText } from '../attention.ts';
import { distribution, jitter, layerCurve, rates } from '../charts.ts';
import type { Figure } from '../figure.ts';
import type { Criterion, KindRenderer, ReportSection, ResultsDoc, Table, TokenAttention } from '../types.ts';
import { zodCheck } from './validate.ts';
import { criterionDetail, tokenViewLayer } from './generation-parts.ts';

const schema = resultsDocSchema(transplantRecordSchema, transplantSummarySchema);

async function render(doc: ResultsDoc, ctx: { model?: HookedModel; sample?: string }): Promise<ReportSection> {
  const s = doc.summary as TransplantSummary;
  const records = doc.records as TransplantRecord[];
  const figures: Figure[] = [];
  const units = [...new Set(s.comparisons.map((c) => c.unit))];

  const rows: Record<string, string | number | null>[] = [];
  for (const crit of ['preserved', 'syntaxOk', 'executedPass'] as const) {
    for (const u of units) {
      const b = s.baseline[crit];
      rows.push({ row: crit, column: 'Rust recipients', x: u, condition: 'baseline', rate: b.rate, lo: b.lo, hi: b.hi, k: b.k, n: b.n });
      for (const c of s.comparisons.filter((x) => x.unit === u)) {
        const p = c[crit];
        rows.push({ row: crit, column: 'Rust recipients', x: u, condition: c.arm, rate: p.rate, lo: p.lo, hi: p.hi, k: p.k, n: p.n });
      }
    }
  }
  figures.push({
    id: 'transplant-rates',
    title: 'Rates of the Rust tests with 95% Wilson CIs per arm and criterion',
    caption: 'Share of the Rust recipients\' generated tests meeting each criterion (preserved = calls the function by name with a fitting argument list) at baseline, with the Python donor\'s attention rows (pattern), its activations (resid, attn_out), a Rust donor\'s rows (control) and the Python pattern with the function keys sent to matched random keys (shuffled), per unit. Error bars: Wilson score intervals from the results file (executedPass is 0/0 when execution was off).',
    spec: rates(rows, { x: 'unit', rowTitle: 'criterion', columnTitle: 'recipients' }),
  });

  const diff = s.comparisons.filter((c) => c.diff !== null).map((c) => ({ layer: c.unit, series: c.arm, mean: c.diff, lo: c.diffCi?.lo ?? null, hi: c.diffCi?.hi ?? null }));
  if (diff.length)
    figures.push({
      id: 'transplant-preserved-diff',
      title: 'Preserved rate: arm − baseline per unit',
      caption: 'Difference of the preserved rate from the baseline, with the paired bootstrap 95% CI from the results file; dashed: no difference.',
      spec: layerCurve(diff, { x: 'unit', y: 'Δ preserved rate', nullRows: units.map((u) => ({ layer: u, series: 'null (no change)', mean: 0, lo: 0, hi: 0 })) }),
    });

  const dist: Record<string, string | number>[] = [];
  let i = 0;
  for (const r of records)
    for (const u of r.units) {
      if (r.baseline.logpCall !== null) dist.push({ facet: u.unit.id, condition: 'baseline', value: r.baseline.logpCall, id: r.id, jitter: jitter(i++) });
      for (const a of u.arms) if (a.logpCall !== null) dist.push({ facet: u.unit.id, condition: a.arm, value: a.logpCall, id: r.id, jitter: jitter(i++) });
    }
  if (dist.length)
    figures.push({
      id: 'transplant-logp-distribution',
      title: 'Per-pair teacher-forced log p(NAME( | Rust prompt) per arm',
      caption: 'Each point is one recipient: the summed log-probability (nats) of the true call right after the prompt, at baseline and under each arm; control = the Rust-donor pattern transplant.',
      spec: distribution(dist, { y: 'log p (nats)', facet: 'unit' }),
    });

  const pct = (x: number | null) => (x === null ? null : `${(100 * x).toFixed(1)}%`);
  const { mcnemar, logp } = s.correction;
  const tables: Table[] = [
    {
      caption: `Per unit and arm (McNemar Holm over ${mcnemar.tests} tests, smallest reachable p ${mcnemar.minReachableP.toPrecision(3)}${mcnemar.alphaReachable ? '' : ', α NOT reachable'}; log p permutation Holm over ${logp.tests})`,
      columns: ['unit', 'arm', 'n', 'preserved', 'Δ vs baseline', 'Δ 95% CI', 'Holm vs baseline', 'Holm vs Rust donor', 'Holm vs shuffled', 'log p', 'Δ log p vs baseline', 'Holm (log p)', 'fn mass', 'fn mass baseline'],
      rows: s.comparisons.map((c) => [
        c.unit, c.arm, c.n, pct(c.preserved.rate), c.diff, c.diffCi ? `[${c.diffCi.lo.toFixed(3)}, ${c.diffCi.hi.toFixed(3)}]` : null, c.pHolmBaseline, c.pHolmControl,
        c.pHolmShuffled,
        c.logpArm, c.logpVsBaseline.meanDiff, c.logpVsBaseline.pHolm, c.fnMass, c.fnMassBaseline,
      ]),
      pColumns: [6, 7, 8, 11],
    },
    { caption: 'Pairing of Python donors', columns: ['same function name', 'same parameter count'], rows: [[s.pairing.name, s.pairing.params]] },
  ];
  if (s.skipped.length) tables.push({ caption: 'Skipped prompts', columns: ['id', 'group', 'reason'], rows: s.skipped.map((x) => [x.id, x.group, x.reason]) });

  const criteria: Criterion[] = s.criteria.map((c) => ({
    name: `${c.criterion} (${c.language})`,
    source: 'roadmap Phase 5 (evaluated by plip transplant)',
    met: c.met,
    detail: criterionDetail(c),
  }));

  const notes = s.caveats.map((c) => `caveat: ${c}`);
  const tokenViews: TokenAttention[] = [];
  if (ctx.model) {
    const r = ctx.sample ? records.find((x) => x.id === ctx.sample) : records[0];
    if (!r) throw new Error(`${doc.path}: --sample '${ctx.sample}' is not a recipient of this result`);
    const L = tokenViewLayer(r.units);
    const heads = [...Array(ctx.model.spec.nHeads).keys()];
    tokenViews.push(attentionFrom(ctx.model, await sampleText(doc, r.id), { sampleId: r.id, layer: L, heads, query: r.promptTokens - 1, highlight: [], expectTokens: r.promptTokens }));
  } else notes.push("Token view not drawn: pass --model to recompute a recipient's attention.");

  return {
    title: `Transplant — ${doc.header.model?.id ?? ''}`,
    intro: `${s.caveats.map((c) => `Caveat: ${c}. `).join('')}Python → Rust attention transplant: ${s.n} Rust recipients (donors paired by name ${s.pairing.name}, by parameter count ${s.pairing.params}), units ${units.join(', ')}; baseline preserved ${pct(s.baseline.preserved.rate) ?? '—'}.`,
    figures,
    tables,
    criteria,
    tokenViews,
    notes,
  };
}

export const transplantRenderer: KindRenderer = { kind: 'transplant', validate: (d) => zodCheck(schema, d, 'transplant'), render };
