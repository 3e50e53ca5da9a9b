/**
 * Autoregressive generation with a KV cache, one sequence (`generate`) or many at once (`generateBatch`,
 * the same code path: `generate` is a batch of one). Baseline and intervened runs use this SAME code
 * path; interventions are hooks applied at every step (prefill and each decoded token), and
 * hooks see absolute positions so a position-based intervention stays aligned as the context grows.
 */
import type { Hook } from '../hooks/types.ts';
import { PlipOptionError } from '../io/errors.ts';
import type { HookedModel } from '../model/model.ts';
import type { KVCache } from '../model/kv-cache.ts';
import { createRng, type Rng } from '../stats/rng.ts';
import type { BaselineState, EditScope } from '../interventions/incremental.ts';
import { nativeMetricKernels } from '../tensor/select.ts';

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
  /**
   * Stop once this returns true for the decoded completion so far (needs the model's tokenizer); e.g. the
   * end of a generated test (src/score/test-end.ts). Checked after each token, like `stopSequences`.
   */
  stopWhen?: (completion: string) => boolean;
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

/** One sequence of a batched generation: its prompt and its own settings. */
export interface GenerateRequest extends GenerateOptions {
  /** Prompt token ids (already tokenized, BOS included if the model wants it). */
  promptIds: readonly number[];
  /**
   * Incremental prefill (src/interventions/incremental.ts): a baseline run without hooks over a sequence that
   * starts with this prompt, and the scope of this request's `hooks`. The prompt's positions < scope.position
   * and its layers < scope.layer are taken from the baseline; only the rest of the prompt is recomputed.
   * Decoding then proceeds as usual. Exact (the hooks cannot change what is reused).
   */
  reuse?: { state: BaselineState; scope: EditScope };
}

export interface BatchGenerateOptions {
  /** Sequences decoded together (default 8). A finished row's slot is refilled with the next request. */
  batchSize?: number;
  /** Called once per request as soon as it has finished (in completion order, not request order). */
  onDone?: (index: number, result: GenerateResult) => void;
}

/** Generates from `promptIds` (already tokenized, BOS included if the model wants it). A batch of one. */
export function generate(model: HookedModel, promptIds: readonly number[], opts: GenerateOptions): GenerateResult {
  return generateBatch(model, [{ ...opts, promptIds }], { batchSize: 1 })[0]!;
}

interface RowState {
  index: number;
  req: GenerateRequest;
  cache: KVCache;
  rng: Rng;
  eos: Set<number>;
  ids: number[];
  logprobs: number[];
  /** Tokens to feed at the next forward call (the prompt, then the last generated token). */
  input: number[];
  /** Incremental prefill: the first call starts at this layer with this residual stream. */
  startLayer?: number;
  residIn?: Float32Array;
}

function checkRequest(model: HookedModel, r: GenerateRequest, i: number, n: number): void {
  const where = n > 1 ? ` (request ${i})` : '';
  if (!Number.isInteger(r.maxTokens) || r.maxTokens < 0) throw new PlipOptionError('maxTokens', `must be a non-negative integer (got ${r.maxTokens})${where}`);
  const temperature = r.temperature ?? 0;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new PlipOptionError('temperature', `must be ≥ 0 (got ${temperature})${where}`);
  if (r.topP !== undefined && !(r.topP > 0 && r.topP <= 1)) throw new PlipOptionError('topP', `must be in (0, 1] (got ${r.topP})${where}`);
  if (r.promptIds.length === 0) throw new Error(`generate: empty prompt (no tokens); prompts need at least one token (e.g. BOS)${where}`);
  if (((r.stopSequences ?? []).length > 0 || r.stopWhen) && !model.tokenizer) throw new Error(`stop sequences need the model tokenizer${where}`);
  if (r.reuse) {
    const t = r.reuse.state.tokens, s = r.reuse.scope;
    if (t.length < r.promptIds.length || r.promptIds.some((x, j) => t[j] !== x)) throw new Error(`generate: the reused baseline's tokens do not start with the prompt${where}`);
    if (!Number.isInteger(s.layer) || s.layer < 0 || s.layer >= model.spec.nLayers || !Number.isInteger(s.position) || s.position < 0) throw new Error(`generate: invalid reuse scope (layer ${s.layer}, position ${s.position})${where}`);
  }
}

