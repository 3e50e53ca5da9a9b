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
import type { Tensor } from '../tensor/tensor.ts';
import { compareDistributions, logSoftmax, topK, type DistributionComparison, type TokenProb } from '../metrics/distribution.ts';
import { compareContinuation, type ContinuationComparison } from '../metrics/continuation.ts';
import { attentionEdit } from './attention.ts';
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
 */
export function runCondition(model: HookedModel, tokens: readonly number[], hooks: readonly Hook[], captureNames: readonly string[], position: number, k: number): RunOutput {
  const res = model.runWithCache(tokens, { names: captureNames.length ? captureNames : () => false }, { hooks, logits: 'all' });
  const logits = res.logits!;
  const V = model.spec.vocabSize;
  const row = logits.data.subarray(position * V, (position + 1) * V);
  const patterns: Record<number, Tensor> = {};
  for (const n of res.cache.names()) {
    const m = /^blocks\.(\d+)\.attn\.hook_pattern$/.exec(n);
    if (m) patterns[Number(m[1])] = res.cache.get(n);
  }
  return { logits, patterns, cache: res.cache, topk: topK(row, k, logSoftmax(row)) };
}

/**
 * Runs the baseline and the intervened forward pass and compares them.
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
  if (ids.length === 0) throw new Error('forwardWithIntervention: empty prompt (no tokens)');
  const k = opts.topK ?? 10;
  const cont = opts.continuation ?? [];
  const tokens = [...ids, ...cont];
  const P = ids.length - 1;
  const list = (Array.isArray(specs) ? specs : [specs]) as (AttentionMaskSpec | ResolvedEdit)[];
  const raw = list.filter((s) => !isResolved(s)) as AttentionMaskSpec[];
  const edits = [...(list.filter(isResolved) as ResolvedEdit[]), ...(raw.length ? resolveSpecs(raw, model, tokens.length, { onMaskedEdges: opts.onMaskedEdges }) : [])];
  const layers = [...new Set(edits.flatMap((e) => e.layers))].sort((a, b) => a - b);
  const names = [...(opts.capturePatterns === false ? [] : layers.map((l) => `blocks.${l}.attn.hook_pattern`)), ...(opts.capture ?? [])];
  const baseline = opts.baseline ?? runCondition(model, tokens, [], names, P, k);
  if (baseline.logits.shape[1] !== tokens.length) throw new Error(`forwardWithIntervention: the given baseline covers ${baseline.logits.shape[1]} positions, expected ${tokens.length}`);
  const intervened = runCondition(model, tokens, attentionEdit(edits), names, P, k);
  const V = model.spec.vocabSize;
  const row = (t: Tensor) => t.data.subarray(P * V, (P + 1) * V);
  const metrics = {
    ...compareDistributions(row(baseline.logits), row(intervened.logits), k),
    continuation: cont.length ? compareContinuation(baseline.logits.data, intervened.logits.data, V, tokens, P, tokens.length - 1) : null,
  };
  return { tokens, position: P, edits, dropped: edits.flatMap((e) => e.dropped), baseline, intervened, metrics };
}
