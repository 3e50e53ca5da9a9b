/**
 * Incremental recomputation: run an edited condition by recomputing only what the edit can change.
 *
 * Causality makes this exact. An edit whose earliest effect is at layer L, for query positions ≥ p
 * (its {@link EditScope}), leaves
 *   - every layer < L unchanged at every position, so the residual stream entering layer L is the baseline's;
 *   - every position < p unchanged at every layer (a position only reads positions ≤ itself), so the keys and
 *     values of positions < p in every layer are the baseline's.
 * So a condition reuses the baseline's K/V for positions < p (a fork of its KV cache) and its residual stream
 * at the input of layer L for positions ≥ p, and recomputes only positions ≥ p in layers ≥ L. Positions ≥ p
 * can get NEW keys/values (the edit changes their residual stream), which is why the whole block of positions
 * ≥ p is recomputed, not only the edited query rows. An attention edge edit acts after its layer's keys and
 * values, so at layer L itself only its edited queries change
 * ({@link EditScope.firstLayerEnd}): the later positions skip layer L and enter L + 1 with the baseline's
 * residual stream (a per-layer knockout of one marker query computes one row at its layer); at the last layer
 * they are not computed at all, their logits being the baseline's. Conditions of one
 * prompt (baseline, knockouts, controls) run together as rows of one batched forward pass (src/model/forward.ts).
 *
 * Valid for edits whose scope is known ({@link scopeOfEdits}, {@link scopeOfActivationPatch},
 * {@link scopeOfPatternPatch}):
 *   - attention-edge edits (knockout, scale, set, amplify, controls) on layers ⊇ {L}: p = the smallest edited
 *     query (source) position; a knockout of explicit targets only changes queries ≥ its smallest target;
 *   - activation patches at `blocks.L.*` hooks (or hook_embed / hook_pos_embed: L = 0) on recipient
 *     positions ≥ p, pattern patches of layer L on query positions ≥ p;
 *   - any other hook only with an explicit scope from the caller, who vouches for it. A condition without a
 *     scope is recomputed in full ({@link runConditionsIncremental} falls back; never guessed).
 * Results equal full recomputation within float rounding (≤ 1e-5 on every family's fixture,
 * test/interventions/incremental.test.ts); `fullRecompute: true` turns it off.
 *
 * @module
 */
import type { Hook } from '../hooks/types.ts';
import { ActivationCache } from '../hooks/cache.ts';
import { parseHookName } from '../hooks/names.ts';
import type { HookedModel } from '../model/model.ts';
import type { KVCache } from '../model/kv-cache.ts';
import type { BatchRow } from '../model/forward.ts';
import { Tensor } from '../tensor/tensor.ts';
import type { ActivationPatch, PatternPatch } from './patch.ts';
import type { ResolvedEdit } from './spec.ts';

/** Earliest effect of an edit: layer L and the first query position p it can change (absolute token position). */
export interface EditScope {
  layer: number;
  position: number;
  /**
   * For edits that act after layer L's keys and values (attention edge edits): at layer L itself only positions
   * < firstLayerEnd can change (the edited queries); later positions read layer L's unchanged keys and values
   * and change from layer L + 1 on (after the last layer: never). Absent: every position ≥ p can change at layer L.
   */
  firstLayerEnd?: number;
}

/** What a baseline run keeps so that edited conditions can reuse it. */
export interface BaselineState {
  /** The tokens of the baseline run (prompt + continuation). */
  tokens: readonly number[];
  /** Keys/values of every layer for every position 0..N−1. */
  kv: KVCache;
  /** blocks.{l}.hook_resid_pre for every layer l: [N, D] each. */
  residPre: Float32Array[];
}

let fullByDefault = false;

/**
 * Runs `fn` with full recomputation as the default of {@link runConditionsIncremental}, forwardWithIntervention
 * and forwardWithInterventions (an explicit `fullRecompute` option still wins): what a command's
 * `--full-recompute` sets for the experiment it runs. Restores the previous default afterwards.
 */
export function withFullRecompute<T>(fn: () => T, on = true): T {
  const prev = fullByDefault;
  fullByDefault = on;
  try {
    return fn();
  } finally {
    fullByDefault = prev;
  }
}

/** Whether full recomputation is the current default (see {@link withFullRecompute}). */
export function fullRecomputeByDefault(): boolean {
  return fullByDefault;
}

