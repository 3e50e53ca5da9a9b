/**
 * Statistics of the layer scan: per layer (head-averaged values), group a vs group b — Welch's t,
 * Mann–Whitney U, a permutation test of the mean difference, Hedges' g with a bootstrap CI — then Holm and
 * Benjamini–Hochberg corrections across the layers scanned, for the raw attention and for the
 * null-normalised values. The tests themselves live in src/stats (tested against SciPy there); this module
 * only selects values, wires seeds and corrections, and picks the best layer.
 *
 * @module
 */
import { benjaminiHochberg, createRng, hedgesG, holm, mannWhitneyU, permutationTest, summarize, welchT } from '../../stats/index.ts';
import {
  METRICS,
  type ScanBest,
  type ScanComparison,
  type ScanGroupSummary,
  type ScanHeadRow,
  type ScanMetric,
  type ScanMetricStats,
  type ScanRecord,
  type ScanTestRow,
  type ScanVerdict,
} from './schema.ts';

export const METRIC_DESCRIPTIONS: Record<ScanMetric, string> = {
  observed: 'head-averaged attention marker → targets (mean over target tokens)',
  observedNoSink: 'as observed, key 0 (BOS/sink) removed and the marker row renormalised over keys ≥ 1',
  ratioUniform: 'observed / uniform causal null (#visible targets/#targets · 1/(marker token + 1))',
  ratioUniformNoSink: 'observedNoSink / uniform null over keys ≥ 1',
  ratioControl: 'observed / position-matched control (random non-target tokens at similar distance)',
  ratioControlNoSink: 'observedNoSink / controlNoSink',
};

/** Options of {@link compareGroups}. */
export interface StatsOptions {
  seed: number;
  nPermutations: number;
  nBoot: number;
  alpha: number;
  /** Confidence level of the bootstrap CI of g (default 0.95). */
  ciLevel?: number;
}

const ratio = (x: number | null, y: number | null): number | null => (x === null || y === null || !(y > 0) ? null : x / y);

/** The per-sample value of `metric` at one layer (head-averaged); null when undefined for that sample. */
export function metricValue(r: ScanRecord, layer: number, metric: ScanMetric): number | null {
  const L = r.layers.find((x) => x.layer === layer);
  if (!L) return null;
  const m = L.mean;
  switch (metric) {
    case 'observed':
      return m.observed;
    case 'observedNoSink':
      return m.observedNoSink;
    case 'ratioUniform':
      return ratio(m.observed, r.uniformNull);
    case 'ratioUniformNoSink':
      return ratio(m.observedNoSink, r.uniformNullNoSink);
    case 'ratioControl':
      return ratio(m.observed, m.control);
    case 'ratioControlNoSink':
      return ratio(m.observedNoSink, m.controlNoSink);
  }
}

function values(rs: readonly ScanRecord[], f: (r: ScanRecord) => number | null): number[] {
  const out: number[] = [];
  for (const r of rs) {
    const v = f(r);
    if (v !== null && Number.isFinite(v)) out.push(v);
  }
  return out;
}

/**
 * All four tests for one layer (p-values uncorrected; corrections are filled in by {@link testLayers}).
 * Seeds: permutation `createRng(seed, 'scan-perm/<label>')`, bootstrap `createRng(seed, 'scan-boot/<label>')`.
 */
