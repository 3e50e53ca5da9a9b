/**
 * Terminal report of a scan (what `plip scan` prints): the PLIP-rs-style table (layer, group means, ratio,
 * Welch t, df, p, corrected p), the best layer with its corrected p-value, the null-normalised tables and
 * verdicts, the baseline groups and the warnings.
 *
 * @module
 */
import { fmt, renderTable } from '../../report/table.ts';
import type { Provenance } from '../../report/results.ts';
import { foldRepeated } from '../../report/table.ts';
import type { ScanComparison, ScanMetric, ScanRecord, ScanSummary } from './schema.ts';

const p = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x < 1e-4 ? x.toExponential(2) : x.toFixed(4));
const star = (x: number | null, alpha: number) => (x !== null && x < alpha ? ' *' : '');

/** PLIP-rs-style table of one metric of one comparison. */
export function metricTable(c: ScanComparison, metric: ScanMetric, alpha: number): string {
  const rows = c.metrics[metric].layers.map((r) => [
    String(r.layer),
    r.meanA,
    r.meanB,
    r.ratio === null ? '—' : `${fmt(r.ratio, 2)}×`,
    r.welch.t === null ? '—' : fmt(r.welch.t, 3),
    r.welch.df === null ? '—' : fmt(r.welch.df, 1),
    p(r.welch.p),
    p(r.welch.pHolm) + star(r.welch.pHolm, alpha),
    p(r.welch.pBH),
    p(r.mannWhitney.p),
    p(r.permutation.p),
    r.hedgesG.g === null ? '—' : `${fmt(r.hedgesG.g, 2)} [${fmt(r.hedgesG.ciLow, 2)}, ${fmt(r.hedgesG.ciHigh, 2)}]`,
  ]);
  return renderTable(['layer', `${c.a} mean`, `${c.b} mean`, 'ratio', 't', 'df', 'p', 'p_holm', 'p_bh', 'p_mwu', 'p_perm', 'g [95% CI]'], rows);
}

/** The full terminal report: provenance, caveats (folded), then the tables. */
export function renderScanReport(res: { header: Provenance; records: readonly ScanRecord[]; summary: ScanSummary | null }): string {
  const s = res.summary;
  if (!s) return `scan incomplete: ${res.records.length} of ${res.header.corpus?.nSamples ?? '?'} samples done; rerun the same command to resume`;
  const out: string[] = [];
  const model = res.header.model;
  out.push(`model ${model.id}${model.revision ? ` @ ${model.revision}` : ''} (${model.family}, ${model.nLayers} layers × ${model.nHeads} heads); corpus ${res.header.corpus?.path} (sha256 ${res.header.corpus?.sha256.slice(0, 12)}…, ${res.records.length} samples); seed ${res.header.seed}`);
  for (const w of foldRepeated(s.warnings)) out.push(`warning: ${w}`);
  const primary = s.comparisons[0]!;
  if (s.reach) out.push(`smallest reachable Holm-adjusted p (${s.reach.nA} vs ${s.reach.nB} samples, ${s.reach.tests} layers; α = ${s.reach.alpha}): Welch none (parametric), Mann–Whitney ${s.reach.mannWhitneyMinP.toPrecision(3)}, permutation ${s.reach.permutationMinP.toPrecision(3)}${s.reach.reachable ? '' : ' — α NOT reachable by the permutation test'}`);
  out.push('');
  out.push(`Attention marker → targets, ${primary.a} vs ${primary.b} (head-averaged; Welch two-sided; Holm/BH across ${primary.metrics.observed.layers.length} layers)`);
  out.push(metricTable(primary, 'observed', s.alpha));
  const b = s.bestLayer;
  out.push(
    b
      ? `best layer: ${b.layer} — ${primary.a} ${fmt(b.meanA)} vs ${primary.b} ${fmt(b.meanB)} (${b.ratio === null ? '—' : fmt(b.ratio, 2) + '×'}), Welch p = ${p(b.p)}, Holm-corrected p = ${p(b.pHolm)}, BH p = ${p(b.pBH)}, g = ${fmt(b.g, 2)}`
      : 'best layer: none (no test was defined; see warnings)',
  );
  const sections: [ScanMetric, string][] = [
    ['ratioUniform', 'observed / uniform causal null 1/(visible keys)'],
    ['ratioControl', 'observed / position-matched control (random non-target tokens at similar distance)'],
    ['observedNoSink', 'observed without the attention sink (key 0 removed, row renormalised)'],
    ['ratioUniformNoSink', 'no-sink observed / no-sink uniform null'],
    ['ratioControlNoSink', 'no-sink observed / no-sink control'],
  ];
  for (const [m, title] of sections) {
    out.push('');
    out.push(`${title} — ${primary.a} vs ${primary.b}`);
    out.push(metricTable(primary, m, s.alpha));
  }
  out.push('');
  out.push(`Does ${primary.a} > ${primary.b} survive? (Holm-corrected Welch p at each metric's best layer, alpha ${s.alpha})`);
  for (const v of s.verdict) out.push(`  ${v.survives === true ? 'YES' : v.survives === false ? 'no ' : ' ? '}  ${v.statement}`);

  for (const c of s.comparisons.slice(1)) {
    out.push('');
    const gb = s.groups[c.b];
    if (gb && gb.n > 0 && gb.zeroByConstruction === gb.n) {
      out.push(`note: every ${c.b} sample is 0 by construction (targets after the marker); this comparison tests against a constant 0 and says nothing about attention`);
    }
    for (const [m, title] of [['observed', 'observed'], ['ratioUniform', 'observed / uniform null']] as [ScanMetric, string][]) {
      const rows = c.metrics[m].layers;
      out.push(`Baseline comparison ${c.a} vs ${c.b}: ${title}`);
      const empty = rows.find((r) => r.nA === 0 || r.nB === 0);
      if (empty) out.push(`  (no values for ${empty.nA === 0 ? c.a : c.b}: undefined for every sample, e.g. attention 0 by construction)`);
      else out.push(metricTable(c, m, s.alpha));
    }
  }
  out.push('');
  out.push('Groups (head-averaged observed attention per layer: mean ± sd; uniform null mean; sink = attention to key 0)');
  const layers = primary.metrics.observed.layers.map((r) => r.layer);
  const rows = Object.entries(s.groups).map(([g, gs]) => [
    `${g} (n=${gs.n})`,
    ...layers.map((l) => {
      const L = gs.layers.find((x) => x.layer === l)!;
      return `${fmt(L.observed.mean)} ± ${fmt(L.observed.sd, 3)}`;
    }),
    fmt(gs.layers[0]?.uniformNull.mean ?? null),
    fmt(gs.layers.reduce((acc, L) => acc + (L.sink.mean ?? 0), 0) / Math.max(1, gs.layers.length)),
  ]);
  out.push(renderTable(['group', ...layers.map((l) => `L${l}`), 'uniform null', 'sink (avg)'], rows));
  return out.join('\n');
}
