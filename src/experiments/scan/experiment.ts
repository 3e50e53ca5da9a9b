/**
 * Layer scan (GitHub issue #3, "Observe"): attention from a test marker (`>>>`, `#[test]`) to the tokens of
 * the function it tests, for every layer and head, from ONE forward pass per sample; null models for
 * distance dilution; per-layer statistics with multiple-comparison correction. Results schema:
 * docs/experiments/scan.md (zod: ./schema.ts).
 *
 * Definitions (m = marker token index, A = the marker's attention row A[k], k = 0..m, keys after m are 0):
 * - observed = (1/|T|) Σ_{t∈T, t≤m} A[t], T = unique target tokens (targets after the marker contribute 0).
 * - observedNoSink: the same with key 0 removed and the row renormalised over keys 1..m:
 *   A'[k] = A[k] / Σ_{j=1..m} A[j]; T' = T without token 0.
 * - uniformNull = (#{t∈T : t≤m} / |T|) · 1/(m+1) — the expected `observed` if the marker attended uniformly
 *   to its m+1 visible keys; uniformNullNoSink = (#{t∈T' : t≤m} / |T'|) · 1/m.
 * - control = mean over draws of (1/|T|) Σ_i A[c_i], c_i a random non-target token at a distance from the
 *   marker similar to visible target i's (../shared/controls.ts: distinct keys inside a draw; no control when
 *   there are fewer candidates than visible targets); controlNoSink = mean over draws of
 *   (1/|T'|) Σ_{i: V_i ≥ 1} A'[c_i] (the controls of the targets that count in observedNoSink).
 * Token indices include BOS (src/tokenize/positions.ts handles the shift).
 *
 * @module
 */
import type { Corpus, CorpusSample } from '../../corpus/schema.ts';
import type { Hook } from '../../hooks/types.ts';
import type { HookedModel } from '../../model/model.ts';
import { createRng } from '../../stats/rng.ts';
import { type MarkerTokenChoice, mapSample } from '../../corpus/positions.ts';
import { type Experiment, type ExperimentRun, OptionError, type RunExtras, splitRunOptions, checkContext, checkContextChars, runExperiment } from '../contract.ts';
import { CONTROL_TOLERANCE, drawMatchedControls } from '../shared/controls.ts';
import { SCAN_SCHEMA_VERSION, scanRecordSchema, scanSummarySchema, type ScanLayerValues, type ScanRecord, type ScanSettings, type ScanSummary } from './schema.ts';
import { compareGroups, summarizeGroups, verdicts } from './stats.ts';
import { renderScanReport } from './render.ts';

/** Default number of control draws per sample. */
export const SCAN_CONTROL_DRAWS = 16;

/** Options of the scan. Layers and heads are model indices (0-based). */
export interface ScanOptions {
  /** Layers to scan (default: all). */
  layers?: number[];
  /** Heads to record and average (default: all). */
  heads?: number[];
  /** The two groups compared (default `['python_doctest', 'rust_test']`). */
  compare?: [string, string];
  markerToken?: MarkerTokenChoice;
  /** Control draws per sample (default 16). */
  controls?: number;
  controlRelWindow?: number;
  controlMinWindow?: number;
  /** Monte Carlo permutations per test (default 9999; exact enumeration when smaller than the number of splits). */
  nPermutations?: number;
  /** Bootstrap resamples for the CI of Hedges' g (default 4999). */
  nBoot?: number;
  /** Significance level of the verdicts (default 0.05). */
  alpha?: number;
}

/** Result of {@link runScan}. */
export type ScanResults = ExperimentRun<ScanRecord, ScanSummary, ScanSettings>;