export function testTwoGroups(xa: number[], xb: number[], layer: number, label: string, o: StatsOptions): ScanTestRow {
  const sa = summarize(xa);
  const sb = summarize(xb);
  const ciLevel = o.ciLevel ?? 0.95;
  const row: ScanTestRow = {
    layer,
    nA: xa.length,
    nB: xb.length,
    meanA: sa.mean,
    meanB: sb.mean,
    sdA: sa.sd,
    sdB: sb.sd,
    ratio: ratio(sa.mean, sb.mean),
    welch: { t: null, df: null, p: null, pHolm: null, pBH: null },
    mannWhitney: { U: null, method: null, p: null, pHolm: null, pBH: null },
    permutation: { observed: null, method: null, nPermutations: 0, p: null, pHolm: null, pBH: null },
    hedgesG: { g: null, ciLow: null, ciHigh: null, ciLevel, ciMethod: null },
  };
  if (xa.length === 0 || xb.length === 0) {
    const note = `no values in ${xa.length === 0 ? 'group a' : 'group b'}`;
    row.welch.note = note;
    row.mannWhitney.note = note;
    row.hedgesG.note = note;
    return row;
  }
  const w = welchT(xa, xb);
  row.welch = { t: w.t, df: w.df, p: w.p, pHolm: null, pBH: null, ...(w.note ? { note: w.note } : {}) };
  const mw = mannWhitneyU(xa, xb);
  row.mannWhitney = { U: mw.U, method: mw.method, p: mw.p, pHolm: null, pBH: null, ...(mw.note ? { note: mw.note } : {}) };
  const perm = permutationTest(xa, xb, { rng: createRng(o.seed, `scan-perm/${label}`), nPermutations: o.nPermutations });
  row.permutation = { observed: perm.observed, method: perm.method, nPermutations: perm.nPermutations, p: perm.p, pHolm: null, pBH: null };
  const g = hedgesG(xa, xb, { ci: { rng: createRng(o.seed, `scan-boot/${label}`), nBoot: o.nBoot, level: ciLevel } });
  const ci = g.ci;
  const notes = [g.note, ci?.note].filter(Boolean).join('; ');
  row.hedgesG = { g: g.g, ciLow: ci?.lo ?? null, ciHigh: ci?.hi ?? null, ciLevel, ciMethod: ci?.method ?? null, ...(notes ? { note: notes } : {}) };
  return row;
}

/** Fills pHolm / pBH of each test family (welch, mannWhitney, permutation) across the rows (layers). */
export function correctAcrossLayers(rows: ScanTestRow[]): void {
  for (const k of ['welch', 'mannWhitney', 'permutation'] as const) {
    const ps = rows.map((r) => r[k].p);
    const h = holm(ps);
    const b = benjaminiHochberg(ps);
    rows.forEach((r, i) => {
      r[k].pHolm = h[i]!;
      r[k].pBH = b[i]!;
    });
  }
}

/** The layer with the smallest Holm-corrected Welch p (ties: smaller raw p, then larger |g|); null if none defined. */
export function bestLayer(rows: readonly ScanTestRow[]): ScanBest | null {
  let best: ScanTestRow | null = null;
  const key = (r: ScanTestRow) => [r.welch.pHolm ?? Infinity, r.welch.p ?? Infinity, -Math.abs(r.hedgesG.g ?? 0)];
  for (const r of rows) {
    if (r.welch.p === null) continue;
    if (!best) {
      best = r;
      continue;
    }
    const a = key(r);
    const b = key(best);
    if (a[0]! < b[0]! || (a[0] === b[0] && (a[1]! < b[1]! || (a[1] === b[1] && a[2]! < b[2]!)))) best = r;
  }
  if (!best) return null;
  return { layer: best.layer, meanA: best.meanA, meanB: best.meanB, ratio: best.ratio, g: best.hedgesG.g, p: best.welch.p, pHolm: best.welch.pHolm, pBH: best.welch.pBH };
}

/** Tests of one metric at every layer, corrected across layers. */
export function testLayers(a: readonly ScanRecord[], b: readonly ScanRecord[], layers: readonly number[], metric: ScanMetric, label: string, o: StatsOptions): ScanMetricStats {
  const rows = layers.map((l) =>
    testTwoGroups(
      values(a, (r) => metricValue(r, l, metric)),
      values(b, (r) => metricValue(r, l, metric)),
      l,
      `${label}/${metric}/L${l}`,
      o,
    ),
  );
  correctAcrossLayers(rows);
  return { description: METRIC_DESCRIPTIONS[metric], layers: rows, best: bestLayer(rows) };
}

/** Per layer × head Welch tests of `observed`, Holm/BH across all layer × head cells. */
export function testHeads(a: readonly ScanRecord[], b: readonly ScanRecord[], layers: readonly number[], heads: readonly number[]): ScanHeadRow[] {
  const rows: ScanHeadRow[] = [];
  for (const l of layers) {
    heads.forEach((h, hi) => {
      const va = values(a, (r) => r.layers.find((x) => x.layer === l)?.observed[hi] ?? null);
      const vb = values(b, (r) => r.layers.find((x) => x.layer === l)?.observed[hi] ?? null);
      const w = va.length && vb.length ? welchT(va, vb) : null;
      rows.push({ layer: l, head: h, meanA: summarize(va).mean, meanB: summarize(vb).mean, t: w?.t ?? null, df: w?.df ?? null, p: w?.p ?? null, pHolm: null, pBH: null });
    });
  }
  const ps = rows.map((r) => r.p);
  const hh = holm(ps);
  const bb = benjaminiHochberg(ps);
  rows.forEach((r, i) => {
    r.pHolm = hh[i]!;
    r.pBH = bb[i]!;
  });
  return rows;
}