/** The smaller of two scopes (the union of two edits starts where the earlier one does). */
export function mergeScopes(a: EditScope | null, b: EditScope | null): EditScope | null {
  if (!a) return b;
  if (!b) return a;
  const layer = Math.min(a.layer, b.layer), position = Math.min(a.position, b.position);
  // at `layer`, only the edits that start there change anything
  const endAt = (x: EditScope) => (x.layer === layer ? (x.firstLayerEnd ?? Infinity) : -Infinity);
  const end = Math.max(endAt(a), endAt(b));
  return end < Infinity ? { layer, position, firstLayerEnd: end } : { layer, position };
}

/** Scope of resolved attention-edge edits; null when they edit nothing (no layer or no rule). */
export function scopeOfEdits(edits: readonly ResolvedEdit[]): EditScope | null {
  let out: EditScope | null = null;
  for (const e of edits) {
    if (e.layers.length === 0 || e.rules.length === 0) continue;
    let p = Infinity, end = -Infinity;
    for (const r of e.rules) {
      let q = r.sources === 'all' ? 0 : Math.min(...r.sources);
      // a knocked-out edge (q, k) with k > q is masked already: queries before the first target are untouched
      if (e.kind === 'knockout' && r.targets !== 'all' && r.targets.length) q = Math.max(q, Math.min(...r.targets));
      p = Math.min(p, q);
      // the edit rewrites its source rows' scores / pattern, after the layer's keys and values
      end = Math.max(end, r.sources === 'all' ? Infinity : Math.max(...r.sources) + 1);
    }
    if (p === Infinity) continue;
    const scope: EditScope = { layer: Math.min(...e.layers), position: p };
    if (end < Infinity && end > p) scope.firstLayerEnd = end;
    out = mergeScopes(out, scope);
  }
  return out;
}

/** Layer whose computation a hook point belongs to (embeddings: 0; final norm / logits: the last layer). */
function layerOfHook(name: string, nLayers: number): number {
  const p = parseHookName(name);
  if (p) return p.layer;
  if (name === 'hook_embed' || name === 'hook_pos_embed') return 0;
  return nLayers - 1; // ln_final / hook_logits: recomputing the last block is a (cheap) superset
}

/**
 * Scope of an activation patch: its hook's layer, the smallest recipient position it writes. With the
 * recipient's baseline `state`, a `hook_resid_pre` / `hook_resid_post` row whose donor values equal the
 * baseline's bit for bit writes nothing new and is left out; a patch that writes nothing new at all gets
 * position = the sequence length (no effect: the baseline itself, exactly as full recomputation gives).
 */
export function scopeOfActivationPatch(p: ActivationPatch, nLayers: number, state?: BaselineState): EditScope | null {
  if (p.positions.size === 0) return null;
  const layer = layerOfHook(p.hook, nLayers);
  let positions = [...p.positions.keys()];
  const parsed = parseHookName(p.hook);
  const li = parsed?.suffix === 'hook_resid_pre' ? parsed.layer : parsed?.suffix === 'hook_resid_post' ? parsed.layer + 1 : -1;
  const base = state && li >= 0 && li < nLayers ? state.residPre[li] : undefined;
  if (base && !p.heads) {
    const D = p.donor.shape[p.donor.shape.length - 1]!;
    const same = (r: number, d: number) => {
      for (let i = 0; i < D; i++) if (!Object.is(base[r * D + i], p.donor.data[d * D + i])) return false;
      return true;
    };
    positions = positions.filter((r) => r >= state!.tokens.length || !same(r, p.positions.get(r)!));
    if (positions.length === 0) return { layer, position: state!.tokens.length };
  }
  return { layer, position: Math.min(...positions) };
}

/** Scope of a pattern patch: its layer, the smallest recipient query position it writes. */
export function scopeOfPatternPatch(p: PatternPatch): EditScope | null {
  if (p.positions.size === 0) return null;
  return { layer: p.layer, position: Math.min(...p.positions.keys()) };
}

/** Hooks capturing what incremental conditions need from the baseline run, and the state they fill. */
export function baselineStateHooks(model: HookedModel, tokens: readonly number[]): { hooks: Hook[]; kv: KVCache; state: () => BaselineState } {
  const nL = model.spec.nLayers;
  const residPre: Float32Array[] = new Array(nL);
  const kv = model.newKVCache(tokens.length);
  const hooks: Hook[] = [];
  for (let l = 0; l < nL; l++) hooks.push({ name: `blocks.${l}.hook_resid_pre`, fn: (t) => void (residPre[l] = t.data.slice()) });
  return {
    hooks,
    kv,
    state: () => {
      if (kv.length !== tokens.length || residPre.some((x) => !x)) throw new Error('internal: the baseline run did not fill its incremental state');
      return { tokens: [...tokens], kv, residPre };
    },
  };
}

