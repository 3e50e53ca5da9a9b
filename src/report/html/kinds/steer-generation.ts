/**
 * Report of a `plip steer-gen` result (roadmap phase 4: steer the Rust tests' attention to the function up
 * to the Python level during generation): the calibration (natural mass from the test rows to the function
 * tokens per layer × head, Python and Rust), the dose-response of the preserved (and, when the tests ran,
 * executed-pass) rate against the multiple of the Python level with the results' Wilson 95% CIs, the
 * mass-holding control as a second series and the trend test's ceiling marked per unit; the dose table
 * (McNemar, Holm), the trend test per unit, and the criteria as the experiment evaluated them, with the
 * smallest reachable Holm p, caveats first.
 *
 * @module
 */
import { resultsDocSchema } from '../../../experiments/shared/results-doc.ts';
import { steerGenRecordSchema, steerGenSummarySchema, type SteerGenRecord, type SteerGenSummary } from '../../../experiments/steer-generation/schema.ts';
import type { HookedModel } from '../../../model/model.ts';
import { attentionFrom, sampleText } from '../attention.ts';
import { doseResponse, heatmap } from '../charts.ts';
import type { Figure } from '../figure.ts';
import type { Criterion, KindRenderer, ReportSection, ResultsDoc, Table, TokenAttention } from '../types.ts';
import { zodCheck } from './validate.ts';
import { criterionDetail, tokenViewLayer } from './generation-parts.ts';

const schema = resultsDocSchema(steerGenRecordSchema, steerGenSummarySchema);

const pct = (x: number | null | undefined) => (x === null || x === undefined ? null : `${(100 * x).toFixed(1)}%`);
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The reachable-α statement of the Holm-corrected McNemar tests (small n cannot reach α at all). */
export function reachableAlpha(c: SteerGenSummary['correction']): string {
  return `McNemar two-sided, Holm over ${c.tests} tests: smallest reachable adjusted p ${c.minReachableP.toPrecision(3)}, so α = ${c.alpha} is ${c.alphaReachable ? 'reachable' : 'NOT reachable at this n (no criterion can be met, whatever the effect)'}`;
}

