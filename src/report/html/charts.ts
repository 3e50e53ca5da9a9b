/**
 * Vega-Lite spec builders for the report figure types (data inlined). Each returns a spec only; rendering is
 * figure.ts. Data rows are plain objects; null values are dropped by the callers.
 *
 * @module
 */
import type { TopLevelSpec } from 'vega-lite';

type Row = Record<string, string | number | boolean | null>;
const W = 520;

/**
 * Line per series over layers with a 95% CI error band, and an optional null-model band (its own lo/hi,
 * grey) and a dashed null line. Rows: {layer, series, mean, lo, hi}; nullRows: {layer, series, lo, hi, mean}.
 */
export function layerCurve(rows: Row[], opts: { y: string; x?: string; nullRows?: Row[]; logY?: boolean }): TopLevelSpec {
  const yScale = opts.logY ? { type: 'log' as const } : { zero: false };
  const layers: unknown[] = [];
  if (opts.nullRows?.length) {
    layers.push({
      data: { values: opts.nullRows },
      mark: { type: 'area', opacity: 0.18 },
      encoding: {
        x: { field: 'layer', type: 'ordinal' },
        y: { field: 'lo', type: 'quantitative', scale: yScale, title: opts.y },
        y2: { field: 'hi' },
        color: { field: 'series', type: 'nominal', title: 'series' },
      },
    });
    layers.push({
      data: { values: opts.nullRows },
      mark: { type: 'line', strokeDash: [4, 3] },
      encoding: { x: { field: 'layer', type: 'ordinal' }, y: { field: 'mean', type: 'quantitative', scale: yScale }, color: { field: 'series', type: 'nominal' } },
    });
  }
  // rows without an interval (e.g. a bootstrap CI undefined at tiny n) get no error bar; none at all, no layer
  const bars = rows.filter((r) => r.lo !== null && r.lo !== undefined && r.hi !== null && r.hi !== undefined);
  if (bars.length)
    layers.push({
      data: { values: bars },
      mark: { type: 'errorbar', thickness: 1.5 },
      encoding: { x: { field: 'layer', type: 'ordinal' }, y: { field: 'lo', type: 'quantitative', scale: yScale, title: opts.y }, y2: { field: 'hi' }, color: { field: 'series', type: 'nominal' } },
    });
  layers.push(
    {
      data: { values: rows },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'layer', type: 'ordinal', title: opts.x ?? 'layer', sort: null },
        y: { field: 'mean', type: 'quantitative', scale: yScale, title: opts.y },
        color: { field: 'series', type: 'nominal', title: 'series' },
        tooltip: [{ field: 'series' }, { field: 'layer' }, { field: 'mean', format: '.4g' }, { field: 'lo', format: '.4g' }, { field: 'hi', format: '.4g' }],
      },
    },
  );
  return { width: W, height: 260, layer: layers } as TopLevelSpec;
}

/** Heatmap of `value` over (x, y) with the value printed in each cell; optional facet column. Rows: {x, y, value, label?, facet?}. */
export function heatmap(rows: Row[], opts: { x: string; y: string; value: string; facet?: string; scheme?: string; diverging?: boolean }): TopLevelSpec {
  // diverging: a symmetric domain, so white is 0 and equal magnitudes get equal strength on both sides
  const m = Math.max(1e-12, ...rows.map((r) => Math.abs(typeof r.value === 'number' ? r.value : 0)));
  const color = {
    field: 'value',
    type: 'quantitative' as const,
    title: opts.value,
    scale: opts.diverging ? { scheme: opts.scheme ?? 'redblue', domain: [-m, m], reverse: true } : { scheme: opts.scheme ?? 'blues' },
  };
  const inner = {
    layer: [
      { mark: 'rect', encoding: { color, tooltip: [{ field: 'x', title: opts.x }, { field: 'y', title: opts.y }, { field: 'value', format: '.4g', title: opts.value }] } },
      { mark: { type: 'text', fontSize: 9 }, encoding: { text: { field: 'label' } } },
    ],
    encoding: { x: { field: 'x', type: 'ordinal', title: opts.x, sort: null }, y: { field: 'y', type: 'ordinal', title: opts.y, sort: null } },
  };
  if (opts.facet) return { data: { values: rows }, facet: { column: { field: 'facet', type: 'nominal', title: opts.facet, sort: [...new Set(rows.map((r) => String(r.facet)))] } }, spec: { width: 180, height: 150, ...inner } } as TopLevelSpec;
  return { data: { values: rows }, width: 300, height: 180, ...inner } as TopLevelSpec;
}

/**
 * Per-sample values as points with a box plot per condition, faceted by `facet`. Rows: {facet, condition, value, id}.
 * Used for "effect distribution against controls". Whiskers span min–max: every point is drawn anyway, and
 * a Tukey box (extent 1.5) with no outlier leaves vega an empty outlier layer, which it reports as an error.
 */
export function distribution(rows: Row[], opts: { y: string; facet: string; logY?: boolean }): TopLevelSpec {
  const y = { field: 'value', type: 'quantitative' as const, title: opts.y, scale: opts.logY ? { type: 'symlog' as const, constant: 1e-4 } : { zero: false } };
  return {
    data: { values: rows },
    facet: { column: { field: 'facet', type: 'nominal', title: opts.facet, sort: null } },
    spec: {
      width: 110,
      height: 220,
      layer: [
        { mark: { type: 'boxplot', extent: 'min-max', opacity: 0.35, size: 28 }, encoding: { x: { field: 'condition', type: 'nominal', title: null }, y, color: { field: 'condition', type: 'nominal' } } },
        {
          mark: { type: 'point', filled: true, size: 18, opacity: 0.7 },
          encoding: { x: { field: 'condition', type: 'nominal' }, xOffset: { field: 'jitter', type: 'quantitative', scale: { domain: [-1, 1] } }, y, color: { field: 'condition', type: 'nominal', title: 'condition' }, tooltip: [{ field: 'id' }, { field: 'value', format: '.4g' }] },
        },
      ],
    },
  } as TopLevelSpec;
}

