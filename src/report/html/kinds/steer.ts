/**
 * Report of a `plip steer` result: dose-response of KL and ΔNLL against the set level ℓ per group × unit
 * (steer vs matched controls, median with interquartile band, the ceiling ℓ = 1 and the natural mass
 * marked), per-sample ΔNLL at the calibrated level vs controls, per-cell statistics, roadmap Phase 4 criteria.
 *
 * @module
 */
import { steerResultsSchema, type SteerOkRecord, type SteerRecord, type SteerSummary } from '../../../experiments/steer/schema.ts';
import type { HookedModel } from '../../../model/model.ts';
import { attentionFrom, sampleText } from '../attention.ts';
import { distribution, doseResponse, jitter } from '../charts.ts';
import type { Figure } from '../figure.ts';
import { iqr } from '../stats.ts';
import type { Criterion, KindRenderer, ReportSection, ResultsDoc, Table, TokenAttention } from '../types.ts';
import { zodCheck } from './validate.ts';

type Rec = SteerRecord;
type OkRec = SteerOkRecord;
type Summary = SteerSummary;

async function render(doc: ResultsDoc, ctx: { model?: HookedModel; sample?: string }): Promise<ReportSection> {
  const summary = doc.summary as Summary;
  const ok = (doc.records as Rec[]).filter((r): r is OkRec => r.status === 'ok');
  const settings = doc.header.settings as { levels: number[]; calibrateTo?: string | null };
  const cellKey = (g: string, u: string) => `${g} ${u}`;
  const figures: Figure[] = [];

  for (const [metric, title, y] of [
    ['kl', 'KL of the next-token distribution', 'KL (nats)'],
    ['dMeanNll', 'Δ mean NLL of the continuation', 'Δ NLL (nats/token)'],
  ] as const) {
    const rows: Record<string, string | number | null>[] = [];
    const markers: Record<string, string | number | null>[] = [];
    for (const c of summary.cells) {
      const rs = ok.filter((r) => r.group === c.group && r.unit.id === c.unit.id);
      for (const [li, level] of settings.levels.entries()) {
        for (const [series, pick] of [
          ['steer', (r: OkRec) => r.levels[li]!.steer[metric]],
          ['control', (r: OkRec) => r.levels[li]!.control[metric]],
        ] as const) {
          const vals = rs.map(pick).filter((v): v is number => v !== null);
          const q = iqr(vals);
          rows.push({ facet: cellKey(c.group, c.unit.id), series, level, value: q.estimate, lo: q.lo, hi: q.hi });
        }
      }
      if (c.medianNaturalMass !== null) markers.push({ facet: cellKey(c.group, c.unit.id), level: c.medianNaturalMass });
    }
    figures.push({
      id: `steer-dose-${metric}`,
      title: `Dose-response: ${title} vs set level ℓ`,
      caption: `Median over samples (band: interquartile range) of the ${title.toLowerCase()} when the marker → target edges are set to total attention mass ℓ (steer) or the same for matched control keys, per group and unit. Red dashed: the ceiling ℓ = 1 (all of the row's mass on the selected keys). Grey dotted: the group's median natural mass.`,
      spec: doseResponse(rows, { x: 'set level ℓ (attention mass)', y, facet: 'group × unit', ceiling: 1, ceilingLabel: 'ceiling ℓ = 1', markers }),
    });
  }

  const calibrated = ok.filter((r) => r.calibrated);
  if (calibrated.length) {
    const dist: Record<string, string | number>[] = [];
    calibrated.forEach((r, i) => {
      if (r.calibrated!.steer.dMeanNll !== null) dist.push({ facet: cellKey(r.group, r.unit.id), condition: 'steer', value: r.calibrated!.steer.dMeanNll, id: r.id, jitter: jitter(i) });
      if (r.calibrated!.control.dMeanNll !== null) dist.push({ facet: cellKey(r.group, r.unit.id), condition: 'control', value: r.calibrated!.control.dMeanNll, id: r.id, jitter: jitter(i + 5) });
    });
    figures.push({
      id: 'steer-calibrated-distribution',
      title: `Per-sample Δ NLL at the level calibrated to ${settings.calibrateTo}`,
      caption: `Each point is one sample: change of the continuation's mean NLL (nats/token) when its edges are set to the ${settings.calibrateTo} natural mass, vs the same edit of matched control keys. Negative = the continuation became more likely.`,
      spec: distribution(dist, { y: 'Δ NLL (nats/token)', facet: 'group × unit' }),
    });
  }

  const tables: Table[] = [
    {
      caption: `Per level (${summary.correction}); p: Wilcoxon signed-rank steer vs control KL`,
      columns: ['group', 'unit', 'ℓ', 'n', 'median achieved mass', 'median KL steer', 'median KL control', 'median ΔNLL steer', 'median ΔNLL control', 'p', 'p Holm', 'rank-biserial'],
      rows: summary.cells.flatMap((c) => c.levels.map((l) => [c.group, c.unit.id, l.level, l.n, l.medianAchievedMass, l.medianKlSteer, l.medianKlControl, l.medianDNllSteer, l.medianDNllControl, l.p, l.pHolm, l.rankBiserial])),
      pColumns: [9, 10],
    },
    {
      caption: 'Dose-response trend: per-sample Spearman ρ(ℓ, ΔNLL steer), median; p: Wilcoxon of ρ steer − ρ control',
      columns: ['group', 'unit', 'n', 'median ρ steer', 'median ρ control', 'p', 'p Holm', 'calibrated ℓ (median)', 'ΔNLL steer', 'ΔNLL control', 'p vs control (Holm)'],
      rows: summary.cells.map((c) => [c.group, c.unit.id, c.trend.n, c.trend.medianRhoSteer, c.trend.medianRhoControl, c.trend.p, c.trend.pHolm, c.calibrated?.medianLevel ?? null, c.calibrated?.medianDNllSteer ?? null, c.calibrated?.medianDNllControl ?? null, c.calibrated?.pVsControlHolm ?? null]),
      pColumns: [5, 6, 10],
    },
  ];

  const steered = [...new Set(summary.cells.map((c) => c.group))].filter((g) => g !== settings.calibrateTo);
  const dose = summary.cells.filter((c) => steered.includes(c.group) && c.trend.medianRhoSteer !== null && c.trend.medianRhoSteer < 0 && c.trend.pHolm !== null && c.trend.pHolm < summary.alpha);
  const cal = summary.cells.filter((c) => c.calibrated && steered.includes(c.group));
  const criteria: Criterion[] = [
    {
      name: 'Effect is dose-dependent (more steering = more improvement, up to ceiling)',
      source: 'roadmap Phase 4 success',
      met: dose.length > 0,
      detail: `${steered.join(', ')}: ${dose.length ? dose.map((c) => `${c.unit.id} median ρ(ℓ, ΔNLL) = ${c.trend.medianRhoSteer?.toFixed(2)}, Holm p = ${c.trend.pHolm?.toExponential(1)}`).join('; ') : `no unit with ΔNLL falling as ℓ rises (median ρ < 0) at Holm p < ${summary.alpha}`}.`,
    },
    {
      name: 'Steering improves Rust test quality',
      source: 'roadmap Phase 4 success',
      met: null,
      detail: `plip steer measures KL and continuation NLL, not test quality (needs generation and test scoring). Proxy, calibrated level: ${cal.map((c) => `${c.group} ${c.unit.id} ΔNLL ${c.calibrated!.medianDNllSteer?.toFixed(4)} vs control ${c.calibrated!.medianDNllControl?.toFixed(4)} (Holm p ${c.calibrated!.pVsControlHolm?.toFixed(3)})`).join('; ') || 'no calibrated cells'}.`,
    },
  ];

  const tokenViews: TokenAttention[] = [];
  const notes = summary.cells.flatMap((c) => c.notes.map((n) => `${c.group} ${c.unit.id}: ${n}`));
  if (ctx.model) {
    const r = ctx.sample ? ok.find((x) => x.id === ctx.sample) : ok.find((x) => steered.includes(x.group)) ?? ok[0];
    if (!r) throw new Error(`${doc.path}: --sample '${ctx.sample}' is not a measured sample of this result`);
    const heads = (doc.header.settings as { heads?: number[] }).heads ?? [...Array(ctx.model.spec.nHeads).keys()];
    tokenViews.push(attentionFrom(ctx.model, await sampleText(doc, r.id), { sampleId: r.id, layer: r.unit.layers[0]!, heads, query: r.marker, highlight: r.targets }));
  } else notes.push("Token view not drawn: pass --model to recompute a sample's attention.");

  return {
    title: `Steering — ${doc.header.model?.id ?? ''}`,
    intro: `Attention steering (set the marker → target edges to mass ℓ): ${summary.nApplicable} of ${summary.nSamples} samples, levels ${settings.levels.join(', ')}${settings.calibrateTo ? `, calibrated to ${settings.calibrateTo}` : ''}; largest |achieved − requested mass| ${summary.maxMassError ?? '—'}.`,
    figures,
    tables,
    criteria,
    tokenViews,
    notes,
  };
}

export const steerRenderer: KindRenderer = {
  kind: 'steer',
  validate: (d) => zodCheck(steerResultsSchema, d, 'steer'),
  render,
};