/** Every metric for group a vs group b. */
export function compareGroups(all: readonly ScanRecord[], ga: string, gb: string, layers: readonly number[], heads: readonly number[], primary: boolean, o: StatsOptions): ScanComparison {
  const a = all.filter((r) => r.group === ga);
  const b = all.filter((r) => r.group === gb);
  const label = `${ga}-vs-${gb}`;
  const metrics = Object.fromEntries(METRICS.map((m) => [m, testLayers(a, b, layers, m, label, o)])) as Record<ScanMetric, ScanMetricStats>;
  return { a: ga, b: gb, primary, metrics, ...(primary ? { heads: testHeads(a, b, layers, heads) } : {}) };
}

const fmtP = (p: number | null) => (p === null ? 'undefined' : p < 1e-4 ? p.toExponential(2) : p.toFixed(4));

/** Does "mean(a) > mean(b)" hold at the best layer of each metric with Holm-corrected Welch p < alpha? */
export function verdicts(c: ScanComparison, alpha: number): ScanVerdict[] {
  return METRICS.map((metric) => {
    const best = c.metrics[metric].best;
    if (!best || best.meanA === null || best.meanB === null) {
      return { metric, survives: null, layer: best?.layer ?? null, meanA: best?.meanA ?? null, meanB: best?.meanB ?? null, pHolm: best?.pHolm ?? null, statement: `${metric}: no test defined (see notes)` };
    }
    const sig = best.pHolm !== null && best.pHolm < alpha;
    const greater = best.meanA > best.meanB;
    const survives = sig && greater;
    const what = `${c.a} ${greater ? '>' : '≤'} ${c.b}`;
    const statement = survives
      ? `${metric}: ${c.a} > ${c.b} holds (best layer ${best.layer}, Holm-corrected Welch p = ${fmtP(best.pHolm)} < ${alpha})`
      : sig
        ? `${metric}: the difference is significant but reversed (${c.a} < ${c.b} at layer ${best.layer}, Holm p = ${fmtP(best.pHolm)})`
        : `${metric}: ${c.a} > ${c.b} does NOT hold after Holm correction (best layer ${best.layer}: ${what}, Holm p = ${fmtP(best.pHolm)} ≥ ${alpha})`;
    return { metric, survives, layer: best.layer, meanA: best.meanA, meanB: best.meanB, pHolm: best.pHolm, statement };
  });
}

const desc = (xs: number[]) => {
  const s = summarize(xs);
  return { n: s.n, mean: s.mean, sd: s.sd, min: s.min, max: s.max };
};

/** Per-group, per-layer descriptive summary (every group, baselines included). */
export function summarizeGroups(all: readonly ScanRecord[], groups: readonly string[], layers: readonly number[]): Record<string, ScanGroupSummary> {
  const out: Record<string, ScanGroupSummary> = {};
  for (const g of groups) {
    const rs = all.filter((r) => r.group === g);
    out[g] = {
      n: rs.length,
      zeroByConstruction: rs.filter((r) => r.zeroByConstruction).length,
      markersMerged: rs.filter((r) => r.marker.merged).length,
      layers: layers.map((l) => {
        const L = (r: ScanRecord) => r.layers.find((x) => x.layer === l)?.mean ?? null;
        return {
          layer: l,
          observed: desc(values(rs, (r) => L(r)?.observed ?? null)),
          observedNoSink: desc(values(rs, (r) => L(r)?.observedNoSink ?? null)),
          control: desc(values(rs, (r) => L(r)?.control ?? null)),
          uniformNull: desc(values(rs, (r) => r.uniformNull)),
          ratioUniform: desc(values(rs, (r) => metricValue(r, l, 'ratioUniform'))),
          ratioControl: desc(values(rs, (r) => metricValue(r, l, 'ratioControl'))),
          sink: desc(values(rs, (r) => L(r)?.sink ?? null)),
        };
      }),
    };
  }
  return out;
}
