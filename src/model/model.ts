/**
 * HookedModel: a loaded model (spec + weights + backend + tokenizer) with TransformerLens-style
 * entry points: forward, runWithHooks, runWithCache.
 */
import type { MatmulBackend, NativeOps } from '../tensor/backend.ts';
import { Tensor } from '../tensor/tensor.ts';
import type { Hook } from '../hooks/types.ts';
import { ActivationCache } from '../hooks/cache.ts';
import { explainMissingHook, parseHookName } from '../hooks/names.ts';
import type { PlipTokenizer } from '../tokenize/types.ts';
import type { ModelSpec } from './spec.ts';
import type { ModelWeights } from './weights.ts';
import { KVCache } from './kv-cache.ts';
import { decoderOps } from './ops.ts';
import { forward, forwardBatch, hookNamesOf, type BatchForwardOptions, type BatchForwardResult, type BatchRow, type ForwardOptions, type ForwardResult } from './forward.ts';

/** Where a model came from (recorded in every results file). */
export interface ModelInfo {
  /** What the user passed to --model. */
  id: string;
  /** Resolved local directory or checkpoint file. */
  path: string;
  format: 'hf' | 'llama2c' | 'random';
  revision?: string;
  commitHash?: string;
  /** sha256 of config.json (or of the llama2.c header). */
  configHash?: string;
  /** 'bf16': weight products take bf16 activations (`--compute bf16`); absent: float32 activations. */
  compute?: 'bf16';
}

export interface CacheSelection {
  /**
   * Hook names to capture: full names ('blocks.3.attn.hook_pattern'), per-layer suffixes
   * ('attn.hook_pattern', applied to every layer in `layers`), or a predicate. Default: everything.
   */
  names?: readonly string[] | ((name: string) => boolean);
  /** Restrict per-layer captures to these layers (default: all). */
  layers?: readonly number[];
}

export class HookedModel {
  constructor(
    readonly spec: ModelSpec,
    readonly weights: ModelWeights,
    readonly backend: MatmulBackend,
    readonly tokenizer: PlipTokenizer | null,
    readonly info: ModelInfo,
  ) {}

  /** Every hook point of this model in execution order. */
  hookNames(): string[] {
    return hookNamesOf(this.spec);
  }

  /** @throws Error when a logit comes out NaN or ±Infinity (never returned as a result). */
  forward(tokens: ArrayLike<number>, opts: ForwardOptions = {}): ForwardResult {
    return finiteLogits(forward(this, tokens, opts), this.backend.ops);
  }

  /**
   * Several sequences of different lengths in one pass (docs/batching.md): each row has its own tokens,
   * KV cache (absolute positions continue from its length), hooks and optional incremental start layer.
   * Each row's results equal running it alone (≤ 1e-4; test/model/batch.test.ts).
   */
  forwardBatch(rows: readonly BatchRow[], opts: BatchForwardOptions = {}): BatchForwardResult {
    return forwardBatch(this, rows, opts);
  }

  /** Forward pass with hooks that may read or replace tensors. */
  runWithHooks(tokens: ArrayLike<number>, hooks: readonly Hook[], opts: Omit<ForwardOptions, 'hooks'> = {}): ForwardResult {
    return finiteLogits(forward(this, tokens, { ...opts, hooks }), this.backend.ops);
  }

  /**
   * Forward pass capturing the selected activations (copies, safe to keep). Only what is asked for is stored.
   * Extra `hooks` (e.g. interventions) run BEFORE the capture at each point, so the cache shows edited tensors.
   */
  runWithCache(tokens: ArrayLike<number>, sel: CacheSelection = {}, opts: ForwardOptions = {}): ForwardResult & { cache: ActivationCache } {
    const cache = new ActivationCache();
    const want = this.selector(sel);
    const capture: Hook = {
      name: want,
      fn: (t, ctx) => {
        cache.set(ctx.name, new Tensor(t.data.slice(), t.shape));
      },
    };
    const res = finiteLogits(forward(this, tokens, { ...opts, hooks: [...(opts.hooks ?? []), capture] }), this.backend.ops);
    return { ...res, cache };
  }

  newKVCache(initialCapacity = 64): KVCache {
    return new KVCache(this.spec.nLayers, this.spec.nHeads, this.spec.dHead, initialCapacity);
  }

  private selector(sel: CacheSelection): (name: string) => boolean {
    const layers = sel.layers ? new Set(sel.layers) : null;
    if (layers) {
      for (const l of layers) {
        if (!Number.isInteger(l) || l < 0 || l >= this.spec.nLayers) throw new Error(`layer ${l} is out of range: the model has layers 0..${this.spec.nLayers - 1}`);
      }
    }
    const layerOk = (name: string) => {
      const p = parseHookName(name);
      return !p || !layers || layers.has(p.layer);
    };
    const names = sel.names;
    if (!names) return layerOk;
    if (typeof names === 'function') return (n) => layerOk(n) && names(n);
    const all = new Set(this.hookNames());
    const exact = new Set<string>();
    const suffixes = new Set<string>();
    for (const n of names) {
      if (all.has(n)) exact.add(n);
      else if ([...all].some((a) => parseHookName(a)?.suffix === n)) suffixes.add(n);
      else throw new Error(`unknown hook name: ${explainMissingHook(parseHookName(n) || n.startsWith('hook_') || n.startsWith('ln_final') ? n : `blocks.0.${n}`, this.spec.nLayers)} (give a full name like 'blocks.0.attn.hook_pattern' or a per-layer suffix like 'attn.hook_pattern')`);
    }
    return (n) => {
      if (!layerOk(n)) return false;
      if (exact.has(n)) return true;
      const p = parseHookName(n);
      return p !== null && suffixes.has(p.suffix);
    };
  }
}

/**
 * Non-finite logits are an error, never a result: they come from non-finite weights or activations, or
 * from a hook that wrote NaN/Infinity, and downstream they would turn into null JSON and silent garbage.
 */
function finiteLogits(res: ForwardResult, native: NativeOps | undefined): ForwardResult {
  const l = res.logits;
  if (!l) return res;
  const d = l.data;
  const i = decoderOps(native).firstNonFinite(d, d.length);
  if (i < 0) return res;
  const V = l.shape[2]!;
  const row = Math.floor(i / V);
  const pos = res.positions.length === l.shape[1] ? res.positions[row]! : res.positions[res.positions.length - 1]!;
  throw new Error(
    `non-finite logit (${d[i]}) at token position ${pos}, vocab id ${i % V}: the weights, an activation or an intervention hook produced NaN/Infinity (capture activations with runWithCache to find the first non-finite hook point)`,
  );
}
