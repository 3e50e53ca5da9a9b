/**
 * forwardWithIntervention: baseline and intervened forward passes through the SAME code path
 * (`model.runWithCache` with and without the edit hooks), plus the comparison metrics.
 *
 * Positions: `ids` is the prompt (absolute token positions 0..P, BOS included); the distribution compared
 * is the next-token prediction at P = ids.length − 1. An optional teacher-forced `continuation` is appended
 * (positions P+1..) and scored at positions P..end−1 (see src/metrics/continuation.ts). Edits are validated
 * against the full length (prompt + continuation).
 *
 * @module
 */
import type { Hook } from '../hooks/types.ts';
import type { ActivationCache } from '../hooks/cache.ts';
import type { HookedModel } from '../model/model.ts';
import { Tensor } from '../tensor/tensor.ts';
import { compareDistributions, logSoftmax, LogProbRows, topK, type DistributionComparison, type TokenProb } from '../metrics/distribution.ts';
import { compareContinuation, type ContinuationComparison } from '../metrics/continuation.ts';
import { attentionEdit } from './attention.ts';
import { baselineStateHooks, fullRecomputeByDefault, runConditionsIncremental, scopeOfEdits, type BaselineState, type ConditionOutput } from './incremental.ts';
export { withFullRecompute } from './incremental.ts';
import { resolveSpecs, type AttentionMaskSpec, type MaskedEdge, type ResolvedEdit } from './spec.ts';

export interface InterventionOptions {
  /** Size of the top-k lists and of the top-k overlap (default 10). */
  topK?: number;
  /** Teacher-forced continuation token ids appended after `ids` (scored at every position from P on). */
  continuation?: readonly number[];
  /** Explicitly listed masked (future) edges: `'error'` (default) or `'drop'` (removed, listed in `dropped`). */
  onMaskedEdges?: 'error' | 'drop';
  /** Capture `hook_pattern` of the edited layers in both runs (default true). */
  capturePatterns?: boolean;
  /** Extra activations to capture in both runs (full hook names or per-layer suffixes). */
  capture?: readonly string[];
  /** A baseline from {@link runCondition} on the same tokens, to skip recomputing it (e.g. many edits of one prompt). */
  baseline?: RunOutput;
  /**
   * Recompute the intervened run in full instead of only what the edit changes (src/interventions/incremental.ts:
   * positions ≥ the first edited query, layers ≥ the first edited layer; equal within 1e-5). Default false.
   */
  fullRecompute?: boolean;
  /** Conditions per batched forward pass in {@link forwardWithInterventions} (default 8). */
  batchSize?: number;
}

/** One forward pass (baseline or intervened). */
export interface RunOutput {
  /** [1, N, V] logits for every position of the full sequence (prompt + continuation). */
  logits: Tensor;
  /** Captured hook_pattern of edited layers, by layer ([1, H, N, N]). */
  patterns: Record<number, Tensor>;
  /** Everything captured (patterns and `capture` names). */
  cache: ActivationCache;
  /** Top-k next-token predictions at the prompt's last position P. */
  topk: TokenProb[];
  /** Baseline runs (no hooks): the K/V cache and residual streams edited conditions reuse (incremental.ts). */
  state?: BaselineState;
  /** Intervened runs: whether only what the edit changes was recomputed. */
  incremental?: boolean;
}

export interface InterventionResult {
  /** The full sequence run: prompt + continuation. */
  tokens: number[];
  /** Prediction position P = ids.length − 1 (absolute token position). */
  position: number;
  edits: ResolvedEdit[];
  /** Masked edges removed under `onMaskedEdges: 'drop'` (never silently applied). */
  dropped: MaskedEdge[];
  baseline: RunOutput;
  intervened: RunOutput;
  metrics: DistributionComparison & { continuation: ContinuationComparison | null };
}

function isResolved(x: AttentionMaskSpec | ResolvedEdit): x is ResolvedEdit {
  return Array.isArray((x as ResolvedEdit).rules);
}

/**
 * One forward pass over `tokens` with `hooks`, capturing `captureNames` (after the hooks, so edited
 * tensors are what is captured). Baseline = `hooks: []`. Both runs of an experiment use this function.
 * A baseline (no hooks) also keeps its K/V cache and residual streams (`state`) for incremental conditions.
 */
export function runCondition(model: HookedModel, tokens: readonly number[], hooks: readonly Hook[], captureNames: readonly string[], position: number, k: number): RunOutput {
  const keep = hooks.length === 0 ? baselineStateHooks(model, tokens) : null;
  const res = model.runWithCache(tokens, { names: captureNames.length ? captureNames : () => false }, { hooks: keep ? keep.hooks : hooks, logits: 'all', kvCache: keep?.kv });
  return output(model, res.logits!, res.cache, position, k, keep ? { state: keep.state() } : {});
}

/**
 * @param src - the run's logits, or an incremental condition's output (its [1, N, V] tensor is then assembled
 *   only if `logits` is read; the metrics read rows)
 */
function output(model: HookedModel, src: Tensor | ConditionOutput, cache: ActivationCache, position: number, k: number, extra: Partial<RunOutput>, rows?: LogProbRows): RunOutput {
  const V = model.spec.vocabSize;
  const row = src instanceof Tensor ? src.data.subarray(position * V, (position + 1) * V) : src.row(position);
  const patterns: Record<number, Tensor> = {};
  for (const n of cache.names()) {
    const m = /^blocks\.(\d+)\.attn\.hook_pattern$/.exec(n);
    if (m) patterns[Number(m[1])] = cache.get(n);
  }
  const out = { patterns, cache, topk: topK(row, k, rows ? rows.logProbs(position) : logSoftmax(row)), ...extra } as Omit<RunOutput, 'logits'>;
  if (src instanceof Tensor) return { logits: src, ...out };
  return Object.defineProperty(out, 'logits', { get: () => src.logits, enumerable: true }) as RunOutput;
}

