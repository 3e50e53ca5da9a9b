/**
 * Report of a `plip patch` result (name-swap causal tracing): the normalised patching effect per layer ×
 * position class (residual stream), per layer × head (z at the last position), per layer for the attention
 * pattern (with 95% CIs), per-pair effects of the name positions against the other positions, and the
 * per-condition statistics.
 *
 * Effect = (ld_patched − ld_recipient) / (ld_donor − ld_recipient): 0 = no change, 1 = the donor's logit difference.
 *
 * @module
 */
import { patchResultsSchema, type PatchRecord, type PatchSummary } from '../../../experiments/patch/schema.ts';
import type { HookedModel } from '../../../model/model.ts';
import { attentionFrom, sampleText } from '../attention.ts';
import { distribution, heatmap, jitter, layerCurve } from '../charts.ts';
import type { Figure } from '../figure.ts';
import type { KindRenderer, ReportSection, ResultsDoc, Table, TokenAttention } from '../types.ts';
import { zodCheck } from './validate.ts';

const RESID = /^(resid_pre|resid_post) L(\d+) (\w+)$/;
const Z = /^z L(\d+)\.h(\d+) (\w+)$/;
const PATTERN = /^pattern L(\d+)$/;

async function render(doc: ResultsDoc, ctx: { model?: HookedModel; sample?: string }): Promise<ReportSection> {
  const summary = doc.summary as PatchSummary;
  const records = doc.records as PatchRecord[];
  const ok = records.filter((r) => r.status === 'ok');
  const label = (x: number | null) => (x === null ? '' : x.toFixed(2));
  const figures: Figure[] = [];

  const resid = summary.conditions.flatMap((c) => {
    const m = RESID.exec(c.condition);
    return m ? [{ x: m[3]!, y: `L${m[2]}`, value: c.meanEffect, label: label(c.meanEffect), facet: `${c.group} ${m[1]}` }] : [];
  });
  if (resid.length)
    figures.push({
      id: 'patch-resid-heatmap',
      title: 'Residual-stream patching: layer × position class',
      caption: 'Mean normalised effect of patching the donor residual stream (before / after each layer) at the name, marker or other positions into the recipient. 1 = the donor\'s logit difference is restored, 0 = no change.',
      spec: heatmap(resid, { x: 'positions', y: 'layer', value: 'effect', facet: 'group, hook', diverging: true }),
    });

  const z = summary.conditions.flatMap((c) => {
    const m = Z.exec(c.condition);
    return m ? [{ x: `h${m[2]}`, y: `L${m[1]}`, value: c.meanEffect, label: label(c.meanEffect), facet: c.group }] : [];
  });
  if (z.length)
    figures.push({
      id: 'patch-head-heatmap',
      title: 'Head output (z) patching at the last position: layer × head',
      caption: 'Mean normalised effect of patching one head\'s output z at the prediction position from the donor run.',
      spec: heatmap(z, { x: 'head', y: 'layer', value: 'effect', facet: 'group', diverging: true }),
    });

  const curve = summary.conditions.flatMap((c) => {
    const m = PATTERN.exec(c.condition);
    return m ? [{ layer: Number(m[1]), series: c.group, mean: c.meanEffect, lo: c.ci?.lo ?? null, hi: c.ci?.hi ?? null }] : [];
  });
  if (curve.length) {
    const layers = [...new Set(curve.map((r) => r.layer))];
    figures.push({
      id: 'patch-pattern-layer-curve',
      title: 'Attention-pattern patching per layer',
      caption: 'Mean normalised effect of patching every head\'s attention pattern of one layer from the donor, with the 95% CI from the results file; dashed: the null of no effect (0).',
      spec: layerCurve(curve, { y: 'normalised effect', nullRows: layers.map((l) => ({ layer: l, series: 'null (no effect)', mean: 0, lo: 0, hi: 0 })) }),
    });
  }

  const dist: Record<string, string | number>[] = [];
  let i = 0;
  for (const r of ok)
    for (const [cond, e] of Object.entries(r.effects ?? {})) {
      const m = RESID.exec(cond);
      if (m && m[1] === 'resid_post') dist.push({ facet: `L${m[2]}`, condition: m[3]!, value: e.effect, id: r.id, jitter: jitter(i++) });
    }
  if (dist.length)
    figures.push({
      id: 'patch-effect-distribution',
      title: 'Per-pair effects after each layer: name positions vs the controls (marker, other positions)',
      caption: 'Each point is one recipient/donor pair: normalised effect of patching resid_post at the name positions, against patching the marker or all other positions (controls).',
      spec: distribution(dist, { y: 'normalised effect', facet: 'layer (resid_post)' }),
    });

  const tables: Table[] = [
    {
      caption: `Per condition (${summary.correction})`,
      columns: ['group', 'condition', 'n', 'mean effect', '95% CI', 'median effect', 'p', 'p Holm'],
      rows: summary.conditions.map((c) => [c.group, c.condition, c.n, c.meanEffect, c.ci && c.ci.lo !== null ? `[${c.ci.lo.toFixed(3)}, ${c.ci.hi!.toFixed(3)}]` : null, c.medianEffect, c.p, c.pHolm]),
      pColumns: [6, 7],
    },
  ];
  if (summary.excluded.length) tables.push({ caption: 'Excluded prompts', columns: ['id', 'group', 'reason'], rows: summary.excluded.map((x) => [x.id, x.group, x.reason]) });

  const notes = ['The roadmap states no success criterion for activation patching; the per-condition tests are the result.'];
  const tokenViews: TokenAttention[] = [];
  if (ctx.model) {
    const r = ctx.sample ? ok.find((x) => x.id === ctx.sample) : ok[0];
    if (!r) throw new Error(`${doc.path}: --sample '${ctx.sample}' is not a patched pair of this result`);
    const last = r.nTokens! - 1;
    const best = [...curve].sort((a, b) => (b.mean ?? 0) - (a.mean ?? 0))[0]?.layer ?? 0;
    const heads = [...Array(ctx.model.spec.nHeads).keys()];
    tokenViews.push(attentionFrom(ctx.model, await sampleText(doc, r.id), { sampleId: r.id, layer: best, heads, query: last, highlight: r.classes!.name, expectTokens: r.nTokens }));
  } else notes.push("Token view not drawn: pass --model to recompute a prompt's attention.");

  return {
    title: `Patching — ${doc.header.model?.id ?? ''}`,
    intro: `Name-swap causal tracing: ${summary.nPairs} recipient/donor pairs, ${new Set(summary.conditions.map((c) => c.condition)).size} conditions per group (residual stream, head outputs, attention patterns).`,
    figures,
    tables,
    criteria: [],
    tokenViews,
    notes,
  };
}

export const patchRenderer: KindRenderer = { kind: 'patch', validate: (d) => zodCheck(patchResultsSchema, d, 'patch'), render };
