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
 * through forwardWithIntervention / runCondition (one code path). Samples whose targets all lie after the
 * marker (edges to future tokens, masked by causality) are recorded as not applicable, never run silently.
 *
 * @module
 */
import type { Corpus } from '../corpus/schema.ts';
import type { HookedModel } from '../model/model.ts';
import type { ResultsStore } from '../report/results.ts';
import { createRng } from '../stats/rng.ts';
import { forwardWithIntervention, runCondition, type RunOutput } from '../interventions/forward.ts';
import { continuationNll } from '../metrics/continuation.ts';
import { drawControls, prepareKnockoutSample, type KnockoutSample } from './knockout-samples.ts';
import type { ConditionResult, KnockoutRecord, KnockoutSummary, KnockoutUnit, NaRecord, OkRecord } from './knockout-schema.ts';
import { summarizeKnockout, type KnockoutStatsOptions } from './knockout-stats.ts';

export type KnockoutMode = KnockoutUnit['mode'];

export interface KnockoutOptions extends KnockoutStatsOptions {
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
  /** Seed of the control stream `knockout/controls/<sample id>` and of the statistics streams (default 0). */
  seed?: number;
  /** Top-k size for the overlap metric (default 10). */
  topK?: number;
  /** Which token of a multi-token marker is the source (default 'first', as PLIP-rs). */
  markerToken?: 'first' | 'last';
  /**
   * Keys below this token position are never knocked out nor used as controls (default 1: only BOS is
   * excluded). Use 2 to also leave the first content token alone when it acts as an attention sink.
   */
  minKey?: number;
  /** Restrict to these corpus groups (default: all). */
  groups?: readonly string[];
  /** At most this many samples per group (default: all). */
  limit?: number;
  /** Resumable store: finished records are skipped and new ones appended durably. */
  store?: ResultsStore<KnockoutRecord>;
  /** Called after each (sample, unit). */
  onProgress?: (label: string) => void;
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
    markerToken: opts.markerToken ?? ('first' as const),
    minKey: opts.minKey ?? 1,
    groups: opts.groups ? [...opts.groups] : null,
    limit: opts.limit ?? null,
  };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Analysis units: 'per-layer' → one per layer; 'all-layers' → all `layers` together; 'window' → every run
 * of `window` consecutive model layers that lies inside `layers`.
 */
export function knockoutUnits(layers: readonly number[], modes: readonly KnockoutMode[], window: number): KnockoutUnit[] {
  const sorted = [...new Set(layers)].sort((a, b) => a - b);
  const set = new Set(sorted);
  const out: KnockoutUnit[] = [];
  for (const mode of modes) {
    if (mode === 'per-layer') for (const l of sorted) out.push({ id: `L${l}`, mode, layers: [l] });
    else if (mode === 'all-layers') out.push({ id: 'all', mode, layers: sorted });
    else {
      if (!Number.isInteger(window) || window < 1) throw new Error(`--window must be a positive integer (got ${window})`);
      for (const a of sorted) {
        const w = range(window).map((i) => a + i);
        if (w.every((l) => set.has(l))) out.push({ id: `W${a}-${a + window - 1}`, mode, layers: w });
      }
    }
  }
  if (out.length === 0) throw new Error(`no analysis units: no window of ${window} consecutive layers inside the selected layers [${sorted.join(', ')}]`);
  return out;
}

function checkOptions(model: HookedModel, o: KnockoutOptions): void {
  const { nLayers, nHeads } = model.spec;
  for (const l of o.layers ?? []) if (!Number.isInteger(l) || l < 0 || l >= nLayers) throw new Error(`--layers: layer ${l} is out of range (the model has layers 0..${nLayers - 1})`);
  if (o.layers && o.layers.length === 0) throw new Error('--layers: no layers selected');
  if (o.heads && o.heads !== 'all') for (const h of o.heads) if (!Number.isInteger(h) || h < 0 || h >= nHeads) throw new Error(`--heads: head ${h} is out of range (the model has heads 0..${nHeads - 1})`);
  if (o.minKey !== undefined && (!Number.isInteger(o.minKey) || o.minKey < 0)) throw new Error(`--min-key must be a non-negative integer (got ${o.minKey})`);
  if (o.controls !== undefined && (!Number.isInteger(o.controls) || o.controls < 1)) throw new Error(`--controls must be a positive integer (got ${o.controls})`);
  if (!model.tokenizer) throw new Error(`model ${model.info.id} has no tokenizer; the knockout experiment tokenizes corpus code`);
}

/** Samples of the corpus selected by `groups` / `limit`, in corpus order. */
export function selectSamples(corpus: Corpus, o: Pick<KnockoutOptions, 'groups' | 'limit'>) {
  if (o.groups) for (const g of o.groups) if (!corpus.groups.includes(g)) throw new Error(`--groups: corpus has no group '${g}' (groups: ${corpus.groups.join(', ')})`);
  const perGroup = new Map<string, number>();
  return corpus.samples.filter((s) => {
    if (o.groups && !o.groups.includes(s.group)) return false;
    const n = perGroup.get(s.group) ?? 0;
    perGroup.set(s.group, n + 1);
    return o.limit === undefined || n < o.limit;
  });
}