/**
 * Runs the baseline and the intervened forward pass and compares them. The intervened run recomputes only
 * what the edit changes unless `fullRecompute` (see {@link InterventionOptions.fullRecompute}).
 *
 * @param specs - specs (validated here against the model and the full sequence length) or resolved edits
 * @throws InterventionSpecError for invalid specs (out-of-range layer/head/position, masked edges, ...)
 */
export function forwardWithIntervention(
  model: HookedModel,
  ids: readonly number[],
  specs: AttentionMaskSpec | ResolvedEdit | readonly (AttentionMaskSpec | ResolvedEdit)[],
  opts: InterventionOptions = {},
): InterventionResult {
  const list = (Array.isArray(specs) ? specs : [specs]) as (AttentionMaskSpec | ResolvedEdit)[];
  return forwardWithInterventions(model, ids, [list], opts)[0]!;
}

/**
 * Several edited conditions of one prompt (e.g. a per-layer knockout sweep and its controls) against one
 * baseline, batched: each entry of `conditions` is the spec list of one condition. Results in order, each
 * equal to {@link forwardWithIntervention} on that condition alone.
 */
export function forwardWithInterventions(
  model: HookedModel,
  ids: readonly number[],
  conditions: readonly (readonly (AttentionMaskSpec | ResolvedEdit)[])[],
  opts: InterventionOptions = {},
): InterventionResult[] {
  if (ids.length === 0) throw new Error('forwardWithIntervention: empty prompt (no tokens)');
  const k = opts.topK ?? 10;
  const cont = opts.continuation ?? [];
  const tokens = [...ids, ...cont];
  const P = ids.length - 1;
  const editsOf = conditions.map((list) => {
    const raw = list.filter((s) => !isResolved(s)) as AttentionMaskSpec[];
    return [...(list.filter(isResolved) as ResolvedEdit[]), ...(raw.length ? resolveSpecs(raw, model, tokens.length, { onMaskedEdges: opts.onMaskedEdges }) : [])];
  });
  const layers = [...new Set(editsOf.flat().flatMap((e) => e.layers))].sort((a, b) => a - b);
  const names = [...(opts.capturePatterns === false ? [] : layers.map((l) => `blocks.${l}.attn.hook_pattern`)), ...(opts.capture ?? [])];
  let baseline: RunOutput = opts.baseline ?? runCondition(model, tokens, [], names, P, k);
  if (baseline.logits.shape[1] !== tokens.length) throw new Error(`forwardWithIntervention: the given baseline covers ${baseline.logits.shape[1]} positions, expected ${tokens.length}`);
  const V = model.spec.vocabSize;
  const ivRows: LogProbRows[] = [];
  const spare: Float64Array[] = []; // normalised rows of conditions already scored, refilled by the next ones
  let intervened: RunOutput[];
  if (opts.fullRecompute ?? fullRecomputeByDefault()) {
    intervened = editsOf.map((edits) => runCondition(model, tokens, attentionEdit(edits), names, P, k));
  } else {
    // A given baseline without its state, or without a capture needed here, is rerun once and completed IN
    // PLACE (state and the missing captures added), so the next condition of the same prompt reuses it.
    const canReuse = baseline.state && sameTokens(baseline.state.tokens, tokens) && names.every((n) => baseline.cache.has(n));
    if (!canReuse) {
      const fresh = runCondition(model, tokens, [], [...new Set([...names, ...baseline.cache.names()])], P, k);
      if (opts.baseline) {
        for (const n of fresh.cache.names()) if (!baseline.cache.has(n)) baseline.cache.set(n, fresh.cache.get(n));
        for (const [l, t] of Object.entries(fresh.patterns)) baseline.patterns[Number(l)] ??= t;
        baseline.state = fresh.state;
      } else baseline = fresh;
    }
    const outs = runConditionsIncremental(
      model,
      baseline.state!,
      baseline,
      editsOf.map((edits) => ({ hooks: attentionEdit(edits), scope: scopeOfEdits(edits) })),
      { capture: names, batchSize: opts.batchSize },
    );
    const N = tokens.length;
    intervened = outs.map((o, i) => output(model, o, o.cache, P, k, { incremental: o.incremental }, (ivRows[i] = new LogProbRows({ rows: N, row: o.row }, V, 'intervened logits', spare))));
  }
  // every row is normalised once: the baseline's for all conditions, each condition's for all its metrics
  const baseRows = new LogProbRows(baseline.logits.data, V, 'baseline logits');
  return editsOf.map((edits, i) => {
    const iv = intervened[i]!;
    const ivr = (ivRows[i] ??= new LogProbRows(iv.logits.data, V, 'intervened logits', spare));
    const metrics = {
      ...compareDistributions(baseRows.logits(P), ivr.logits(P), k, { base: { lp: baseRows.logProbs(P), p: baseRows.probs(P) }, edited: ivr.logProbs(P) }),
      continuation: cont.length ? compareContinuation(baseRows, ivr, V, tokens, P, tokens.length - 1) : null,
    };
    ivr.release(); // the metrics hold numbers only
    return { tokens, position: P, edits, dropped: edits.flatMap((e) => e.dropped), baseline, intervened: iv, metrics };
  });
}

function sameTokens(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