/** One edited condition: its hooks and the scope they act in (null = unknown: recompute in full). */
export interface IncrementalCondition {
  hooks: readonly Hook[];
  scope: EditScope | null;
}

export interface IncrementalOptions {
  /** Captured in every condition (full names; per-position hooks and attention scores/patterns). */
  capture?: readonly string[];
  /** Conditions per batched forward pass (default 8). */
  batchSize?: number;
  /** Recompute every condition in full (the reference path; default false, or true inside {@link withFullRecompute}). */
  fullRecompute?: boolean;
}

/** Logits ([1, N, V]) and captures of one condition over the full sequence. */
export interface ConditionOutput {
  /**
   * [1, N, V]. For an incremental condition its rows before the scope's position are the baseline's and the
   * array is assembled on first read (N·V floats per condition: read {@link row} where a few rows will do).
   */
  readonly logits: Tensor;
  /** Row i of {@link logits} ([V] view, absolute position i), without assembling the whole array. */
  row(i: number): Float32Array;
  cache: ActivationCache;
  /** Whether it was recomputed incrementally (false: full recomputation or fallback). */
  incremental: boolean;
}

/**
 * Runs edited conditions of one prompt against its baseline. `baseline.logits` is [1, N, V]; `baseline.cache`
 * must hold every `capture` name (its rows before each condition's scope are reused).
 */