/**
 * KV caches of finished rows, kept per model for later requests (of this call or the next): the first writes
 * into a fresh cache fault in every page (16 caches at Qwen2.5-0.5B dimensions for 35 positions, 96 MB: ~60 ms
 * on the 2-vCPU VMs this project runs on). At most POOL_FLOATS floats are kept per model.
 */
const POOL_FLOATS = 64 * 2 ** 20;
const cachePools = new WeakMap<object, KVCache[]>();
const cacheFloats = (c: KVCache) => 2 * c.nLayers * c.nHeads * c.dHead * c.capacity;

/** An empty cache with room for `capacity` positions: the smallest pooled one that fits, else a new one. */
function borrowCache(model: HookedModel, capacity: number): KVCache {
  const pool = cachePools.get(model.weights) ?? [];
  let best = -1;
  pool.forEach((c, i) => {
    if (c.nLayers === model.spec.nLayers && c.nHeads === model.spec.nHeads && c.dHead === model.spec.dHead && c.capacity >= capacity && (best < 0 || c.capacity < pool[best]!.capacity)) best = i;
  });
  if (best < 0) return model.newKVCache(capacity);
  const c = pool.splice(best, 1)[0]!;
  c.truncate(0);
  return c;
}

/** Gives a finished row's cache back to its model's pool (dropped when the pool is full). */
function returnCache(model: HookedModel, c: KVCache): void {
  let pool = cachePools.get(model.weights);
  if (!pool) cachePools.set(model.weights, (pool = []));
  if (pool.includes(c) || pool.reduce((n, x) => n + cacheFloats(x), cacheFloats(c)) > POOL_FLOATS) return;
  pool.push(c);
}

/** Cache and first input of a request: the whole prompt, or (reuse) only its positions ≥ p from layer L on. */
function prefillOf(model: HookedModel, req: GenerateRequest): Pick<RowState, 'cache' | 'input' | 'startLayer' | 'residIn'> {
  const n = req.promptIds.length;
  if (!req.reuse) return { cache: borrowCache(model, n + req.maxTokens), input: [...req.promptIds] };
  const { state, scope } = req.reuse;
  // at least the last prompt position is recomputed: its logits give the first token
  const p = Math.min(scope.position, n - 1);
  const L = scope.layer;
  const D = model.spec.dModel;
  return {
    cache: state.kv.fork(p, L, n - p + req.maxTokens, n),
    input: req.promptIds.slice(p),
    startLayer: L,
    residIn: L > 0 ? state.residPre[L]!.subarray(p * D, n * D) : undefined,
  };
}

/**
 * Generates for many prompts, `batchSize` sequences per forward pass (docs/batching.md). Each sequence has
 * its own KV cache, hooks, stop conditions (EOS, stop strings, max tokens, context) and its own seeded
 * sampling stream (`createRng(seed, 'sampling')`, as `generate`), so a sequence's tokens do not depend on
 * the batch size or on its neighbours. New requests are prefilled together, then join the decoding batch.
 * Returns one result per request, in request order.
 */