async function render(doc: ResultsDoc, ctx: { model?: HookedModel; sample?: string }): Promise<ReportSection> {
  const s = doc.summary as SteerGenSummary;
  const records = doc.records as SteerGenRecord[];
  const settings = doc.header.settings as { calibration?: { python: number[][]; rust: number[][] } };
  const cal = settings.calibration;
  const figures: Figure[] = [];
  const tables: Table[] = [];

  if (cal) {
    const rows = (['python', 'rust'] as const).flatMap((lang) => cal[lang].flatMap((row, l) => row.map((m, h) => ({ facet: lang === 'python' ? 'Python' : 'Rust', x: h, y: `L${l}`, value: m, label: (100 * m).toFixed(1) }))));
    figures.push({
      id: 'steer-generation-calibration',
      title: 'Calibration: natural attention mass from the test rows to the function tokens per layer × head',
      caption: `Mean over prompts (n = ${s.n} per language at most) of Σ over the function tokens of the attention of each row from the test marker's first token through the last generated token, per layer and head, in percent; the steered level of a head is a multiple of its Python value. Mean over layers and heads: Python ${pct(s.calibration.pythonMean)}, Rust ${pct(s.calibration.rustMean)}${s.calibration.ratio ? ` (×${s.calibration.ratio.toFixed(2)})` : ''}.`,
      spec: heatmap(rows, { x: 'head', y: 'layer', value: 'mass', facet: 'language' }),
    });
    tables.push({
      caption: 'Calibration per layer: mean natural mass over heads (test rows → function tokens)',
      columns: ['layer', 'Python', 'Rust', 'Python / Rust'],
      rows: cal.python.map((row, l) => {
        const p = mean(row);
        const r = mean(cal.rust[l]!);
        return [`L${l}`, pct(p), pct(r), r > 0 ? p / r : null];
      }),
    });
  }

  const units = [...new Set(s.doses.map((d) => d.unit))];
  const curve = s.doses.filter((d) => d.multiple !== null);
  const xMax = Math.max(1, ...curve.map((d) => d.multiple!));
  const measures: Array<['preserved' | 'executedPass', string]> = [['preserved', 'preserved']];
  if (s.doses.some((d) => d.executedPass !== null)) measures.push(['executedPass', 'executed test passes']);
  const facet = (u: string, m: string) => (measures.length > 1 ? `${u} · ${m}` : u);
  const rows: Record<string, string | number | null>[] = [];
  const ceilings: Record<string, string | number | null>[] = [];
  for (const u of units) {
    const mine = curve.filter((d) => d.unit === u);
    const levels = mine.map((d) => d.multiple!);
    for (const [key, name] of measures) {
      for (const d of mine) {
        const t = key === 'preserved' ? d.preserved : d.executedPass;
        if (t) rows.push({ facet: facet(u, name), series: 'steered (function tokens)', level: d.multiple, value: t.rate, lo: t.lo, hi: t.hi });
        // the control arm is scored on the primary criterion only (the results keep its preserved rate)
        if (key === 'preserved') rows.push({ facet: facet(u, name), series: 'control (matched random keys)', level: d.multiple, value: d.control.rate, lo: d.control.lo, hi: d.control.hi });
      }
      const b = key === 'preserved' ? s.baseline.preserved : s.baseline.executedPass;
      if (b) for (const level of [0, ...levels, xMax]) rows.push({ facet: facet(u, name), series: 'baseline (unedited)', level, value: b.rate, lo: b.lo, hi: b.hi });
      const t = s.trends.find((x) => x.unit === u);
      if (key === 'preserved' && t?.ceilingMultiple !== null && t?.ceilingMultiple !== undefined) ceilings.push({ facet: facet(u, name), level: t.ceilingMultiple, label: `ceiling ×${t.ceilingMultiple}` });
    }
  }
  figures.push({
    id: 'steer-generation-dose-response',
    title: 'Dose-response: rate of the Rust tests against the multiple of the Python level',
    caption: `Per unit: share of the generated Rust tests that are preserved (call the function by name with a fitting argument list)${measures.length > 1 ? ' and whose executed test passes' : ''}, with the function tokens' attention set to k × the calibrated Python level of each head (steered, k = 1 is the Python level) and with the same mass moved onto matched random keys instead (control); flat line: the unedited baseline. Bands: Wilson score 95% intervals from the results file. Red dashed: the ceiling, the smallest multiple at which the steered rate reaches its maximum (trend test). ${s.doses.some((d) => d.multiple === null) ? 'Absolute doses (over-steering) are in the table, not on this axis.' : ''}`,
    spec: doseResponse(rows, { x: 'multiple of the Python level', y: 'rate (95% Wilson CI)', facet: measures.length > 1 ? 'unit · measure' : 'unit', ceiling: xMax, ceilingLabel: '', ceilings, xMax }),
  });

  const ci = (p: { lo: number | null; hi: number | null }) => (p.lo === null || p.hi === null ? null : `[${pct(p.lo)}, ${pct(p.hi)}]`);
  tables.push(
    {
      caption: `Per unit and dose (${reachableAlpha(s.correction)}); baseline preserved ${s.baseline.preserved.k}/${s.baseline.preserved.n}`,
      columns: ['unit', 'dose', 'multiple', 'absolute level', 'preserved', '95% CI', 'k / n', 'test passes', 'control', 'control 95% CI', 'lost / gained vs baseline', 'p vs baseline', 'Holm vs baseline', 'lost / gained vs control', 'p vs control', 'Holm vs control'],
      rows: s.doses.map((d) => [
        d.unit, d.label, d.multiple, d.absolute, pct(d.preserved.rate), ci(d.preserved), `${d.preserved.k} / ${d.preserved.n}`, d.executedPass ? pct(d.executedPass.rate) : 'not executed', pct(d.control.rate), ci(d.control),
        `${d.vsBaseline.lost} / ${d.vsBaseline.gained}`, d.vsBaseline.p, d.pHolmBaseline, `${d.vsControl.lost} / ${d.vsControl.gained}`, d.vsControl.p, d.pHolmControl,
      ]),
      pColumns: [11, 12, 14, 15],
    },
    {
      caption: 'Trend of the preserved rate across the multiples per unit (within-prompt permutation test, Holm over units); ceiling = smallest multiple reaching the maximum rate',
      columns: ['unit', 'statistic', 'direction', 'p', 'p Holm', 'ceiling multiple', 'rate at ceiling'],
      rows: s.trends.map((t) => [t.unit, t.statistic, t.direction, t.p, t.pHolm, t.ceilingMultiple === null ? null : `×${t.ceilingMultiple}`, pct(t.ceilingRate)]),
      pColumns: [3, 4],
    },
  );
  if (s.skipped.length) tables.push({ caption: 'Skipped prompts', columns: ['id', 'group', 'reason'], rows: s.skipped.map((x) => [x.id, x.group, x.reason]) });

  const criteria: Criterion[] = s.criteria.map((c) => ({
    name: `${c.criterion} (${c.language})`,
    source: 'roadmap Phase 4 success (evaluated by plip steer-gen)',
    met: c.met,
    detail: `${criterionDetail(c)}. ${s.correction.alphaReachable ? '' : `α = ${s.correction.alpha} not reachable (smallest adjusted p ${s.correction.minReachableP.toPrecision(3)}).`}`.trim(),
  }));

  const notes = [...s.caveats.map((c) => `caveat: ${c}`), reachableAlpha(s.correction)];
  const tokenViews: TokenAttention[] = [];
  if (ctx.model) {
    const r = ctx.sample ? records.find((x) => x.id === ctx.sample) : records[0];
    if (!r) throw new Error(`${doc.path}: --sample '${ctx.sample}' is not a prompt of this result`);
    const layer = tokenViewLayer(r.units);
    const heads = [...Array(ctx.model.spec.nHeads).keys()];
    tokenViews.push(attentionFrom(ctx.model, await sampleText(doc, r.id), { sampleId: r.id, layer, heads, query: r.marker.first, highlight: r.targets }));
  } else notes.push("Token view not drawn: pass --model to recompute a prompt's attention.");

  return {
    title: `Steering generation — ${doc.header.model?.id ?? ''}`,
    intro: `${s.caveats.map((c) => `Caveat: ${c}. `).join('')}Rust tests generated with the marker → function-token attention set to multiples of the Python level (calibration: Python ${pct(s.calibration.pythonMean)} vs Rust ${pct(s.calibration.rustMean)} mean mass), vs matched random-key controls holding the same mass: n = ${s.n} Rust prompts, units ${units.join(', ')}, doses ${[...new Set(s.doses.map((d) => d.label))].join(', ')}; baseline preserved ${pct(s.baseline.preserved.rate) ?? '—'}, test passes ${s.baseline.executedPass ? pct(s.baseline.executedPass.rate) : 'not executed'}.`,
    figures,
    tables,
    criteria,
    tokenViews,
    notes,
  };
}

export const steerGenerationRenderer: KindRenderer = { kind: 'steer-generation', validate: (d) => zodCheck(schema, d, 'steer-generation'), render };