export function runConditionsIncremental(
  model: HookedModel,
  state: BaselineState,
  baseline: { logits: Tensor; cache: ActivationCache },
  conds: readonly IncrementalCondition[],
  opts: IncrementalOptions = {},
): ConditionOutput[] {
  const N = state.tokens.length;
  const { vocabSize: V, dModel: D, nLayers: nL } = model.spec;
  const capture = opts.capture ?? [];
  if (baseline.logits.shape[1] !== N) throw new Error(`incremental: the baseline covers ${baseline.logits.shape[1]} positions, its state ${N}`);
  for (const n of capture) if (!baseline.cache.has(n)) throw new Error(`incremental: capture '${n}' is not in the baseline's cache; capture it in the baseline run too`);
  const batchSize = opts.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer (got ${batchSize})`);
  const out: ConditionOutput[] = new Array(conds.length);

  const full = (i: number) => {
    const r = model.runWithCache(state.tokens, { names: capture.length ? capture : () => false }, { hooks: conds[i]!.hooks, logits: 'all' });
    out[i] = { logits: r.logits!, row: rowsOf(r.logits!.data, V), cache: r.cache, incremental: false };
  };
  const todo: number[] = [];
  conds.forEach((c, i) => {
    const s = c.scope;
    if ((opts.fullRecompute ?? fullByDefault) || !s) return full(i);
    if (!Number.isInteger(s.layer) || s.layer < 0 || s.layer >= nL || !Number.isInteger(s.position) || s.position < 0) throw new Error(`incremental: condition ${i} has an invalid scope (layer ${s.layer}, position ${s.position})`);
    if (s.position >= N) {
      // nothing at or after p exists: the edit cannot change this sequence
      out[i] = { logits: baseline.logits, row: rowsOf(baseline.logits.data, V), cache: baseline.cache, incremental: true };
      return;
    }
    todo.push(i);
  });
  // rows sorted by start layer, so the rows a layer computes are a contiguous span of the batch
  todo.sort((a, b) => conds[a]!.scope!.layer - conds[b]!.scope!.layer);

  const kvPool: KVCache[] = []; // one fork per row of a batch, refilled by the next batch
  for (let c0 = 0; c0 < todo.length; c0 += batchSize) {
    const chunk = todo.slice(c0, c0 + batchSize);
    const got = chunk.map(() => new Map<string, Float32Array>());
    const sizes = chunk.map((i) => recomputed(conds[i]!.scope!, N, nL));
    const rows: BatchRow[] = chunk.map((i, r) => {
      const { layer: L, position: p } = conds[i]!.scope!;
      const { T, k } = sizes[r]!;
      const caps: Hook[] = capture
        .filter((n) => layerOfCapture(n, nL) >= L)
        .map((n) => ({ name: n, fn: (t: Tensor) => void got[r]!.set(n, t.data.slice()) }));
      return {
        tokens: state.tokens.slice(p, p + T),
        kvCache: (kvPool[r] = state.kv.forkInto(kvPool[r], p, L, T)),
        hooks: [...conds[i]!.hooks, ...caps],
        startLayer: L,
        residIn: L > 0 ? state.residPre[L]!.subarray(p * D, (p + T) * D) : undefined,
        ...(k < T ? { startRows: k, residNext: state.residPre[L + 1]!.subarray((p + k) * D, (p + T) * D) } : {}),
      };
    });
    const res = model.forwardBatch(rows, { logits: 'all' });
    const Tmax = res.logits!.shape[1]!;
    chunk.forEach((i, r) => {
      const { layer: L, position: p } = conds[i]!.scope!;
      const { T, k } = sizes[r]!;
      const cache = new ActivationCache();
      for (const n of capture) {
        const base = baseline.cache.get(n);
        const li = layerOfCapture(n, nL);
        if (li < L) cache.set(n, base);
        else cache.set(n, mergeRows(base, got[r]!.get(n)!, p, li === L ? k : T, n));
      }
      out[i] = splicedOutput(baseline.logits.data, res.logits!.data.subarray(r * Tmax * V, (r * Tmax + T) * V), p, N, V, cache);
    });
  }
  return out;
}

/** Row accessor of a [N, V] row-major logits array (absolute positions, range-checked). */
function rowsOf(data: Float32Array, V: number): (i: number) => Float32Array {
  const N = data.length / V;
  return (i) => data.subarray(checkRow(i, N) * V, (i + 1) * V);
}

function checkRow(i: number, N: number): number {
  if (!(Number.isInteger(i) && i >= 0 && i < N)) throw new RangeError(`logits row ${i} out of range [0, ${N})`);
  return i;
}

/**
 * An incremental condition's output: rows p .. p+T−1 its recomputed ones (`own`, [T·V], a view into the
 * batch's logits), the others the baseline's. The [1, N, V] tensor is built only if `logits` is read:
 * copying N·V floats into fresh memory per condition cost more than the recomputation it follows.
 */
function splicedOutput(base: Float32Array, own: Float32Array, p: number, N: number, V: number, cache: ActivationCache): ConditionOutput {
  let full: Tensor | undefined;
  return {
    get logits(): Tensor {
      if (!full) {
        const data = base.slice(0, N * V);
        data.set(own, p * V);
        full = new Tensor(data, [1, N, V]);
      }
      return full;
    },
    row(i: number): Float32Array {
      checkRow(i, N);
      return i < p || i >= p + own.length / V ? base.subarray(i * V, (i + 1) * V) : own.subarray((i - p) * V, (i - p + 1) * V);
    },
    cache,
    incremental: true,
  };
}

/** Layer from which a captured point can differ from the baseline (model-level points: embeddings 0, final ∞-like nL). */
function layerOfCapture(name: string, nL: number): number {
  const p = parseHookName(name);
  if (p) return p.layer;
  return name === 'hook_embed' || name === 'hook_pos_embed' ? 0 : nL;
}

/**
 * What a condition recomputes: T positions from p (its tokens) and k of them at its start layer. With a
 * firstLayerEnd e < N, k = e − p; at the last layer the positions ≥ e are never computed (T = e − p: they
 * read only that layer's unchanged keys and values, so their logits and captures are the baseline's).
 */
function recomputed(s: EditScope, N: number, nL: number): { T: number; k: number } {
  const e = s.firstLayerEnd;
  if (e === undefined || e >= N) return { T: N - s.position, k: N - s.position };
  return s.layer === nL - 1 ? { T: e - s.position, k: e - s.position } : { T: N - s.position, k: e - s.position };
}

/**
 * Baseline tensor with its rows (query positions) p .. p+T−1 replaced by the recomputed ones. Attention rows
 * recomputed at a start layer with fewer positions have fewer key columns (p + T); the rest are masked
 * (causal) in the baseline's row too and stay.
 */
function mergeRows(base: Tensor, rec: Float32Array, p: number, T: number, name: string): Tensor {
  const data = base.data.slice();
  if (/attn\.hook_(attn_scores|pattern)$/.test(name)) {
    const [, H, N, S] = base.shape as [number, number, number, number];
    const Sr = rec.length / (H * T);
    for (let h = 0; h < H; h++) {
      if (Sr === S) data.set(rec.subarray(h * T * S, (h + 1) * T * S), (h * N + p) * S);
      else for (let t = 0; t < T; t++) data.set(rec.subarray((h * T + t) * Sr, (h * T + t + 1) * Sr), (h * N + p + t) * S);
    }
  } else {
    const rs = base.shape.slice(2).reduce((a, b) => a * b, 1);
    data.set(rec, p * rs);
  }
  return new Tensor(data, base.shape);
}