export function generateBatch(model: HookedModel, requests: readonly GenerateRequest[], opts: BatchGenerateOptions = {}): GenerateResult[] {
  const batchSize = opts.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new PlipOptionError('batchSize', `must be a positive integer (got ${batchSize})`);
  requests.forEach((r, i) => checkRequest(model, r, i, requests.length));
  const baseEos = [model.spec.eosTokenId ?? [], model.tokenizer?.eosTokenId ?? []].flat();
  const results: GenerateResult[] = new Array(requests.length);
  const finish = (row: RowState, stop: GenerateResult['stop']) => {
    const res: GenerateResult = { promptIds: [...row.req.promptIds], ids: row.ids, logprobs: row.logprobs, stop };
    results[row.index] = res;
    returnCache(model, row.cache);
    opts.onDone?.(row.index, res);
  };
  /** Applies one forward call's logits row to `row`; returns false once the row has stopped. */
  const step = (row: RowState, logits: Float32Array, parts?: GreedyParts): boolean => {
    const r = row.req;
    const { id, logprob } = parts ? pickGreedy(logits, parts) : pick(logits, r.temperature ?? 0, r.topK ?? 0, r.topP ?? 1, () => row.rng.next());
    row.ids.push(id);
    row.logprobs.push(logprob);
    r.onToken?.(id, row.ids.length - 1);
    if ((r.stopAtEos ?? true) && row.eos.has(id)) return finish(row, 'eos'), false;
    const stops = r.stopSequences ?? [];
    if (stops.length > 0 || r.stopWhen) {
      const text = model.tokenizer!.decode(row.ids, { skipSpecialTokens: true });
      if (stops.some((x) => text.includes(x)) || r.stopWhen?.(text)) return finish(row, 'stop_sequence'), false;
    }
    row.input = [id];
    return ready(row);
  };
  /** Whether `row` takes another forward call (false: it has stopped, and is finished here). */
  const ready = (row: RowState): boolean => {
    if (row.ids.length >= row.req.maxTokens) return finish(row, 'max_tokens'), false;
    if (row.cache.length + row.input.length > model.spec.nCtx) return finish(row, 'context'), false;
    return true;
  };
  const run = (rows: RowState[]): RowState[] => {
    if (rows.length === 0) return rows;
    const { logits } = model.forwardBatch(
      rows.map((r) => ({ tokens: r.input, kvCache: r.cache, hooks: r.req.hooks, startLayer: r.startLayer, residIn: r.residIn })),
      { logits: 'last' },
    );
    for (const r of rows) r.startLayer = r.residIn = undefined; // incremental prefill only
    const V = model.spec.vocabSize;
    const rowLogits = rows.map((_, b) => logits!.data.subarray(b * V, (b + 1) * V));
    // greedy rows: their log-softmax sums in one call over the batch
    const greedy = rows.flatMap((r, b) => ((r.req.temperature ?? 0) === 0 ? [b] : []));
    const parts = new Map(greedyParts(greedy.map((b) => rowLogits[b]!)).map((p, i) => [greedy[i]!, p]));
    return rows.filter((r, b) => step(r, rowLogits[b]!, parts.get(b)));
  };

  let next = 0;
  let live: RowState[] = [];
  while (next < requests.length || live.length > 0) {
    const fresh: RowState[] = [];
    while (live.length + fresh.length < batchSize && next < requests.length) {
      const req = requests[next]!;
      const row: RowState = {
        index: next++,
        req,
        ...prefillOf(model, req),
        rng: createRng(req.seed ?? 0, 'sampling'),
        eos: new Set(baseEos),
        ids: [],
        logprobs: [],
      };
      if (ready(row)) fresh.push(row);
    }
    // prefill new rows on their own (no padding of one-token decode rows to prompt length), then decode
    const prefilled = prefillGroups(fresh).flatMap(run);
    live = [...run(live), ...prefilled];
  }
  return results;
}

/**
 * Splits rows to prefill into groups that share one pass: a group's padded size (rows × longest) stays within
 * twice its real tokens. The weight products skip padding rows (src/model/forward.ts), so padding costs only
 * elementwise work and memory, while each extra pass reads every weight again (a few-row pass is bound by
 * reading them); the bound keeps the padded activations of very ragged prompts in check.
 */
function prefillGroups(rows: RowState[]): RowState[][] {
  const sorted = [...rows].sort((a, b) => b.input.length - a.input.length);
  const groups: RowState[][] = [];
  for (const r of sorted) {
    const g = groups[groups.length - 1];
    if (g) {
      const real = g.reduce((n, x) => n + x.input.length, 0) + r.input.length;
      if ((g.length + 1) * g[0]!.input.length <= real * 2) {
        g.push(r);
        continue;
      }
    }
    groups.push([r]);
  }
  return groups;
}

/** A greedy row's largest logit and Σ exp(logit − max). */
interface GreedyParts {
  max: number;
  sumExp: number;
}

