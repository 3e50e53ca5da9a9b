/**
 * The attention-knockout experiment (issue #4): does REMOVING the attention from a test marker (Python
 * `>>>`, Rust `#[test]`) to the function's tokens change the model's next-token distribution more than
 * removing the same number of edges to random non-target tokens at a matched distance?
 *
 * For every sample and every analysis unit (a set of layers: each layer, all layers together, sliding
 * windows of consecutive layers):
 *   baseline      one forward pass, no edit
 *   knockout      scores marker → each visible target set to −∞ (all selected heads, the unit's layers)
 *   controls      the same number of edges from the marker to matched random keys, `controls` draws
 * each compared with the baseline at the marker position (KL in nats, top-1, top-k Jaccard, Δprob/Δlogit of
 * the baseline top token) and over the teacher-forced continuation (see knockout-samples.ts). All runs go
 * through forwardWithInterventions / runCondition (one code path; a unit's knockout and controls are rows of one batched pass). Samples whose targets all lie after the
 * marker (edges to future tokens, masked by causality) are recorded as not applicable, never run silently.
 *
 * @module
 */
import type { Corpus, CorpusSample } from '../../corpus/schema.ts';
import type { HookedModel } from '../../model/model.ts';
import { createRng } from '../../stats/rng.ts';
import { forwardWithInterventions, runCondition, type InterventionResult, type RunOutput } from '../../interventions/forward.ts';
import { resolveSpecs, type ResolvedEdit } from '../../interventions/spec.ts';
import { continuationNll } from '../../metrics/continuation.ts';
import { type Experiment, type ExperimentRun, OptionError, type RunExtras, splitRunOptions, checkContext, checkContextChars, runExperiment } from '../contract.ts';
import { prepareMarkerSample, sampleControls, selectSamples, type MarkerSample, type TargetMode } from '../shared/samples.ts';
import { analysisUnits, type UnitMode } from '../shared/units.ts';
import { KNOCKOUT_SCHEMA_VERSION, knockoutRecordSchema, knockoutSummarySchema, type ConditionResult, type KnockoutRecord, type KnockoutSummary, type KnockoutUnit, type NaRecord, type OkRecord } from './schema.ts';
import { summarizeKnockout, type KnockoutStatsOptions } from './stats.ts';
import { renderKnockoutSummary } from './render.ts';

export type KnockoutMode = UnitMode;

export interface KnockoutOptions extends Omit<KnockoutStatsOptions, 'seed'> {
  /** Layers to test (default: all). */
  layers?: readonly number[];
  /** Analysis units to build from `layers` (default ['per-layer']). */
  modes?: readonly KnockoutMode[];
  /** Width of the sliding window (consecutive layers) for mode 'window' (default 2). */
  window?: number;
  /** Query heads to knock out (default all). */
  heads?: readonly number[] | 'all';
  /** Control draws per sample (default 5). */
  controls?: number;
  /** Top-k size for the overlap metric (default 10). */
  topK?: number;
  /**
   * Which token of a multi-token marker is the source and the measured position (default 'last': the token
   * that has read the whole marker, `]` of `#[test]`; 'first' (PLIP-rs) measures the prediction of `test]`).
   */
  markerToken?: 'first' | 'last';
  /** Target tokens: whole function-identifier spans (default) or the corpus positions (see {@link TargetMode}). */
  targets?: TargetMode;
  /**
   * Keys below this token position are never knocked out nor used as controls (default 1: only BOS is
   * excluded). Use 2 to also leave the first content token alone when it acts as an attention sink.
   */
  minKey?: number;
  /** Restrict to these corpus groups (default: all). */
  groups?: readonly string[];
  /** At most this many samples per group (default: all). */
  limit?: number;
}

/** The settings that determine the records (recorded in the results header; compared on resume). */
export function knockoutSettings(model: HookedModel, opts: KnockoutOptions) {
  return {
    layers: [...(opts.layers ?? range(model.spec.nLayers))],
    modes: [...(opts.modes ?? (['per-layer'] as const))] as KnockoutMode[],
    window: opts.window ?? 2,
    heads: opts.heads === undefined || opts.heads === 'all' ? ('all' as const) : [...opts.heads],
    controls: opts.controls ?? 5,
    topK: opts.topK ?? 10,
    markerToken: opts.markerToken ?? ('last' as const),
    targets: opts.targets ?? ('spans' as const),
    minKey: opts.minKey ?? 1,
    groups: opts.groups ? [...opts.groups] : null,
    limit: opts.limit ?? null,
  };
}
type KnockoutSettings = ReturnType<typeof knockoutSettings>;