/** Resolved settings (recorded in the header; compared on resume). */
export function scanSettings(model: HookedModel, corpus: Corpus, o: ScanOptions): ScanSettings {
  const { nLayers, nHeads } = model.spec;
  const layers = [...new Set(o.layers ?? Array.from({ length: nLayers }, (_, i) => i))].sort((a, b) => a - b);
  const heads = [...new Set(o.heads ?? Array.from({ length: nHeads }, (_, i) => i))].sort((a, b) => a - b);
  for (const l of layers) if (!Number.isInteger(l) || l < 0 || l >= nLayers) throw new OptionError('layers', `layer ${l} is out of range (the model has layers 0..${nLayers - 1})`);
  for (const h of heads) if (!Number.isInteger(h) || h < 0 || h >= nHeads) throw new OptionError('heads', `head ${h} is out of range (the model has heads 0..${nHeads - 1})`);
  if (layers.length === 0 || heads.length === 0) throw new OptionError(layers.length === 0 ? 'layers' : 'heads', 'at least one layer and one head must be scanned');
  const compare = o.compare ?? ['python_doctest', 'rust_test'];
  for (const g of compare) {
    if (!corpus.groups.includes(g)) throw new OptionError('compare', `group '${g}' is not in the corpus (groups: ${corpus.groups.join(', ')}); choose two groups A,B`);
  }
  if (compare[0] === compare[1]) throw new OptionError('compare', `needs two different groups (got '${compare[0]}' twice)`);
  const posInt = (v: number | undefined, d: number, what: string, min = 1) => {
    const x = v ?? d;
    if (!Number.isInteger(x) || x < min) throw new OptionError(what, `must be an integer ≥ ${min} (got ${x})`);
    return x;
  };
  const alpha = o.alpha ?? 0.05;
  if (!(alpha > 0 && alpha < 1)) throw new OptionError('alpha', `must be in (0, 1) (got ${alpha})`);
  return {
    layers,
    heads,
    compare: [compare[0], compare[1]],
    markerToken: o.markerToken ?? 'first',
    controlDraws: posInt(o.controls, SCAN_CONTROL_DRAWS, 'controls'),
    controlRelWindow: o.controlRelWindow ?? CONTROL_TOLERANCE.rel,
    controlMinWindow: posInt(o.controlMinWindow, CONTROL_TOLERANCE.min, 'controlMinWindow', 0),
    nPermutations: posInt(o.nPermutations, 9999, 'nPermutations'),
    nBoot: posInt(o.nBoot, 4999, 'nBoot'),
    alpha,
  };
}

/**
 * Marker-row attention of one sample, for every scanned layer: ONE forward pass, with a read-only hook on
 * `attn.hook_pattern` that copies the marker's row (all heads). Returns rows[layer index in `layers`][head] =
 * Float32Array of length S (all keys; entries after the marker are causal zeros).
 */
export function markerRows(model: HookedModel, ids: number[], marker: number, layers: readonly number[]): Float32Array[][] {
  const want = new Map(layers.map((l, i) => [`blocks.${l}.attn.hook_pattern`, i]));
  const rows: Float32Array[][] = layers.map(() => []);
  const hook: Hook = {
    name: (n) => want.has(n),
    fn: (t, ctx) => {
      const [, H, T, S] = t.shape as [number, number, number, number];
      const q = ctx.queryPositions.indexOf(marker);
      if (q < 0) throw new Error(`internal: marker token ${marker} is not among the query positions`);
      const li = want.get(ctx.name)!;
      for (let h = 0; h < H; h++) rows[li]![h] = t.data.slice((h * T + q) * S, (h * T + q + 1) * S);
    },
  };
  model.runWithHooks(ids, [hook], { logits: 'none' });
  return rows;
}

const meanOrNull = (xs: (number | null)[]): number | null => (xs.some((x) => x === null) ? null : xs.reduce<number>((s, x) => s + x!, 0) / xs.length);

/**
 * Scans one sample: tokenization, position mapping, one forward pass, per layer × head values.
 * Deterministic given (model, sample, settings, seed).
 */
