/**
 * Cost model for `plip study plan`: forward passes → seconds and bytes on this kind of machine.
 *
 * Compute is linear in (parameters × tokens) for prefill. A decode step of a batch of B rows reads the
 * weights once and multiplies B rows, so it costs max(weight bytes × seconds per byte, B × parameters ×
 * prefill seconds per parameter-token); the generation experiments decode {@link CostModel.decodeBatch} rows
 * together. Knockout conditions recompute only what their edit changes ({@link CostModel.incrementalSpeedup},
 * the benchmark's measured sweep ratio). The constants are fitted to the benchmark figures in
 * docs/benchmarks.md and are replaced by `bench/cost-model.json` when `npm run bench` has written one.
 * Estimates, not measurements: the plan says so where it prints them.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ModelSpec } from '../model/spec.ts';

export interface CostModel {
  /** Seconds per (parameter × prefill token). */
  prefillSecPerParamToken: number;
  /** Seconds per weight byte read in one decode step. */
  decodeSecPerWeightByte: number;
  /** Fixed process overhead (runtime, tokenizer), bytes. */
  runtimeBytes: number;
  /** Seconds of fixed overhead per forward call (hooks, sampling, JS; a batched decode step is one call), dominant for tiny models. */
  perPassSeconds: number;
  /** Seconds to score one generated test without running it (tree-sitter, in a worker). */
  scoreSeconds: number;
  /** Seconds to run one generated test in the sandbox (Python ~0.1 s, a Rust compile ~1 s; mean). */
  executeSeconds: number;
  /** Rows decoded together by the generation experiments (src/experiments/shared/generated-test.ts: 16). */
  decodeBatch: number;
  /** Full / incremental time of a per-layer knockout sweep (bench/batch.ts); 1 = no saving assumed. */
  incrementalSpeedup: number;
  /**
   * Prefill time with `compute: 'bf16'` over prefill time with float32 activations, both on bf16 weights
   * (bench/half-child.ts compute A/B); 1 = no saving assumed. Decode steps bound by reading the weights are
   * unchanged by the mode.
   */
  computeBf16PrefillFactor: number;
  /** Where the constants come from. */
  source: string;
}

/**
 * From docs/benchmarks.md (2026-11-24, 2 cores): Qwen2.5-Coder-0.5B dims, 494 M parameters, prefill of
 * 128 tokens 1661 ms; decode step 71.6 ms with 1885 MiB of float32 weights.
 */
export const DEFAULT_COST: CostModel = {
  prefillSecPerParamToken: 1.661 / (494e6 * 128),
  decodeSecPerWeightByte: 0.0716 / (1885 * 2 ** 20),
  runtimeBytes: 200 * 2 ** 20,
  perPassSeconds: 0.002,
  scoreSeconds: 0.01,
  executeSeconds: 0.5,
  decodeBatch: 16,
  incrementalSpeedup: 1,
  computeBf16PrefillFactor: 1,
  source: 'docs/benchmarks.md (2026-11-24, Qwen2.5-Coder-0.5B dims, OpenBLAS, 2 cores)',
};

/** The benchmark's fitted constants when present, else {@link DEFAULT_COST}. */
export function loadCostModel(): CostModel {
  const p = fileURLToPath(new URL('../../bench/cost-model.json', import.meta.url));
  if (!existsSync(p)) return DEFAULT_COST;
  try {
    const c = JSON.parse(readFileSync(p, 'utf8')) as Partial<CostModel>;
    if (typeof c.prefillSecPerParamToken === 'number' && typeof c.decodeSecPerWeightByte === 'number') return { ...DEFAULT_COST, ...c, source: c.source ?? p };
  } catch {
    /* a malformed figures file falls back to the documented constants */
  }
  return DEFAULT_COST;
}

/** The cost model for a model run in `compute` mode: bf16 activations scale the compute-bound terms. */
export function costForCompute(c: CostModel, compute: 'f32' | 'bf16' | undefined): CostModel {
  if (compute !== 'bf16') return c;
  return { ...c, prefillSecPerParamToken: c.prefillSecPerParamToken * c.computeBf16PrefillFactor };
}

/** Weight-matrix elements of one decoder layer (attention projections and MLP): its multiply-adds per token. */
export function layerMatrixParams(s: ModelSpec): number {
  const d = s.dModel;
  const q = s.nHeads * s.dHead;
  const kv = s.nKvHeads * s.dHead;
  return d * q + 2 * d * kv + q * d + (s.mlp.kind === 'gated' ? 3 : 2) * d * s.dMlp;
}

/** Parameter count of a spec (embeddings, attention, MLP, norms, untied head). */
export function parameterCount(s: ModelSpec): number {
  const d = s.dModel;
  const norms = 2 * d;
  const embed = s.vocabSize * d;
  const head = s.tiedEmbeddings ? 0 : s.vocabSize * d;
  const pos = s.positional === 'learned' ? s.nCtx * d : 0;
  return embed + pos + s.nLayers * (layerMatrixParams(s) + norms) + d + head;
}

/** Bytes per weight element of a checkpoint dtype string ('bf16', 'F32', 'bf16+F32', …): the widest. */
export function bytesPerWeight(dtype: string): number {
  const parts = dtype.toLowerCase().split('+');
  return Math.max(...parts.map((p) => (/(32)/.test(p) ? 4 : /(16)/.test(p) ? 2 : 4)));
}

export interface PassCost {
  seconds: number;
}

/** Seconds of one prefill of `tokens` tokens. */
export function prefillSeconds(params: number, tokens: number, c: CostModel): number {
  return params * tokens * c.prefillSecPerParamToken;
}

/**
 * Seconds of `steps` decoded tokens, {@link CostModel.decodeBatch} rows per step: each batched step reads
 * `weightBytes` once (memory-bound) or multiplies its rows (compute-bound), whichever takes longer.
 */
export function decodeSeconds(weightBytes: number, params: number, steps: number, c: CostModel): number {
  const b = Math.max(1, c.decodeBatch);
  const step = Math.max(weightBytes * c.decodeSecPerWeightByte, b * params * c.prefillSecPerParamToken);
  return (steps / b) * step;
}

/**
 * Peak bytes of one generation: weights as stored + KV cache (float32, expanded to one head per query
 * head as the engine keeps it) + captured attention of one layer + runtime.
 */
export function peakBytes(s: ModelSpec, weightBytes: number, contextTokens: number, c: CostModel): number {
  const kv = 2 * s.nLayers * s.nHeads * s.dHead * contextTokens * 4;
  const pattern = 2 * s.nHeads * contextTokens * contextTokens * 4;
  const acts = 8 * contextTokens * Math.max(s.dModel, s.dMlp) * 4 + contextTokens * s.vocabSize * 4;
  return weightBytes + kv + pattern + acts + c.runtimeBytes;
}