/**
 * Dose-response: y against level per series, with an optional band (lo/hi), faceted by `facet`; the
 * ceiling (and optional per-facet natural level) drawn as rules. Rows: {facet, series, level, value, lo, hi}.
 * `ceilings` ({facet, level, label}) draws a ceiling per facet instead of the one `ceiling` of all facets;
 * `xMax` widens the x domain beyond [0, max(ceiling, 1)] (levels that are multiples rather than masses).
 */
export function doseResponse(rows: Row[], opts: { x: string; y: string; facet: string; ceiling: number; ceilingLabel: string; markers?: Row[]; ceilings?: Row[]; xMax?: number }): TopLevelSpec {
  const x = { field: 'level', type: 'quantitative' as const, title: opts.x, scale: { domain: [0, Math.max(opts.ceiling, 1, opts.xMax ?? 0)] } };
  const curve = { filter: 'datum.kind === "curve"' };
  const values = [...rows.map((r) => ({ ...r, kind: 'curve' })), ...(opts.markers ?? []).map((r) => ({ ...r, kind: 'marker' })), ...(opts.ceilings ?? []).map((r) => ({ ...r, kind: 'ceiling' }))];
  const perFacet = { filter: 'datum.kind === "ceiling"' };
  const ceilingLayers: unknown[] = opts.ceilings
    ? [
        { transform: [perFacet], mark: { type: 'rule', color: '#d62728', strokeDash: [6, 3] }, encoding: { x: { field: 'level', type: 'quantitative' } } },
        { transform: [perFacet], mark: { type: 'text', color: '#d62728', align: 'right', dx: -3, dy: 4, baseline: 'top', fontSize: 9 }, encoding: { x: { field: 'level', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } } },
      ]
    : [
        { data: { values: [{ c: opts.ceiling }] }, mark: { type: 'rule', color: '#d62728', strokeDash: [6, 3] }, encoding: { x: { field: 'c', type: 'quantitative' } } },
        { data: { values: [{ c: opts.ceiling, label: opts.ceilingLabel }] }, mark: { type: 'text', color: '#d62728', align: 'right', dx: -3, dy: 4, baseline: 'top', fontSize: 9 }, encoding: { x: { field: 'c', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } } },
      ];
  const layers: unknown[] = [
    { transform: [curve], mark: { type: 'area', opacity: 0.15 }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: opts.y }, y2: { field: 'hi' }, color: { field: 'series', type: 'nominal' } } },
    { transform: [curve], mark: { type: 'line', point: true }, encoding: { x, y: { field: 'value', type: 'quantitative', title: opts.y }, color: { field: 'series', type: 'nominal', title: 'series' }, tooltip: [{ field: 'series' }, { field: 'level' }, { field: 'value', format: '.4g' }] } },
    { transform: [{ filter: 'datum.kind === "marker"' }], mark: { type: 'rule', color: '#555', strokeDash: [2, 2] }, encoding: { x: { field: 'level', type: 'quantitative' } } },
    ...ceilingLayers,
  ];
  return { data: { values }, facet: { field: 'facet', type: 'nominal', title: opts.facet, sort: null }, columns: 4, spec: { width: 170, height: 160, layer: layers }, resolve: { scale: { y: 'independent' } } } as TopLevelSpec;
}

/** Rates (points) with Wilson CIs (error bars) per condition, faceted by row/column. Rows: {row, column, x, condition, rate, lo, hi, k, n}. */
export function rates(rows: Row[], opts: { x: string; rowTitle: string; columnTitle: string }): TopLevelSpec {
  const xo = { field: 'x', type: 'nominal' as const, title: opts.x, sort: null };
  return {
    data: { values: rows },
    facet: { row: { field: 'row', type: 'nominal', title: opts.rowTitle, sort: null }, column: { field: 'column', type: 'nominal', title: opts.columnTitle, sort: null } },
    spec: {
      width: 240,
      height: 150,
      layer: [
        { mark: { type: 'errorbar', thickness: 1.5 }, encoding: { x: xo, xOffset: { field: 'condition', sort: null }, y: { field: 'lo', type: 'quantitative', title: 'rate (95% Wilson CI)', scale: { domain: [0, 1] } }, y2: { field: 'hi' }, color: { field: 'condition', type: 'nominal', sort: null } } },
        {
          mark: { type: 'point', filled: true, size: 40 },
          encoding: { x: xo, xOffset: { field: 'condition', sort: null }, y: { field: 'rate', type: 'quantitative' }, color: { field: 'condition', type: 'nominal', title: 'condition', sort: null }, tooltip: [{ field: 'condition' }, { field: 'x' }, { field: 'k' }, { field: 'n' }, { field: 'rate', format: '.3f' }, { field: 'lo', format: '.3f' }, { field: 'hi', format: '.3f' }] },
        },
      ],
    },
  } as TopLevelSpec;
}

/** Deterministic jitter in [-0.8, 0.8] from an index (points of a strip plot do not overlap exactly). */
export function jitter(i: number): number {
  return (((i * 0.6180339887) % 1) - 0.5) * 1.6;
}