export function scanSample(model: HookedModel, sample: CorpusSample, settings: ScanSettings, seed: number): ScanRecord {
  const tok = model.tokenizer;
  if (!tok) throw new Error(`model ${model.info.id} has no tokenizer; the scan needs one to map character positions to tokens`);
  const enc = tok.encodeWithOffsets(sample.code);
  checkContext(model, sample.id, enc.ids.length);
  const map = mapSample(tok, sample, { enc, markerToken: settings.markerToken });
  const m = map.marker.token;
  const T = map.targetTokens;
  const visible = map.visibleTargetTokens;
  const Tns = T.filter((t) => t >= 1);
  const visibleNs = visible.filter((t) => t >= 1);
  const notes: string[] = [];

  const exclude = new Set<number>(map.marker.patternTokens);
  enc.offsets.forEach(([s, e], i) => {
    if (enc.special[i] || e <= s) exclude.add(i);
  });
  const drawn = drawMatchedControls(m, visible, exclude, settings.controlDraws, createRng(seed, `scan-control/${sample.id}`), {
    tolerance: { rel: settings.controlRelWindow, min: settings.controlMinWindow },
  });
  // a control needs one distinct candidate per visible target (../shared/controls.ts)
  const ctrl = { tokens: drawn.pool >= visible.length ? drawn.draws : [] };
  if (visible.length > 0 && drawn.pool < visible.length) notes.push(`control: only ${drawn.pool} candidate control token(s) for ${visible.length} visible target(s) (candidates: keys ≥ 1 before the marker that are not targets, marker or special tokens): no control`);
  const uniformNull = (visible.length / T.length) * (1 / (m + 1));
  const uniformNullNoSink = m >= 1 && Tns.length > 0 ? (visibleNs.length / Tns.length) * (1 / m) : null;
  if (uniformNullNoSink === null) notes.push('no keys ≥ 1 visible to the marker or no target ≥ 1: no-sink values undefined');

  const rows = markerRows(model, enc.ids, m, settings.layers);
  const layers: ScanLayerValues[] = settings.layers.map((layer, li) => {
    const obs: number[] = [];
    const obsNs: (number | null)[] = [];
    const con: (number | null)[] = [];
    const conNs: (number | null)[] = [];
    const sink: number[] = [];
    for (const h of settings.heads) {
      const A = rows[li]![h]!;
      let total = 0;
      let rest = 0;
      for (let k = 0; k <= m; k++) total += A[k]!;
      for (let k = 1; k <= m; k++) rest += A[k]!;
      let leak = 0;
      for (let k = m + 1; k < A.length; k++) leak = Math.max(leak, Math.abs(A[k]!));
      if (Math.abs(total - 1) > 1e-4 || leak > 0) notes.push(`layer ${layer} head ${h}: marker row sums to ${total} over visible keys, max |value| after the marker ${leak}`);
      let s = 0;
      for (const t of visible) s += A[t]!;
      obs.push(s / T.length);
      sink.push(A[0]!);
      const okNs = uniformNullNoSink !== null && rest > 0;
      let sNs = 0;
      for (const t of visibleNs) sNs += A[t]!;
      obsNs.push(okNs ? sNs / rest / Tns.length : null);
      if (visible.length > 0 && ctrl.tokens.length === 0) {
        con.push(null);
        conNs.push(null);
      } else {
        // With sink: controls of every visible target. Without: only of visible targets ≥ 1 (as for observedNoSink).
        let c = 0;
        let cNs = 0;
        for (const draw of ctrl.tokens) {
          draw.forEach((k, i) => {
            c += A[k]!;
            if (visible[i]! >= 1) cNs += A[k]!;
          });
        }
        const D = ctrl.tokens.length;
        con.push(D ? c / D / T.length : 0);
        conNs.push(okNs ? (D ? cNs / D / rest / Tns.length : 0) : null);
      }
    }
    return {
      layer,
      observed: obs,
      observedNoSink: obsNs,
      control: con,
      controlNoSink: conNs,
      sink,
      mean: { observed: meanOrNull(obs)!, observedNoSink: meanOrNull(obsNs), control: meanOrNull(con), controlNoSink: meanOrNull(conNs), sink: meanOrNull(sink)! },
    };
  });
  if (visible.length === 0) notes.push(`every target token is after the marker token ${m}: causal attention to the targets is 0 by construction`);
  if (map.marker.merged) notes.push(`marker token is merged: ${map.marker.mergedReason}`);
  const nearest = map.targets.filter((t) => !t.exact).length;
  if (nearest) notes.push(`${nearest} target(s) mapped to the nearest token (no token contains the character)`);

  return {
    key: sample.id,
    id: sample.id,
    group: sample.group,
    language: sample.language,
    nTokens: map.nTokens,
    marker: {
      charPos: map.marker.charPos,
      pattern: map.marker.pattern,
      token: m,
      exact: map.marker.exact,
      merged: map.marker.merged,
      mergedReason: map.marker.mergedReason,
      tokenText: map.marker.tokenText,
      patternTokens: map.marker.patternTokens,
    },
    targets: map.targets.map((t) => ({ charPos: t.charPos, token: t.token, exact: t.exact, tokenText: t.tokenText, afterMarker: t.afterMarker, duplicate: t.duplicate })),
    targetTokens: T,
    visibleTargetTokens: visible,
    zeroByConstruction: visible.length === 0,
    controlTokens: ctrl.tokens,
    uniformNull,
    uniformNullNoSink,
    layers,
    notes,
  };
}