function greedyPartsTs(logits: Float32Array): GreedyParts {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sumExp = 0;
  for (let i = 0; i < logits.length; i++) sumExp += Math.exp(logits[i]! - max);
  return { max, sumExp };
}

/**
 * {@link GreedyParts} of each row: in one native call where the addon loads (rows split over its threads; the
 * log-softmax sums of src/metrics/distribution.ts), in TypeScript without it and for rows the native loops
 * flag (NaN/+∞ logits, or only −∞).
 */
function greedyParts(rows: readonly Float32Array[]): GreedyParts[] {
  const k = nativeMetricKernels();
  if (!k || rows.length === 0) return rows.map(greedyPartsTs);
  const parts = k.logSoftmaxPartsRows(rows as Float32Array[]);
  return rows.map((r, i) => (parts[3 * i]! >= 0 || parts[3 * i + 1] === -Infinity ? greedyPartsTs(r) : { max: parts[3 * i + 1]!, sumExp: parts[3 * i + 2]! }));
}

/** The greedy choice given the row's {@link GreedyParts}: the first id holding the largest logit. */
function pickGreedy(logits: Float32Array, parts: GreedyParts): { id: number; logprob: number } {
  const id = Math.max(0, logits.indexOf(parts.max));
  return { id, logprob: logits[id]! - parts.max - Math.log(parts.sumExp) };
}

/**
 * Chooses the next token from one row of logits. Greedy ties break toward the lowest id. Sampling walks the
 * candidates in descending logit order (ties: lowest id first), optionally truncated by top-k / top-p, with
 * the probabilities summed in that order, so a seed gives the same token on every backend.
 */
export function pick(logits: Float32Array, temperature: number, topK: number, topP: number, uniform: () => number): { id: number; logprob: number } {
  if (temperature === 0) return pickGreedy(logits, greedyParts([logits])[0]!);
  let order = byLogitDescending(logits);
  if (topK > 0 && topK < order.length) order = order.subarray(0, topK);
  const m = logits[order[0]!]! / temperature;
  let n = order.length;
  const probs = new Float64Array(n);
  let z = 0;
  for (let i = 0; i < n; i++) z += probs[i] = Math.exp(logits[order[i]!]! / temperature - m);
  for (let i = 0; i < n; i++) probs[i]! /= z;
  if (topP < 1) {
    let acc = 0;
    let k = 0;
    while (k < n && acc < topP) acc += probs[k++]!;
    n = k;
    z = 0;
    for (let i = 0; i < n; i++) z += probs[i]!;
    for (let i = 0; i < n; i++) probs[i]! /= z;
  }
  const u = uniform();
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += probs[i]!;
    if (u < acc || i === n - 1) return { id: order[i]!, logprob: Math.log(probs[i]!) };
  }
  throw new Error('unreachable');
}

/** Vocabulary ids (≤ 2^21 of them) that fit beside a 32-bit float key in one exactly represented double. */
const ID_BITS = 2 ** 21;

/**
 * Ids sorted by logit, descending, ties (−0 equal to +0, −∞ to −∞) toward the lowest id. One native numeric
 * sort of doubles whose high part orders the float32 bits and whose low 21 bits are the id (~3× faster than a
 * comparator sort at 152k ids); a comparator sort for larger vocabularies. NaN logits are an error.
 */
export function byLogitDescending(logits: Float32Array): Int32Array {
  const V = logits.length;
  if (V === 0) throw new RangeError('pick: empty logits row');
  const nan = logits.findIndex((x) => Number.isNaN(x));
  if (nan >= 0) throw new RangeError(`pick: logit ${nan} is NaN`);
  if (V > ID_BITS) return Int32Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const keys = new Float64Array(V);
  for (let i = 0; i < V; i++) {
    f[0] = logits[i]! + 0; // −0 → +0
    const b = u[0]!;
    // IEEE bits → unsigned order of the values (negatives reversed), then reversed for descending
    const asc = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
    keys[i] = (0xffffffff - asc) * ID_BITS + i;
  }
  keys.sort();
  const order = new Int32Array(V);
  for (let i = 0; i < V; i++) order[i] = keys[i]! % ID_BITS;
  return order;
}
