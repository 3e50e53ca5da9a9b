/**
 * Report of a `plip scan` result: attention marker → targets per layer for each group (95% bootstrap CI)
 * against the position-matched control (null band) and the uniform causal null; layer × head heatmaps of
 * the primary comparison; per-sample values vs controls at the best layer; test tables; the verdict.
 *
 * @module
 */
import { scanResultsSchema, type ScanRecord, type ScanSummary } from '../../../experiments/scan/schema.ts';
import { attentionFrom, sampleText } from '../attention.ts';
import { distribution, heatmap, jitter, layerCurve } from '../charts.ts';
import type { Figure } from '../figure.ts';
import { meanCI } from '../stats.ts';
import type { Criterion, KindRenderer, ReportSection, ResultsDoc, Table, TokenAttention } from '../types.ts';
import { zodCheck } from './validate.ts';

function validate(doc: ResultsDoc): void {
  zodCheck(scanResultsSchema, doc, 'scan');
}

async function render(doc: ResultsDoc, ctx: { model?: import('../../../model/model.ts').HookedModel; sample?: string }): Promise<ReportSection> {
  const records = doc.records as ScanRecord[];
  const summary = doc.summary as ScanSummary;
  const settings = doc.header.settings as { layers: number[]; heads: number[]; compare: [string, string]; alpha: number };
  const seed = doc.header.seed ?? 0;
  const groups = [...new Set(records.map((r) => r.group))];
  const figures: Figure[] = [];

  // layer curves: observed per group with CI; null band = position-matched control per group (CI), dashed = its mean
  const curve: Record<string, number | string | null>[] = [];
  const nullRows: Record<string, number | string | null>[] = [];
  const uniform: Record<string, number | string | null>[] = [];
  // curves for the compared groups only (more lines would hide the bands)
  for (const g of groups.filter((x) => settings.compare.includes(x))) {
    const rs = records.filter((r) => r.group === g && !r.zeroByConstruction);
    for (const L of settings.layers) {
      const vals = rs.map((r) => r.layers.find((x) => x.layer === L)!.mean.observed);
      const ci = meanCI(vals, seed, `scan:${g}:${L}:obs`);
      curve.push({ layer: L, series: g, mean: ci.estimate, lo: ci.lo, hi: ci.hi });
      const ctl = rs.map((r) => r.layers.find((x) => x.layer === L)!.mean.control).filter((v): v is number => v !== null);
      const cci = meanCI(ctl, seed, `scan:${g}:${L}:ctl`);
      nullRows.push({ layer: L, series: `${g} control`, mean: cci.estimate, lo: cci.lo, hi: cci.hi });
      const un = rs.map((r) => r.uniformNull);
      const uci = meanCI(un, seed, `scan:${g}:${L}:uni`);
      uniform.push({ layer: L, series: `${g} uniform null`, mean: uci.estimate, lo: uci.lo, hi: uci.hi });
    }
  }
  figures.push({
    id: 'scan-layer-curve',
    title: 'Attention from the marker to the targets, per layer',
    caption: 'Head-averaged attention marker → target tokens (mean over samples, error bars: 95% percentile-bootstrap CI, B = 2000). Shaded bands: the null models — position-matched control keys (mean and 95% CI) and the uniform causal null 1/(marker+1) (dashed).',
    spec: layerCurve(curve, { y: 'attention (probability)', nullRows: [...nullRows, ...uniform] }),
  });

  // layer × head heatmaps of the primary comparison
  const primary = summary.comparisons.find((c) => c.primary);
  if (primary?.heads?.length) {
    const [a, b] = [primary.a, primary.b];
    const rows = primary.heads.map((h) => ({
      x: `h${h.head}`,
      y: `L${h.layer}`,
      value: h.t,
      label: h.pHolm !== null && h.pHolm < summary.alpha ? '*' : '',
    }));
    figures.push({
      id: 'scan-head-heatmap-t',
      title: `Layer × head: Welch t of ${a} vs ${b}`,
      caption: `Welch t of per-sample attention marker → targets, ${a} minus ${b}, for each layer and head. * = Holm-corrected p < ${summary.alpha} (corrected across all cells).`,
      spec: heatmap(rows, { x: 'head', y: 'layer', value: 't', diverging: true }),
    });
    const meanRows = primary.heads.flatMap((h) => [
      { x: `h${h.head}`, y: `L${h.layer}`, value: h.meanA, label: h.meanA === null ? '' : h.meanA.toFixed(3), facet: a },
      { x: `h${h.head}`, y: `L${h.layer}`, value: h.meanB, label: h.meanB === null ? '' : h.meanB.toFixed(3), facet: b },
    ]);
    figures.push({
      id: 'scan-head-heatmap-mean',
      title: 'Layer × head: mean attention marker → targets',
      caption: 'Mean over samples of the attention from the marker to the target tokens, per layer and head, for the two compared groups.',
      spec: heatmap(meanRows, { x: 'head', y: 'layer', value: 'attention', facet: 'group' }),
    });
  }

  // per-sample distribution at the best layer, observed vs control
  const best = summary.bestLayer?.layer ?? settings.layers[settings.layers.length - 1]!;
  const dist: Record<string, number | string>[] = [];
  records.forEach((r, i) => {
    const lv = r.layers.find((x) => x.layer === best)!;
    dist.push({ facet: r.group, condition: 'targets', value: lv.mean.observed, id: r.id, jitter: jitter(i) });
    if (lv.mean.control !== null) dist.push({ facet: r.group, condition: 'control', value: lv.mean.control, id: r.id, jitter: jitter(i + 7) });
  });
  figures.push({
    id: 'scan-sample-distribution',
    title: `Per-sample attention at layer ${best} (best layer) vs position-matched controls`,
    caption: `Each point is one sample: head-averaged attention from the marker to its targets, and to position-matched control keys (mean over draws), at layer ${best}. Boxes: median and quartiles.`,
    spec: distribution(dist, { y: 'attention (probability)', facet: 'group' }),
  });

  const tables: Table[] = [];
  for (const c of summary.comparisons) {
    for (const metric of c.primary ? (['observed', 'ratioControl', 'ratioUniform'] as const) : (['observed'] as const)) {
      const m = c.metrics[metric];
      tables.push({
        caption: `${c.a} vs ${c.b}${c.primary ? ' (primary)' : ''} — ${metric}: ${m.description}`,
        columns: ['layer', `mean ${c.a}`, `mean ${c.b}`, 'ratio', 'Welch t', 'p', 'p Holm', 'Mann–Whitney p', 'permutation p', "Hedges' g", 'g 95% CI'],
        rows: m.layers.map((l) => [
          l.layer, l.meanA, l.meanB, l.ratio, l.welch.t, l.welch.p, l.welch.pHolm, l.mannWhitney.p, l.permutation.p, l.hedgesG.g,
          l.hedgesG.ciLow === null ? null : `[${l.hedgesG.ciLow.toFixed(2)}, ${l.hedgesG.ciHigh!.toFixed(2)}]`,
        ]),
        pColumns: [5, 6, 7, 8],
      });
    }
  }

  const criteria: Criterion[] = summary.verdict.map((v) => ({
    name: `${settings.compare[0]} > ${settings.compare[1]} in attention marker → targets, normalised by: ${v.metric}`,
    source: 'scan verdict (the observation the roadmap builds on)',
    met: v.survives,
    detail: v.statement,
  }));

  const tokenViews: TokenAttention[] = [];
  const notes = [...summary.warnings, ...summary.notes];
  if (ctx.model) {
    const r = ctx.sample ? records.find((x) => x.id === ctx.sample) : records.find((x) => x.group === settings.compare[0] && !x.zeroByConstruction);
    if (!r) throw new Error(`${doc.path}: --sample '${ctx.sample}' is not a sample of this result`);
    const text = await sampleText(doc, r.id);
    tokenViews.push(attentionFrom(ctx.model, text, { sampleId: r.id, layer: best, heads: settings.heads, query: r.marker.token, highlight: r.targetTokens, expectTokens: r.nTokens }));
  } else notes.push('Token view not drawn: results files hold aggregates, not attention rows; pass --model to recompute a sample\'s attention.');

  return {
    title: `Scan — ${doc.header.model?.id ?? ''}`,
    intro: `Observational scan of attention from the test marker to the function-signature tokens: ${records.length} samples in ${groups.length} groups, layers ${settings.layers.join(', ')}, heads ${settings.heads.join(', ')}; comparison ${settings.compare.join(' vs ')}; best layer ${best}.`,
    figures,
    tables,
    criteria,
    tokenViews,
    notes,
  };
}

export const scanRenderer: KindRenderer = { kind: 'scan', validate, render };