interface KnockoutConfig {
  settings: KnockoutSettings;
  units: KnockoutUnit[];
  stats: Omit<KnockoutStatsOptions, 'seed'>;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Checks layers, heads, counts. @throws OptionError naming the field */
export function checkMarkerOptions(model: HookedModel, o: { layers?: readonly number[]; heads?: readonly number[] | 'all'; minKey?: number; controls?: number; limit?: number | null; targets?: string; markerToken?: string }, what: string): void {
  const { nLayers, nHeads } = model.spec;
  if (o.targets !== undefined && o.targets !== 'spans' && o.targets !== 'corpus') throw new OptionError('targets', `must be 'spans' or 'corpus' (got '${o.targets}')`);
  if (o.markerToken !== undefined && o.markerToken !== 'first' && o.markerToken !== 'last') throw new OptionError('markerToken', `must be 'first' or 'last' (got '${o.markerToken}')`);
  for (const l of o.layers ?? []) if (!Number.isInteger(l) || l < 0 || l >= nLayers) throw new OptionError('layers', `layer ${l} is out of range (the model has layers 0..${nLayers - 1})`);
  if (o.layers && o.layers.length === 0) throw new OptionError('layers', 'no layers selected');
  if (o.heads && o.heads !== 'all') for (const h of o.heads) if (!Number.isInteger(h) || h < 0 || h >= nHeads) throw new OptionError('heads', `head ${h} is out of range (the model has heads 0..${nHeads - 1})`);
  if (o.minKey !== undefined && (!Number.isInteger(o.minKey) || o.minKey < 0)) throw new OptionError('minKey', `must be a non-negative integer (got ${o.minKey})`);
  if (o.controls !== undefined && (!Number.isInteger(o.controls) || o.controls < 1)) throw new OptionError('controls', `must be a positive integer (got ${o.controls})`);
  if (o.limit !== undefined && o.limit !== null && (!Number.isInteger(o.limit) || o.limit < 1)) throw new OptionError('limit', `must be a positive integer (got ${o.limit})`);
  if (!model.tokenizer) throw new Error(`model ${model.info.id} has no tokenizer; the ${what} experiment tokenizes corpus code`);
}

/** One corpus sample to run under every analysis unit. */
interface KnockoutItem {
  sample: CorpusSample;
  prepared: MarkerSample;
  steps: number;
  keys?: string[];
}

/** Prepares the selected samples, applying the context rule to each (errors name the sample). */
export function prepareCorpusItems(model: HookedModel, corpus: Corpus, o: { groups: string[] | null; limit: number | null; markerToken: 'first' | 'last'; targets?: TargetMode }, steps: number) {
  const samples = selectSamples(corpus, o);
  for (const s of samples) checkContextChars(model, s.id, s.code);
  return samples.map((sample) => {
    const prepared = prepareMarkerSample(model.tokenizer!, sample, o.markerToken, o.targets ?? 'corpus');
    checkContext(model, sample.id, prepared.ids.length);
    return { sample, prepared, steps };
  });
}

/** The attention-knockout experiment on the contract of src/experiments/contract.ts. */
export const knockoutExperiment: Experiment<Corpus, KnockoutOptions, KnockoutConfig, KnockoutItem, KnockoutRecord, KnockoutSummary> = {
  name: 'knockout',
  schemaVersion: KNOCKOUT_SCHEMA_VERSION,
  recomputes: true,
  recordSchema: knockoutRecordSchema,
  summarySchema: knockoutSummarySchema,
  source: (c) => ({ path: c.file ?? '<memory>', sha256: c.sha256, nSamples: c.samples.length }),
  configure(model, _corpus, opts) {
    checkMarkerOptions(model, opts, 'knockout');
    const settings = knockoutSettings(model, opts);
    const units = analysisUnits(settings.layers, settings.modes, settings.window);
    return { config: { settings, units, stats: { alpha: opts.alpha, nBoot: opts.nBoot, nPermutations: opts.nPermutations, primaryGroups: opts.primaryGroups } }, settings };
  },
  plan(model, corpus, cfg) {
    // record keys known in advance (as runItem writes them), so resume, sharding and merging can count items
    const items = prepareCorpusItems(model, corpus, cfg.settings, cfg.units.length).map((it) => ({
      ...it,
      keys: it.prepared.targets.some((t) => t >= cfg.settings.minKey) ? cfg.units.map((u) => `${it.sample.id}|${u.id}`) : [`${it.sample.id}|not-applicable`],
    }));
    return { items, skipped: [], caveats: [] };
  },
  runItem(item, ctx) {
    const st = ctx.config.settings;
    const units = ctx.config.units;
    const s = item.sample;
    const ks: MarkerSample = { ...item.prepared, targets: [...item.prepared.targets], notes: [...item.prepared.notes] };
    const below = ks.targets.filter((t) => t < st.minKey);
    if (below.length) {
      ks.targets = ks.targets.filter((t) => t >= st.minKey);
      ks.notes.push(`target token(s) ${below.join(', ')} below --min-key ${st.minKey}: not knocked out`);
    }
    if (ks.targets.length === 0) {
      const key = `${s.id}|not-applicable`;
      if (!ctx.has(key)) ctx.add(notApplicable(ks, key, below));
      for (let i = 0; i < units.length; i++) ctx.tick(s.id);
      return;
    }
    const todo = units.filter((u) => !ctx.has(`${s.id}|${u.id}`));
    for (let i = 0; i < units.length - todo.length; i++) ctx.tick(s.id);
    if (todo.length === 0) return;
    const tokens = ks.ids.slice(0, ks.continuationEnd + 1);
    const m = ks.marker.token;
    const ctl = sampleControls(ks, st.controls, createRng(ctx.seed, `knockout/controls/${s.id}`), st.minKey);
    const baseline = runCondition(ctx.model, tokens, [], [], m, st.topK);
    for (const u of todo) {
      const res = runConditions(ctx.model, ks, tokens, u, st.heads, ctl.draws, baseline, st.topK);
      ctx.add(record(ctx.model, ks, tokens, u, res, [...ks.notes, ...ctl.notes], baseline));
      ctx.tick(`${s.id} ${u.id}`);
    }
  },
  summarize: (records, ctx) => summarizeKnockout(records, ctx.config.units, ctx.plan.items.length, { ...ctx.config.stats, seed: ctx.seed, markerToken: ctx.config.settings.markerToken }),
  render: renderKnockoutSummary,
};

export interface KnockoutRun extends ExperimentRun<KnockoutRecord, KnockoutSummary, KnockoutConfig> {
  units: KnockoutUnit[];
  summary: KnockoutSummary;
}

/**
 * Runs the knockout experiment (library entry point): {@link runExperiment} with {@link knockoutExperiment}.
 * With `run.out` the records are written incrementally and an interrupted run resumes.
 */
export function runKnockout(model: HookedModel, corpus: Corpus, opts: KnockoutOptions & RunExtras = {}): KnockoutRun {
  const { options, run } = splitRunOptions<KnockoutOptions>(opts);
  const r = runExperiment(knockoutExperiment, model, corpus, { ...run, options });
  return { ...r, units: r.config.units, summary: r.summary! };
}

function baseFields(ks: MarkerSample, key: string) {
  return {
    key,
    id: ks.id,
    group: ks.group,
    language: ks.language,
    nTokens: ks.ids.length,
    marker: ks.marker,
    targets: ks.targets,
    futureTargets: ks.futureTargets,
  };
}

function notApplicable(ks: MarkerSample, key: string, below: number[]): NaRecord {
  const reason = below.length
    ? `not applicable: the visible target token(s) ${below.join(', ')} are below --min-key and the others (${ks.futureTargets.join(', ') || 'none'}) come after the marker token ${ks.marker.token}`
    : `not applicable (edges to future tokens): every target token (${ks.futureTargets.join(', ') || 'none'}) comes after the marker token ${ks.marker.token}, ` +
      'so the marker cannot attend to it under the causal mask and a knockout would be a no-op';
  return { ...baseFields(ks, key), notes: ks.notes, status: 'not_applicable', unit: null, reason };
}

/**
 * One unit's knockout and its controls, run together as rows of one batched {@link forwardWithInterventions}
 * call (one unit at a time keeps memory at (1 + controls) × [N, V] logits; a whole sweep at once would hold them all).
 */
function runConditions(
  model: HookedModel,
  ks: MarkerSample,
  tokens: number[],
  unit: KnockoutUnit,
  heads: 'all' | number[],
  controlDraws: number[][],
  baseline: RunOutput,
  topK: number,
): { knockout: ConditionResult; controls: ConditionResult[] } {
  const m = ks.marker.token;
  const prompt = tokens.slice(0, m + 1);
  const continuation = tokens.slice(m + 1);
  // future targets inside the run go through the API's masked-edge report (dropped and checked below)
  const future = ks.futureTargets.filter((t) => t < tokens.length);
  const keySets = [[ks.targets, future], ...controlDraws.map((keys) => [keys, [] as number[]])] as const;
  const conds: ResolvedEdit[][] = keySets.map(([keys, fut]) =>
    resolveSpecs([{ kind: 'knockout', layers: unit.layers, heads, edges: [{ sources: [m], targets: [...keys, ...fut] }] }], model, tokens.length, {
      onMaskedEdges: fut.length ? 'drop' : 'error',
    }),
  );
  const rs = forwardWithInterventions(model, prompt, conds, { baseline, continuation, topK, capturePatterns: false });
  const result = (r: InterventionResult, keys: number[], fut: readonly number[]): ConditionResult => {
    if (r.dropped.length !== fut.length) throw new Error(`internal: expected ${fut.length} dropped future edges, got ${r.dropped.length}`);
    const mt = r.metrics;
    const c = mt.continuation;
    return {
      keys,
      edges: r.edits.reduce((n, e) => n + e.edgesPerLayer * e.layers.length, 0),
      kl: mt.kl,
      top1: mt.top1Intervened,
      top1Changed: mt.top1Changed,
      topkJaccard: mt.topkJaccard,
      dProbTop1: mt.dProbTop1,
      dLogitTop1: mt.dLogitTop1,
      continuation: c ? { dMeanNll: c.dMeanNll, dPpl: c.dPpl, klMean: c.klMean, dNll: c.dNll } : null,
    };
  };
  return { knockout: result(rs[0]!, ks.targets, future), controls: controlDraws.map((keys, c) => result(rs[1 + c]!, keys, [])) };
}

function record(
  model: HookedModel,
  ks: MarkerSample,
  tokens: number[],
  unit: KnockoutUnit,
  { knockout, controls }: { knockout: ConditionResult; controls: ConditionResult[] },
  notes: string[],
  baseline: RunOutput,
): OkRecord {
  const m = ks.marker.token;
  const continuation = tokens.slice(m + 1);
  const mean = (f: (c: ConditionResult) => number) => controls.reduce((s, c) => s + f(c), 0) / controls.length;
  const hasCont = knockout.continuation !== null;
  const controlMean = {
    kl: mean((c) => c.kl),
    dProbTop1: mean((c) => c.dProbTop1),
    dLogitTop1: mean((c) => c.dLogitTop1),
    top1ChangedRate: mean((c) => (c.top1Changed ? 1 : 0)),
    topkJaccard: mean((c) => c.topkJaccard),
    dPpl: hasCont ? mean((c) => c.continuation!.dPpl) : null,
  };
  const top = baseline.topk[0]!;
  const meanNll = continuation.length ? mean1(continuationNll(baseline.logits.data, model.spec.vocabSize, tokens, m, tokens.length - 1)) : null;
  const tok = model.tokenizer!;
  return {
    ...baseFields(ks, `${ks.id}|${unit.id}`),
    notes,
    status: 'ok',
    unit,
    seqLen: tokens.length,
    continuation: continuation.length ? { from: m, to: tokens.length - 1, text: ks.continuationText } : null,
    baseline: { top1: top.id, top1Text: tok.tokenText(top.id), probTop1: top.prob, meanNll, ppl: meanNll === null ? null : Math.exp(meanNll) },
    knockout,
    controls,
    controlMean,
    diff: { kl: knockout.kl - controlMean.kl, dPpl: hasCont ? knockout.continuation!.dPpl - controlMean.dPpl! : null },
  };
}

function mean1(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s / xs.length;
}