/** Statistics and warnings over finished records. */
export function summarizeScan(records: readonly ScanRecord[], corpus: Corpus, settings: ScanSettings, seed: number): ScanSummary {
  const [a, b] = settings.compare;
  const o = { seed, nPermutations: settings.nPermutations, nBoot: settings.nBoot, alpha: settings.alpha };
  const comparisons = [compareGroups(records, a, b, settings.layers, settings.heads, true, o)];
  for (const g of [a, b]) {
    const baseline = `${g.split('_')[0]}_baseline`;
    if (baseline !== g && corpus.groups.includes(baseline) && records.some((r) => r.group === baseline)) {
      comparisons.push(compareGroups(records, g, baseline, settings.layers, settings.heads, false, o));
    }
  }
  const warnings: string[] = [];
  const groups = summarizeGroups(records, corpus.groups, settings.layers);
  for (const [g, s] of Object.entries(groups)) {
    if (s.zeroByConstruction > 0) {
      const ids = records.filter((r) => r.group === g && r.zeroByConstruction).map((r) => r.id);
      warnings.push(
        `group '${g}': ${s.zeroByConstruction}/${s.n} sample(s) have every target token after the marker token, so causal attention to the targets is 0 by construction (ratios undefined): ${ids.join(', ')}`,
      );
    }
    if (s.markersMerged > 0) {
      const ids = records.filter((r) => r.group === g && r.marker.merged).map((r) => r.id);
      warnings.push(`group '${g}': ${s.markersMerged}/${s.n} marker(s) land on a token merged with text outside the marker: ${ids.join(', ')}`);
    }
  }
  for (const g of [a, b]) if ((groups[g]?.n ?? 0) < 2) warnings.push(`group '${g}' has ${groups[g]?.n ?? 0} sample(s); tests need at least 2 per group`);
  const bad = records.filter((r) => r.notes.some((n) => n.includes('marker row sums')));
  if (bad.length) warnings.push(`attention rows violate the softmax invariants for: ${bad.map((r) => r.id).join(', ')} (see record notes)`);
  const notes = [
    'p-values: two-sided; corrections (Holm, BH) across the layers scanned, separately per metric and test; per-head tests corrected across all layer × head cells.',
    'Ratios are per sample: head-averaged observed / the sample\'s null; samples where the null is 0 (targets after the marker) are left out of ratio tests.',
    ...corpus.warnings.map((w) => `corpus: ${w}`),
  ];
  const primary = comparisons[0]!;
  const reach = scanReach(groups[a]?.n ?? 0, groups[b]?.n ?? 0, settings.layers.length, settings.nPermutations, settings.alpha);
  if (!reach.reachable) warnings.push(`with ${reach.nA} vs ${reach.nB} samples and Holm over ${reach.tests} layers the smallest reachable permutation p is ${reach.permutationMinP.toPrecision(3)} ≥ α = ${settings.alpha}; add samples or scan fewer layers`);
  return { alpha: settings.alpha, comparisons, bestLayer: primary.metrics.observed.best, verdict: verdicts(primary, settings.alpha), groups, warnings, notes, reach };
}

