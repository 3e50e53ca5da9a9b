/**
 * Report of a `plip knockout` result: per-sample KL of the knockout against its matched controls per unit,
 * the mean paired difference per layer with its bootstrap CI against the null (0), per-unit statistics,
 * and the roadmap Phase 2 criteria.
 *
 * @module
 */
import { knockoutResultsSchema, type KnockoutSummary, type OkRecord } from '../../../experiments/knockout/schema.ts';
import type { HookedModel } from '../../../model/model.ts';
import { attentionFrom, sampleText } from '../attention.ts';
import { distribution, jitter, layerCurve } from '../charts.ts';
import type { Figure } from '../figure.ts';
import type { Criterion, KindRenderer, ReportSection, ResultsDoc, Table, TokenAttention } from '../types.ts';
import { zodCheck } from './validate.ts';

async function render(doc: ResultsDoc, ctx: { model?: HookedModel; sample?: string }): Promise<ReportSection> {
  const summary = doc.summary as KnockoutSummary;
  const ok = (doc.records as Array<OkRecord | { status: string }>).filter((r): r is OkRecord => r.status === 'ok');
  const primary = new Set(summary.primaryGroups);
  const figures: Figure[] = [];

  const dist: Record<string, string | number>[] = [];
  ok.filter((r) => primary.has(r.group)).forEach((r, i) => {
    dist.push({ facet: r.unit.id, condition: 'knockout', value: r.knockout.kl, id: r.id, jitter: jitter(i) });
    dist.push({ facet: r.unit.id, condition: 'control', value: r.controlMean.kl, id: r.id, jitter: jitter(i + 3) });
  });
  figures.push({
    id: 'knockout-kl-distribution',
    title: 'Per-sample KL of the next-token distribution: knockout vs matched controls',
    caption: `KL(P_baseline ‖ P_intervened) at the marker position, nats (symlog axis), for each sample of ${summary.primaryGroups.join(', ')} and each unit; control = mean over the matched control draws (same number of keys, non-target positions).`,
    spec: distribution(dist, { y: 'KL (nats)', facet: 'unit', logY: true }),
  });

  const perLayer = summary.units.filter((u) => u.unit.mode === 'per-layer');
  if (perLayer.length) {
    const rows = perLayer.map((u) => ({ layer: u.unit.layers[0]!, series: 'knockout − control KL', mean: u.meanDiffKl, lo: u.meanDiffCI?.lo ?? null, hi: u.meanDiffCI?.hi ?? null }));
    const zero = perLayer.map((u) => ({ layer: u.unit.layers[0]!, series: 'null (no effect)', mean: 0, lo: 0, hi: 0 }));
    figures.push({
      id: 'knockout-layer-curve',
      title: 'Mean paired KL difference (knockout − control) per layer',
      caption: `Mean over samples of knockout KL minus control KL (nats) with its ${Math.round(summary.bootstrap.level * 100)}% bootstrap CI (${summary.bootstrap.nBoot} resamples, from the results file); dashed line: the null of no difference.`,
      spec: layerCurve(rows, { y: 'Δ KL (nats)', nullRows: zero }),
    });
  }

  const tables: Table[] = [
    {
      caption: `Per unit (paired, ${summary.primaryGroups.join(' + ')}; ${summary.correction})`,
      columns: ['unit', 'n', 'median KL knockout', 'median KL control', 'mean Δ KL', 'Δ 95% CI', 'd_z', 'rank-biserial', 'Wilcoxon p', 'Wilcoxon p Holm', 'permutation p Holm', 'top-1 changed (ko / ctl)', 'met'],
      rows: summary.units.map((u) => [
        u.unit.id, u.n, u.medianKlKnockout, u.medianKlControl, u.meanDiffKl,
        u.meanDiffCI?.lo === null || !u.meanDiffCI ? null : `[${u.meanDiffCI.lo.toExponential(2)}, ${u.meanDiffCI.hi!.toExponential(2)}]`,
        u.dz, u.rankBiserial, u.wilcoxon.p, u.wilcoxon.pHolm, u.permutation.pHolm,
        `${fmtRate(u.secondary.top1ChangedKnockout)} / ${fmtRate(u.secondary.top1ChangedControl)}`, u.met,
      ]),
      pColumns: [8, 9, 10],
    },
    {
      caption: 'Python vs Rust on the per-sample KL difference (two-sided Mann–Whitney)',
      columns: ['unit', 'n Python', 'n Rust', 'median Δ Python', 'median Δ Rust', 'U', 'p', 'p Holm', "Hedges' g"],
      rows: summary.units.map((u) => [u.unit.id, u.pythonVsRust.nPython, u.pythonVsRust.nRust, u.byLanguage.python.medianDiffKl, u.byLanguage.rust.medianDiffKl, u.pythonVsRust.U, u.pythonVsRust.p, u.pythonVsRust.pHolm, u.pythonVsRust.hedgesG]),
      pColumns: [6, 7],
    },
  ];
  if (summary.notApplicable.length)
    tables.push({ caption: 'Samples not applicable', columns: ['id', 'group', 'reason'], rows: summary.notApplicable.map((n) => [n.id, n.group, n.reason]) });

  const finite = ok.some((r) => Number.isFinite(r.knockout.kl));
  const criteria: Criterion[] = [
    { name: 'Can measure KL divergence between baseline and knockout', source: 'roadmap Phase 2 success', met: finite, detail: `${ok.length} measured (sample, unit) records with finite KL` },
    { name: 'Knockout shows statistically significant logit change (p < 0.05)', source: 'roadmap Phase 2 success', met: summary.verdict.met, detail: summary.verdict.statement },
  ];

  const tokenViews: TokenAttention[] = [];
  const notes: string[] = [];
  if (ctx.model) {
    const r = ctx.sample ? ok.find((x) => x.id === ctx.sample) : [...ok].filter((x) => primary.has(x.group) && x.unit.mode === 'per-layer').sort((a, b) => b.knockout.kl - a.knockout.kl)[0];
    if (!r) throw new Error(`${doc.path}: --sample '${ctx.sample}' is not a measured sample of this result`);
    const L = r.unit.layers[r.unit.layers.length - 1]!;
    const heads = [...Array(ctx.model.spec.nHeads).keys()];
    tokenViews.push(attentionFrom(ctx.model, await sampleText(doc, r.id), { sampleId: r.id, layer: L, heads, query: r.marker.token, highlight: r.targets, expectTokens: r.nTokens }));
  } else notes.push("Token view not drawn: results files hold aggregates, not attention rows; pass --model to recompute a sample's attention.");

  return {
    title: `Knockout — ${doc.header.model?.id ?? ''}`,
    intro: `Attention knockout of the marker → target edges: ${summary.nApplicable} of ${summary.nSamples} samples applicable, units ${summary.units.map((u) => u.unit.id).join(', ')}, alternative "knockout KL > control KL", α = ${summary.alpha}.`,
    figures,
    tables,
    criteria,
    tokenViews,
    notes,
  };
}

function fmtRate(x: number | null): string {
  return x === null ? '—' : `${(100 * x).toFixed(0)}%`;
}

export const knockoutRenderer: KindRenderer = { kind: 'knockout', validate: (d) => zodCheck(knockoutResultsSchema, d, 'knockout'), render };
