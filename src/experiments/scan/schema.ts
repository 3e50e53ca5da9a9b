/**
 * Schema of the `plip scan` results file (zod), documented field by field in docs/experiments/scan.md.
 * The TypeScript types of the records and the summary are inferred from it, so the file, the docs and the
 * code cannot drift apart silently (the e2e test validates real output against {@link scanResultsSchema}).
 *
 * UNITS: `charPos` = code point index into the sample's code; `token`/`*Tokens` = token index into the
 * tokenized sample (BOS included); attention values are probabilities in [0, 1]; ratios are unitless.
 *
 * @module
 */
import { z } from 'zod';

/** Version of the scan record schema (bump on an incompatible change). */
export const SCAN_SCHEMA_VERSION = 1;

const prob = z.number().min(0).max(1);
const nprob = prob.nullable();
const int = z.int();
const nnum = z.number().nullable();

export const scanLayerValuesSchema = z.strictObject({
  layer: int.min(0),
  /** Per scanned head (order of header.settings.heads): mean attention marker → target tokens. */
  observed: z.array(prob),
  /** Same with key 0 (BOS / sink) removed and the marker row renormalised over keys ≥ 1; null when undefined. */
  observedNoSink: z.array(nprob),
  /** Per head: position-matched control (mean over draws); null when no control could be drawn. */
  control: z.array(nprob),
  controlNoSink: z.array(nprob),
  /** Per head: attention from the marker to key 0. */
  sink: z.array(prob),
  /** Head averages (null when any head's value is null). */
  mean: z.strictObject({ observed: prob, observedNoSink: nprob, control: nprob, controlNoSink: nprob, sink: prob }),
});

export const scanRecordSchema = z.strictObject({
  /** Unique record key (= sample id). */
  key: z.string(),
  id: z.string(),
  group: z.string(),
  language: z.enum(['python', 'rust']).nullable(),
  nTokens: int.min(1),
  marker: z.strictObject({
    charPos: int.min(0),
    pattern: z.string(),
    token: int.min(0),
    exact: z.boolean(),
    merged: z.boolean(),
    mergedReason: z.string().nullable(),
    tokenText: z.string(),
    patternTokens: z.array(int.min(0)),
  }),
  targets: z.array(
    z.strictObject({ charPos: int.min(0), token: int.min(0), exact: z.boolean(), tokenText: z.string(), afterMarker: z.boolean(), duplicate: z.boolean() }),
  ),
  targetTokens: z.array(int.min(0)),
  visibleTargetTokens: z.array(int.min(0)),
  zeroByConstruction: z.boolean(),
  /** controlTokens[d][i]: control token of draw d for visibleTargetTokens[i]. */
  controlTokens: z.array(z.array(int.min(1))),
  /** Uniform causal null of the target mean: (#visible targets / #targets) · 1/(marker token + 1). */
  uniformNull: prob,
  /** Same over keys ≥ 1: (#visible targets ≥ 1 / #targets ≥ 1) · 1/marker token; null when undefined. */
  uniformNullNoSink: nprob,
  layers: z.array(scanLayerValuesSchema),
  notes: z.array(z.string()),
});

const pAdj = { p: nprob, pHolm: nprob, pBH: nprob };

export const scanTestRowSchema = z.strictObject({
  layer: int.min(0),
  nA: int.min(0),
  nB: int.min(0),
  meanA: nnum,
  meanB: nnum,
  sdA: nnum,
  sdB: nnum,
  /** meanA / meanB (null when meanB is 0 or undefined). */
  ratio: nnum,
  welch: z.strictObject({ t: nnum, df: nnum, ...pAdj, note: z.string().optional() }),
  mannWhitney: z.strictObject({ U: nnum, method: z.string().nullable(), ...pAdj, note: z.string().optional() }),
  permutation: z.strictObject({ observed: nnum, method: z.string().nullable(), nPermutations: int.min(0), ...pAdj }),
  hedgesG: z.strictObject({ g: nnum, ciLow: nnum, ciHigh: nnum, ciLevel: z.number(), ciMethod: z.string().nullable(), note: z.string().optional() }),
});

export const scanBestSchema = z.strictObject({
  layer: int.min(0),
  meanA: nnum,
  meanB: nnum,
  ratio: nnum,
  g: nnum,
  p: nprob,
  pHolm: nprob,
  pBH: nprob,
});

export const METRICS = ['observed', 'observedNoSink', 'ratioUniform', 'ratioUniformNoSink', 'ratioControl', 'ratioControlNoSink'] as const;
export type ScanMetric = (typeof METRICS)[number];

export const scanMetricStatsSchema = z.strictObject({
  description: z.string(),
  layers: z.array(scanTestRowSchema),
  /** Layer with the smallest Holm-corrected Welch p (ties: smaller raw p, then larger |g|); null if no test was defined. */
  best: scanBestSchema.nullable(),
});