/**
 * Smallest Holm-adjusted p the primary comparison's rank and permutation tests can reach: Mann–Whitney
 * exact two-sided 2/C(nA+nB, nA), permutation max(1/(B+1), 2/C(nA+nB, nA)), each × the layers scanned.
 * Welch's t (the verdict's test) is parametric and has no design floor; it is reported as null.
 */
export function scanReach(nA: number, nB: number, layers: number, nPermutations: number, alpha: number) {
  let logC = 0;
  for (let i = 1; i <= Math.min(nA, nB); i++) logC += Math.log(nA + nB - Math.min(nA, nB) + i) - Math.log(i);
  const mw = nA && nB ? Math.min(1, layers * 2 * Math.exp(-logC)) : 1;
  const perm = nA && nB ? Math.min(1, layers * Math.max(1 / (nPermutations + 1), 2 * Math.exp(-logC))) : 1;
  return { alpha, tests: layers, nA, nB, welchMinP: null, mannWhitneyMinP: mw, permutationMinP: perm, reachable: perm < alpha };
}

/** One corpus sample. */
interface ScanItem {
  sample: CorpusSample;
  steps: number;
  keys: string[];
}

/** The layer scan on the contract of src/experiments/contract.ts. */
export const scanExperiment: Experiment<Corpus, ScanOptions, ScanSettings, ScanItem, ScanRecord, ScanSummary> = {
  name: 'scan',
  schemaVersion: SCAN_SCHEMA_VERSION,
  recordSchema: scanRecordSchema,
  summarySchema: scanSummarySchema,
  source: (c) => ({ path: c.file ?? '<memory>', sha256: c.sha256, nSamples: c.samples.length }),
  configure(model, corpus, o) {
    const settings = scanSettings(model, corpus, o);
    if (!model.tokenizer) throw new Error(`model ${model.info.id} has no tokenizer; the scan needs one to map character positions to tokens`);
    return { config: settings, settings: settings as unknown as Record<string, unknown> };
  },
  plan(model, corpus) {
    for (const s of corpus.samples) checkContextChars(model, s.id, s.code);
    for (const s of corpus.samples) checkContext(model, s.id, model.tokenizer!.encode(s.code).length);
    return { items: corpus.samples.map((sample) => ({ sample, steps: 1, keys: [sample.id] })), skipped: [], caveats: [] };
  },
  runItem(item, ctx) {
    if (!ctx.has(item.sample.id)) ctx.add(scanSample(ctx.model, item.sample, ctx.config, ctx.seed));
    ctx.tick(item.sample.id);
  },
  summarize: (records, ctx) => summarizeScan(records, ctx.input, ctx.config, ctx.seed),
  render: (summary, run) => renderScanReport({ ...run, summary }),
  orderRecords(records, plan) {
    const m = new Map(records.map((x) => [x.key, x]));
    return plan.items.map((it) => m.get(it.sample.id)).filter((x): x is ScanRecord => x !== undefined);
  },
};

/**
 * Runs the layer scan over every sample of the corpus (all groups), then the statistics: {@link runExperiment}
 * with {@link scanExperiment}. With `run.out` the records are written incrementally and a crashed or stopped
 * run resumes (no sample lost or duplicated); the final file is `{header, records, summary}` (docs/experiments/scan.md).
 */
export function runScan(model: HookedModel, corpus: Corpus, opts: ScanOptions & RunExtras = {}): ScanResults {
  const { options, run } = splitRunOptions<ScanOptions>(opts);
  return runExperiment(scanExperiment, model, corpus, { ...run, options });
}
