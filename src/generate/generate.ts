/**
 * Autoregressive generation with a KV cache. Baseline and intervened runs use this SAME code
 * path; interventions are hooks applied at every step (prefill and each decoded token), and
 * hooks see absolute positions so a position-based intervention stays aligned as the context grows.
 */
import type { Hook } from '../hooks/types.ts';
import type { HookedModel } from '../model/model.ts';
import { createRng } from '../stats/rng.ts';

export interface GenerateOptions {
  /** Number of new tokens to generate (upper bound; stops early at EOS unless `stopAtEos` is false). */
  maxTokens: number;
  /** 0 (default) = greedy argmax; > 0 = sample from softmax(logits / temperature). */
  temperature?: number;
  /** Keep only the k most likely tokens when sampling (0/undefined = all). */
  topK?: number;
  /** Nucleus sampling threshold in (0, 1]; 1/undefined = off. */
  topP?: number;
  /** Seed of the 'sampling' random stream (required for reproducible sampling; default 0). */
  seed?: number;
  /** Hooks applied at every forward call (prefill and each decoding step). */
  hooks?: readonly Hook[];
  stopAtEos?: boolean;
  /** Stop once the decoded completion contains any of these strings (needs the model's tokenizer). */
  stopSequences?: readonly string[];
  /** Called after each generated token. */
  onToken?: (id: number, step: number) => void;
}

export interface GenerateResult {
  promptIds: number[];
  /** Generated token ids (excluding the prompt). */
  ids: number[];
  /** Natural-log probability of each generated token under the (possibly intervened) model, after temperature. */
  logprobs: number[];
  /** Why generation stopped. */
  stop: 'eos' | 'max_tokens' | 'context' | 'stop_sequence';
}

/** Generates from `promptIds` (already tokenized, BOS included if the model wants it). */
export function generate(model: HookedModel, promptIds: readonly number[], opts: GenerateOptions): GenerateResult {
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 0) throw new Error(`--max-tokens must be a non-negative integer (got ${opts.maxTokens})`);
  const temperature = opts.temperature ?? 0;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new Error(`--temperature must be ≥ 0 (got ${temperature})`);
  if (opts.topP !== undefined && !(opts.topP > 0 && opts.topP <= 1)) throw new Error(`top-p must be in (0, 1] (got ${opts.topP})`);
  if (promptIds.length === 0) throw new Error('generate: empty prompt (no tokens); prompts need at least one token (e.g. BOS)');
  const rng = createRng(opts.seed ?? 0, 'sampling');
  const eos = new Set<number>([model.spec.eosTokenId ?? [], model.tokenizer?.eosTokenId ?? []].flat());
  const stops = opts.stopSequences ?? [];
  if (stops.length > 0 && !model.tokenizer) throw new Error('stop sequences need the model tokenizer');
  const cache = model.newKVCache(promptIds.length + opts.maxTokens);
  const ids: number[] = [];
  const logprobs: number[] = [];
  let input: number[] = [...promptIds];
  let stop: GenerateResult['stop'] = 'max_tokens';
  for (let step = 0; step < opts.maxTokens; step++) {
    if (cache.length + input.length > model.spec.nCtx) {
      stop = 'context';
      break;
    }
    const { logits } = model.forward(input, { kvCache: cache, logits: 'last', hooks: opts.hooks });
    const { id, logprob } = pick(logits!.data, temperature, opts.topK ?? 0, opts.topP ?? 1, () => rng.next());
    ids.push(id);
    logprobs.push(logprob);
    opts.onToken?.(id, step);
    if ((opts.stopAtEos ?? true) && eos.has(id)) {
      stop = 'eos';
      break;
    }
    if (stops.length > 0) {
      const text = model.tokenizer!.decode(ids, { skipSpecialTokens: true });
      if (stops.some((s) => text.includes(s))) {
        stop = 'stop_sequence';
        break;
      }
    }
    input = [id];
  }
  return { promptIds: [...promptIds], ids, logprobs, stop };
}

/** Chooses the next token from one row of logits. Greedy ties break toward the lowest id. */
export function pick(logits: Float32Array, temperature: number, topK: number, topP: number, uniform: () => number): { id: number; logprob: number } {
  const V = logits.length;
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i]! > logits[best]!) best = i;
    return { id: best, logprob: logSoftmaxAt(logits, best, 1) };
  }
  // candidates sorted by logit (descending), optionally truncated by top-k / top-p
  let order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (topK > 0) order = order.slice(0, topK);
  const m = logits[order[0]!]! / temperature;
  let probs = order.map((i) => Math.exp(logits[i]! / temperature - m));
  let z = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / z);
  if (topP < 1) {
    let acc = 0;
    let k = 0;
    while (k < probs.length && acc < topP) acc += probs[k++]!;
    order = order.slice(0, k);
    probs = probs.slice(0, k);
    z = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / z);
  }
  const u = uniform();
  let acc = 0;
  for (let i = 0; i < order.length; i++) {
    acc += probs[i]!;
    if (u < acc || i === order.length - 1) return { id: order[i]!, logprob: Math.log(probs[i]!) };
  }
  throw new Error('unreachable');
}

function logSoftmaxAt(logits: Float32Array, idx: number, temperature: number): number {
  let m = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > m) m = logits[i]!;
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += Math.exp((logits[i]! - m) / temperature);
  return (logits[idx]! - m) / temperature - Math.log(s);
}