export interface KnockoutRun {
  units: KnockoutUnit[];
  records: KnockoutRecord[];
  summary: KnockoutSummary;
  /** Records recovered from an interrupted run. */
  resumed: number;
}

/** Number of (sample, unit) steps {@link runKnockout} reports progress for. */
export function knockoutSteps(corpus: Corpus, model: HookedModel, opts: KnockoutOptions): number {
  const s = knockoutSettings(model, opts);
  return selectSamples(corpus, opts).length * knockoutUnits(s.layers, s.modes, s.window).length;
}

/** Runs the experiment (resuming from `opts.store` when it holds records) and computes the statistics. */
export function runKnockout(model: HookedModel, corpus: Corpus, opts: KnockoutOptions = {}): KnockoutRun {
  checkOptions(model, opts);
  const st = knockoutSettings(model, opts);
  const units = knockoutUnits(st.layers, st.modes, st.window);
  const seed = opts.seed ?? 0;
  const local = new Map<string, KnockoutRecord>();
  const has = (k: string) => (opts.store ? opts.store.has(k) : local.has(k));
  const add = (r: KnockoutRecord) => (opts.store ? opts.store.add(r) : local.set(r.key, r));
  const tok = model.tokenizer!;
  const samples = selectSamples(corpus, opts);

  for (const s of samples) {
    const ks = prepareKnockoutSample(tok, s, model.spec.nCtx, st.markerToken);
    const below = ks.targets.filter((t) => t < st.minKey);
    if (below.length) {
      ks.targets = ks.targets.filter((t) => t >= st.minKey);
      ks.notes.push(`target token(s) ${below.join(', ')} below --min-key ${st.minKey}: not knocked out`);
    }
    if (ks.targets.length === 0) {
      const key = `${s.id}|not-applicable`;
      if (!has(key)) add(notApplicable(ks, key, below));
      for (let i = 0; i < units.length; i++) opts.onProgress?.(s.id);
      continue;
    }
    const todo = units.filter((u) => !has(`${s.id}|${u.id}`));
    for (let i = 0; i < units.length - todo.length; i++) opts.onProgress?.(s.id);
    if (todo.length === 0) continue;
    const tokens = ks.ids.slice(0, ks.continuationEnd + 1);
    const m = ks.marker.token;
    const ctl = drawControls(ks, st.controls, createRng(seed, `knockout/controls/${s.id}`), st.minKey);
    const baseline = runCondition(model, tokens, [], [], m, st.topK);
    for (const u of todo) {
      add(measure(model, ks, tokens, u, st.heads, ctl.draws, [...ks.notes, ...ctl.notes], baseline, st.topK));
      opts.onProgress?.(`${s.id} ${u.id}`);
    }
  }
  const records = opts.store ? opts.store.records() : [...local.values()];
  const summary = summarizeKnockout(records, units, samples.length, { ...opts, seed });
  return { units, records, summary, resumed: opts.store?.resumed ?? 0 };
}

function baseFields(ks: KnockoutSample, key: string) {
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

function notApplicable(ks: KnockoutSample, key: string, below: number[]): NaRecord {
  const reason = below.length
    ? `not applicable: the visible target token(s) ${below.join(', ')} are below --min-key and the others (${ks.futureTargets.join(', ') || 'none'}) come after the marker token ${ks.marker.token}`
    : `not applicable (edges to future tokens): every target token (${ks.futureTargets.join(', ') || 'none'}) comes after the marker token ${ks.marker.token}, ` +
      'so the marker cannot attend to it under the causal mask and a knockout would be a no-op';
  return { ...baseFields(ks, key), notes: ks.notes, status: 'not_applicable', unit: null, reason };
}

function measure(
  model: HookedModel,
  ks: KnockoutSample,
  tokens: number[],
  unit: KnockoutUnit,
  heads: 'all' | number[],
  controlDraws: number[][],
  notes: string[],
  baseline: RunOutput,
  topK: number,
): OkRecord {
  const m = ks.marker.token;
  const prompt = tokens.slice(0, m + 1);
  const continuation = tokens.slice(m + 1);
  const cond = (keys: number[], future: number[]): ConditionResult => {
    const r = forwardWithIntervention(model, prompt, [{ kind: 'knockout', layers: unit.layers, heads, edges: [{ sources: [m], targets: [...keys, ...future] }] }], {
      baseline,
      continuation,
      topK,
      capturePatterns: false,
      onMaskedEdges: future.length ? 'drop' : 'error',
    });
    if (r.dropped.length !== future.length) throw new Error(`internal: expected ${future.length} dropped future edges, got ${r.dropped.length}`);
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
  // future targets inside the run go through the API's masked-edge report (dropped and checked above)
  const knockout = cond(ks.targets, ks.futureTargets.filter((t) => t < tokens.length));
  const controls = controlDraws.map((keys) => cond(keys, []));
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