export const scanHeadRowSchema = z.strictObject({
  layer: int.min(0),
  head: int.min(0),
  meanA: nnum,
  meanB: nnum,
  t: nnum,
  df: nnum,
  ...pAdj,
});

export const scanComparisonSchema = z.strictObject({
  a: z.string(),
  b: z.string(),
  primary: z.boolean(),
  metrics: z.strictObject(Object.fromEntries(METRICS.map((m) => [m, scanMetricStatsSchema])) as Record<ScanMetric, typeof scanMetricStatsSchema>),
  /** Per layer × head Welch tests of `observed` (primary comparison only), corrected across all cells. */
  heads: z.array(scanHeadRowSchema).optional(),
});

const descSchema = z.strictObject({ n: int.min(0), mean: nnum, sd: nnum, min: nnum, max: nnum });

export const scanGroupSummarySchema = z.strictObject({
  n: int.min(0),
  zeroByConstruction: int.min(0),
  markersMerged: int.min(0),
  layers: z.array(
    z.strictObject({
      layer: int.min(0),
      observed: descSchema,
      observedNoSink: descSchema,
      control: descSchema,
      uniformNull: descSchema,
      ratioUniform: descSchema,
      ratioControl: descSchema,
      sink: descSchema,
    }),
  ),
});

export const scanVerdictSchema = z.strictObject({
  metric: z.enum(METRICS),
  /** true: mean(a) > mean(b) with Holm-corrected Welch p < alpha at the best layer; false: not; null: no test defined. */
  survives: z.boolean().nullable(),
  layer: int.min(0).nullable(),
  meanA: nnum,
  meanB: nnum,
  pHolm: nprob,
  statement: z.string(),
});

export const scanSummarySchema = z.strictObject({
  alpha: z.number(),
  comparisons: z.array(scanComparisonSchema),
  /** Best layer of the primary comparison on the raw metric (`observed`), with its corrected p-values. */
  bestLayer: scanBestSchema.nullable(),
  /** Does "a > b" survive normalisation by each null (primary comparison)? */
  verdict: z.array(scanVerdictSchema),
  groups: z.record(z.string(), scanGroupSummarySchema),
  warnings: z.array(z.string()),
  notes: z.array(z.string()),
  /**
   * Smallest Holm-adjusted p of the primary comparison's tests (Welch: null, no design floor; Mann–Whitney
   * and permutation: exact floors × layers) and whether α is reachable (absent in files written before it).
   */
  reach: z
    .strictObject({ alpha: z.number(), tests: int.min(0), nA: int.min(0), nB: int.min(0), welchMinP: z.null(), mannWhitneyMinP: z.number(), permutationMinP: z.number(), reachable: z.boolean() })
    .optional(),
});

export const scanHeaderSchema = z.looseObject({
  tool: z.strictObject({ name: z.string(), version: z.string() }),
  experiment: z.literal('scan'),
  schemaVersion: z.literal(SCAN_SCHEMA_VERSION),
  model: z.looseObject({ id: z.string(), path: z.string(), format: z.string(), family: z.string(), nLayers: int, nHeads: int, backend: z.string() }),
  corpus: z.strictObject({ path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), nSamples: int }),
  settings: z.strictObject({
    layers: z.array(int.min(0)),
    heads: z.array(int.min(0)),
    compare: z.tuple([z.string(), z.string()]),
    markerToken: z.enum(['first', 'last']),
    controlDraws: int.min(1),
    controlRelWindow: z.number(),
    controlMinWindow: int.min(0),
    nPermutations: int.min(1),
    nBoot: int.min(1),
    alpha: z.number(),
  }),
  seed: int,
  startedAt: z.string(),
});

/** The whole results file (`--out x.json`). */
export const scanResultsSchema = z.strictObject({
  header: scanHeaderSchema,
  records: z.array(scanRecordSchema),
  summary: scanSummarySchema,
});

export type ScanLayerValues = z.infer<typeof scanLayerValuesSchema>;
export type ScanRecord = z.infer<typeof scanRecordSchema>;
export type ScanTestRow = z.infer<typeof scanTestRowSchema>;
export type ScanBest = z.infer<typeof scanBestSchema>;
export type ScanMetricStats = z.infer<typeof scanMetricStatsSchema>;
export type ScanComparison = z.infer<typeof scanComparisonSchema>;
export type ScanHeadRow = z.infer<typeof scanHeadRowSchema>;
export type ScanGroupSummary = z.infer<typeof scanGroupSummarySchema>;
export type ScanVerdict = z.infer<typeof scanVerdictSchema>;
export type ScanSummary = z.infer<typeof scanSummarySchema>;
export type ScanSettings = z.infer<typeof scanHeaderSchema>['settings'];
