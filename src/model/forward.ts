/**
 * The one parameterised decoder forward pass for every supported family, over a batch of sequences.
 *
 * Data flow per block (hook points in brackets; shapes in src/hooks/names.ts):
 *   [resid_pre] → ln1 [ln1.hook_normalized] → q,k,v [hook_q,k,v] → rotary [hook_rot_q,k]
 *   → scores·scale, softcap, causal/sliding mask [attn.hook_attn_scores] → softmax [attn.hook_pattern]
 *   → pattern·V [attn.hook_z] → W_O [hook_attn_out] → [hook_resid_mid] → ln2 [ln2.hook_normalized]
 *   → MLP [mlp.hook_pre, mlp.hook_post, hook_mlp_out] → [hook_resid_post]
 * Parallel-residual families (GPT-NeoX) add attn_out and mlp_out (MLP reads ln2(resid_pre)) to resid_pre.
 *
 * Batching (docs/batching.md): row b brings T_b new tokens and its own KV cache (past_b positions), so its
 * queries sit at ABSOLUTE positions past_b .. past_b+T_b−1 and its keys at 0 .. past_b+T_b−1 — positions are
 * per row, never shared, which is what keeps a short prompt in a ragged batch equal to running it alone.
 * Activations are right-padded to [B, Tmax, …] (padding rows are zeros and never attended to); attention
 * is computed per row against that row's keys only. Linear layers run once over all rows.
 */
import type { MatmulBackend } from '../tensor/backend.ts';
import { Tensor } from '../tensor/tensor.ts';
import type { Hook, HookContext } from '../hooks/types.ts';
import { HookRunner } from '../hooks/registry.ts';
import { hookPointsOf } from '../hooks/names.ts';
import type { ModelSpec } from './spec.ts';
import type { ModelWeights } from './weights.ts';
import { widenInto, type WeightArray } from '../tensor/weight.ts';
import { KVCache } from './kv-cache.ts';
import { acquireScratch, releaseScratch, type Scratch } from './scratch.ts';
import { applyRotary, decoderOps, expandHeads, normalize, rotaryTables, scaleRange, softcapRange } from './ops.ts';
import { spanProduct, type RowSpan } from './row-spans.ts';

export interface ForwardOptions {
  /** Hooks to run (read or replace tensors). */
  hooks?: readonly Hook[];
  /** Cache to read past keys/values from and append this call's to. Positions continue from cache.length. */
  kvCache?: KVCache;
  /** Which positions get logits: all (default), only the last one, or none (activations only). */
  logits?: 'all' | 'last' | 'none';
}

export interface ForwardResult {
  /** [1, T, V] for 'all', [1, 1, V] for 'last', null for 'none'. Raw logits (nats after log-softmax). */
  logits: Tensor | null;
  /** Absolute positions of the tokens processed in this call (length T). */
  positions: Int32Array;
}

/** One sequence of a batched forward pass. */
export interface BatchRow {
  /** This row's new token ids (T_b ≥ 1). With `startLayer` > 0 only their count matters. */
  tokens: ArrayLike<number>;
  /** This row's own cache (never shared between rows): queries continue at absolute position kvCache.length. */
  kvCache?: KVCache;
  /** Hooks for this row only. They see [1, T_b, …] / [1, H, T_b, S_b] tensors and this row's positions, and run before the batch hooks. */
  hooks?: readonly Hook[];
  /**
   * Incremental recomputation: skip the embeddings and layers < startLayer for this row; `residIn` is its
   * residual stream at the input of `startLayer`. Its cache must already hold keys/values for positions
   * 0 .. kvCache.length−1 in every layer ≥ startLayer. Default 0.
   */
  startLayer?: number;
  /** [T_b, D] residual stream at the input of `startLayer` for the new positions (required when startLayer > 0). */
  residIn?: Float32Array;
  /**
   * Incremental recomputation of an edit that acts after layer `startLayer`'s keys and values (an attention
   * edge edit): at `startLayer` only the first `startRows` new positions are computed; the others cannot
   * change there and enter at startLayer + 1 with `residNext`. Default T_b. This row's cache entries of layer
   * `startLayer` for positions ≥ kvCache.length + startRows are left unwritten (a scratch fork's, never read).
   */
  startRows?: number;
  /** [T_b − startRows, D]: the residual stream at the input of startLayer + 1 of positions ≥ startRows. */
  residNext?: Float32Array;
}

export interface BatchForwardOptions {
  /**
   * Hooks over the whole batch: tensors [B, Tmax, …] / [B, H, Tmax, Smax], right-padded; ctx.queryPositions
   * is [B·Tmax] and ctx.keyPositions [B·Smax] (row-major), −1 at padding and at rows that skip the layer.
   */
  hooks?: readonly Hook[];
  /** Which positions get logits: every real position (default), each row's last one, or none. */
  logits?: 'all' | 'last' | 'none';
}

export interface BatchForwardResult {
  /** [B, Tmax, V] ('all'; padding rows are 0), [B, 1, V] ('last': row b's last new token), or null. */
  logits: Tensor | null;
  /** Absolute positions of each row's new tokens (length T_b). */
  positions: Int32Array[];
}

export interface ForwardModel {
  readonly spec: ModelSpec;
  readonly weights: ModelWeights;
  readonly backend: MatmulBackend;
}

const hookNameCache = new WeakMap<ModelSpec, string[]>();
export function hookNamesOf(spec: ModelSpec): string[] {
  let n = hookNameCache.get(spec);
  if (!n) {
    n = hookPointsOf(spec);
    hookNameCache.set(spec, n);
  }
  return n;
}

/** Runs the decoder on `tokens` (new tokens only when a KV cache is given). A batch of one row. */
export function forward(model: ForwardModel, tokens: ArrayLike<number>, opts: ForwardOptions = {}): ForwardResult {
  if (tokens.length === 0) throw new Error('forward: empty token sequence');
  const r = forwardBatch(model, [{ tokens, kvCache: opts.kvCache }], { hooks: opts.hooks, logits: opts.logits });
  return { logits: r.logits, positions: r.positions[0]! };
}

/** Hook points that see keys/values per query head (GQA groups expanded). */
const KV_POINTS = ['attn.hook_k', 'attn.hook_v', 'attn.hook_rot_k'] as const;
/** Row b's slab of a right-padded [B, Tmax, …] buffer: its first `n` rows of `rs` values. */
const slab = (buf: Float32Array, b: number, Tmax: number, n: number, rs: number) => buf.subarray(b * Tmax * rs, (b * Tmax + n) * rs);

/** Runs the decoder on a batch of sequences of different lengths (see the module doc and docs/batching.md). */
export function forwardBatch(model: ForwardModel, rows: readonly BatchRow[], opts: BatchForwardOptions = {}): BatchForwardResult {
  const scratch = acquireScratch(model.weights);
  try {
    return forwardBatchIn(model, rows, opts, scratch);
  } finally {
    releaseScratch(scratch);
  }
}

function forwardBatchIn(model: ForwardModel, rows: readonly BatchRow[], opts: BatchForwardOptions, scratch: Scratch): BatchForwardResult {
  const { spec: s, weights: W, backend: B } = model;
  const NB = rows.length;
  if (NB === 0) throw new Error('forwardBatch: empty batch (no rows)');
  const D = s.dModel, H = s.nHeads, Hkv = s.nKvHeads, Dh = s.dHead, M = s.dMlp, V = s.vocabSize;
  const group = H / Hkv;
  const nL = s.nLayers;

  // ---- per-row geometry
  const Tb = rows.map((r) => r.tokens.length);
  const caches: KVCache[] = [];
  const seen = new Set<KVCache>();
  const start: number[] = [];
  const first: number[] = []; // positions computed at the row's start layer
  rows.forEach((r, b) => {
    if (Tb[b] === 0) throw new Error(`forward: empty token sequence (batch row ${b})`);
    if (r.kvCache) {
      if (seen.has(r.kvCache)) throw new Error(`forwardBatch: rows share one KV cache (row ${b}); every row needs its own`);
      seen.add(r.kvCache);
    }
    const st = r.startLayer ?? 0;
    if (!Number.isInteger(st) || st < 0 || st >= nL) throw new Error(`forwardBatch: row ${b} startLayer ${st} is out of range 0..${nL - 1}`);
    if (st > 0 && (!r.residIn || r.residIn.length !== Tb[b]! * D)) throw new Error(`forwardBatch: row ${b} starts at layer ${st} and needs residIn of ${Tb[b]! * D} values ([T, D]), got ${r.residIn?.length ?? 'none'}`);
    if (st > 0 && !r.kvCache) throw new Error(`forwardBatch: row ${b} starts at layer ${st} and needs a KV cache holding its earlier positions`);
    const k = r.startRows ?? Tb[b]!;
    if (!Number.isInteger(k) || k < 1 || k > Tb[b]!) throw new Error(`forwardBatch: row ${b} startRows ${k} is out of range 1..${Tb[b]}`);
    if (k < Tb[b]! && (st >= nL - 1 || !r.residNext || r.residNext.length !== (Tb[b]! - k) * D))
      throw new Error(`forwardBatch: row ${b} computes ${k} of ${Tb[b]} positions at layer ${st}: needs startLayer < ${nL - 1} and residNext of ${(Tb[b]! - k) * D} values, got ${r.residNext?.length ?? 'none'}`);
    first.push(k);
    start.push(st);
    caches.push(r.kvCache ?? scratch.tempCache(b, nL, H, Dh, Tb[b]!));
  });
  const past = caches.map((c) => c.length);
  const Sb = rows.map((_, b) => past[b]! + Tb[b]!);
  const Tmax = Math.max(...Tb);
  const Smax = Math.max(...Sb);
  for (let b = 0; b < NB; b++) {
    if (Sb[b]! > s.nCtx) throw new Error(`sequence of ${Sb[b]} tokens exceeds the model's context length ${s.nCtx}` + (NB > 1 ? ` (batch row ${b})` : ''));
  }
  const R = NB * Tmax; // padded rows
  const qPos = rows.map((_, b) => Int32Array.from({ length: Tb[b]! }, (_, t) => past[b]! + t));
  const kPos = rows.map((_, b) => Int32Array.from({ length: Sb[b]! }, (_, j) => j));

  const hookNames = hookNamesOf(s);
  const batchHooks = new HookRunner(opts.hooks ?? [], hookNames);
  const rowHooks = rows.map((r) => (r.hooks && r.hooks.length ? new HookRunner(r.hooks, hookNames) : null));

  // Flattened positions for batch hooks; rows not computed at `layer` (incremental rows before their start) read −1.
  const active = (b: number, layer: number) => start[b]! <= layer;
  /** Positions of row b computed at `layer` (its first ones; all of T_b but at a start layer with startRows), their keys, query and key positions. */
  const tAt = (b: number, layer: number) => (layer === start[b] ? first[b]! : Tb[b]!);
  const sAt = (b: number, layer: number) => past[b]! + tAt(b, layer);
  const qAt = (b: number, layer: number) => qPos[b]!.subarray(0, tAt(b, layer));
  const kAt = (b: number, layer: number) => kPos[b]!.subarray(0, sAt(b, layer));
  const flatQ = (layer: number) => {
    if (NB === 1 && active(0, layer)) return qAt(0, layer);
    const out = new Int32Array(NB * Tmax).fill(-1);
    for (let b = 0; b < NB; b++) if (active(b, layer)) out.set(qAt(b, layer), b * Tmax);
    return out;
  };
  const flatK = (layer: number) => {
    if (NB === 1) return kAt(0, layer);
    const out = new Int32Array(NB * Smax).fill(-1);
    for (let b = 0; b < NB; b++) if (active(b, layer)) out.set(kAt(b, layer), b * Smax);
    return out;
  };

  /** Whether any hook of this pass listens at `name` (row hooks of any row, or batch hooks). */
  const hooked = (name: string): boolean => batchHooks.has(name) || rowHooks.some((rh) => rh?.has(name) === true);
  /** Runs row hooks (on each row's view) then batch hooks at a [B, Tmax, ...inner] point; `li` is the layer index (0 for embeddings, nL after the last block). */
  const runRows = (name: string, buf: Float32Array, inner: readonly number[], layer: number | null, li: number): Float32Array => {
    const rs = inner.reduce((a, c) => a * c, 1);
    for (let b = 0; b < NB; b++) {
      const rh = rowHooks[b];
      if (!rh || !rh.has(name) || !active(b, li)) continue;
      const T = layer === null ? Tb[b]! : tAt(b, li), view = slab(buf, b, Tmax, T, rs);
      const out = rh.run(name, view, [1, T, ...inner], { layer, queryPositions: qPos[b]!.subarray(0, T) });
      if (out !== view) view.set(out);
    }
    if (!batchHooks.has(name)) return buf;
    return batchHooks.run(name, buf, [NB, Tmax, ...inner], { layer, queryPositions: flatQ(li), batch: NB });
  };

  // elementwise ops: native where the backend has them (the 'ts' backend never does)
  const ops = decoderOps(B.ops);

  // ---- embeddings (rows that start at a later layer bring their residual stream instead)
  let resid: Float32Array = scratch.take('embed', R * D);
  for (let b = 0; b < NB; b++) {
    const toks = rows[b]!.tokens;
    if (start[b]! > 0) {
      resid.set(rows[b]!.residIn!, b * Tmax * D);
      continue;
    }
    for (let t = 0; t < Tb[b]!; t++) {
      const id = toks[t]!;
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`token id ${id} at position ${past[b]! + t} is outside the vocabulary [0, ${V})` + (NB > 1 ? ` (batch row ${b})` : ''));
      const o = (b * Tmax + t) * D;
      widenInto(W.embed, id * D, D, resid, o);
      if (s.embedScale !== 1) scaleRange(resid, o, o + D, s.embedScale);
    }
  }
  const anyEmbed = start.some((x) => x === 0);
  if (anyEmbed) resid = runRows('hook_embed', resid, [D], null, 0);
  if (W.posEmbed && anyEmbed) {
    let pe: Float32Array = scratch.take('posEmbed', R * D);
    for (let b = 0; b < NB; b++) {
      if (start[b]! > 0) continue;
      for (let t = 0; t < Tb[b]!; t++) widenInto(W.posEmbed, qPos[b]![t]! * D, D, pe, (b * Tmax + t) * D);
    }
    pe = runRows('hook_pos_embed', pe, [D], null, 0);
    for (let b = 0; b < NB; b++) {
      if (start[b]! > 0) continue;
      const o = b * Tmax * D;
      ops.addRange(resid, resid, pe, o, o + Tb[b]! * D);
    }
  }

  // rotary tables per row (each row's own positions and sequence length), laid out [B·Tmax, rot/2]
  let rot: { cos: Float32Array; sin: Float32Array } | null = null;
  if (s.rotary) {
    const half = s.rotary.rotaryDim / 2;
    if (NB === 1) rot = rotaryTables(s.rotary, qPos[0]!, Sb[0]!);
    else {
      rot = { cos: new Float32Array(R * half), sin: new Float32Array(R * half) };
      for (let b = 0; b < NB; b++) {
        const t = rotaryTables(s.rotary, qPos[b]!, Sb[b]!);
        rot.cos.set(t.cos, b * Tmax * half);
        rot.sin.set(t.sin, b * Tmax * half);
      }
    }
  }
  for (let b = 0; b < NB; b++) caches[b]!.reserve(Tb[b]!);

  // scratch buffers reused across layers
  const xn = scratch.take('xn', R * D);
  const q = scratch.take('q', R * H * Dh);
  const kKv = scratch.take('k', R * Hkv * Dh);
  const vKv = scratch.take('v', R * Hkv * Dh);
  // expanded keys/values, only for layers with hooks on them (taken on first use)
  let kExp: Float32Array | null = null;
  let vExp: Float32Array | null = null;
  const hid = scratch.take('hid', R * M);
  const up = s.mlp.kind === 'gated' ? scratch.take('up', R * M) : null;
  // Workspace reused by every layer and every call (src/model/scratch.ts): a hook's tensor is only valid during the call; clone to keep it.
  const scoresBuf = rows.map((_, b) => scratch.take(`scores${b}`, H * Tb[b]! * Sb[b]!));
  const zBuf = scratch.take('z', R * H * Dh);
  const attnOutBuf = scratch.take('attnOut', R * D);
  const residMidBuf = s.parallelResidual ? null : scratch.take('residMid', R * D);
  const mlpInBuf = scratch.take('mlpIn', R * D);
  const mlpOutBuf = scratch.take('mlpOut', R * D);
  const residA = scratch.take('residA', R * D);
  const residB = scratch.take('residB', R * D);

  /** Attention-point hooks: row hooks on each row's [1, H, T_b, S_b] buffer, then batch hooks on a padded [B, H, Tmax, Smax] copy. */
  const runAttn = (name: string, bufs: Float32Array[], l: number, fill: number): void => {
    for (let b = 0; b < NB; b++) {
      const rh = rowHooks[b];
      if (!rh || !rh.has(name) || !active(b, l)) continue;
      const T = tAt(b, l), S = sAt(b, l), view = bufs[b]!.subarray(0, H * T * S);
      const out = rh.run(name, view, [1, H, T, S], { layer: l, queryPositions: qAt(b, l), keyPositions: kAt(b, l) });
      if (out !== view) view.set(out);
    }
    if (!batchHooks.has(name)) return;
    const ctx: Omit<HookContext, 'name'> = { layer: l, queryPositions: flatQ(l), keyPositions: flatK(l), batch: NB };
    if (NB === 1) {
      const T = tAt(0, l), S = sAt(0, l), view = bufs[0]!.subarray(0, H * T * S);
      const out = batchHooks.run(name, view, [1, H, T, S], ctx);
      if (out !== view) view.set(out);
      return;
    }
    const pad = scratch.take(`pad${fill}`, NB * H * Tmax * Smax, fill);
    for (let b = 0; b < NB; b++) {
      if (!active(b, l)) continue;
      const src = bufs[b]!, T = tAt(b, l), S = sAt(b, l);
      for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) pad.set(src.subarray((h * T + t) * S, (h * T + t + 1) * S), ((b * H + h) * Tmax + t) * Smax);
    }
    const out = batchHooks.run(name, pad, [NB, H, Tmax, Smax], ctx);
    for (let b = 0; b < NB; b++) {
      if (!active(b, l)) continue;
      const dst = bufs[b]!, T = tAt(b, l), S = sAt(b, l);
      for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) {
        const o = ((b * H + h) * Tmax + t) * Smax;
        dst.set(out.subarray(o, o + S), (h * T + t) * S);
      }
    }
  };
  // Products over the real rows of the layer's span (src/model/row-spans.ts): padding rows (t ≥ T_b) and rows
  // not computed at this layer are left out; their outputs keep the zeros `scratch.take` filled them with
  // (nothing reads them but hooks over the padded batch).
  const take = (key: string, floats: number) => scratch.take(key, floats, null);
  let spans: RowSpan[] = [];
  const lin = (x: Float32Array, w: WeightArray, b: Float32Array | null, k: number, n: number, out: Float32Array) => spanProduct(B, x, w, b, k, n, out, spans, take);
  const cap = s.attnSoftcap;
  const win = s.slidingWindow;

  for (let l = 0; l < nL; l++) {
    const L = W.layers[l]!;
    const name = (suffix: string) => `blocks.${l}.${suffix}`;
    // rows starting here bring their residual stream (earlier layers were skipped for them)
    for (let b = 0; b < NB; b++) if (l > 0 && start[b] === l) resid.set(rows[b]!.residIn!, b * Tmax * D);
    // contiguous span of padded rows that contains every row computed at this layer
    let lo = 0, hi = NB;
    while (lo < NB && !active(lo, l)) lo++;
    if (lo === NB) continue; // every row starts at a later layer
    while (!active(hi - 1, l)) hi--;
    const r0 = lo * Tmax, rn = (hi - lo) * Tmax;
    spans = [];
    for (let b = lo; b < hi; b++) if (active(b, l)) spans.push({ src: b * Tmax - r0, dst: b * Tmax - r0, rows: tAt(b, l) });
    const sub = (buf: Float32Array, rs: number) => (rn === R ? buf : buf.subarray(r0 * rs, (r0 + rn) * rs));
    resid = runRows(name('hook_resid_pre'), resid, [D], l, l);

    // ---- attention
    let a: Float32Array = xn;
    ops.normalize(sub(resid, D), rn, D, s.norm, L.ln1, sub(a, D));
    a = runRows(name('ln1.hook_normalized'), a, [D], l, l);
    let qq: Float32Array = q;
    lin(sub(a, D), L.Wq, L.bq, D, H * Dh, sub(qq, H * Dh));
    lin(sub(a, D), L.Wk, L.bk, D, Hkv * Dh, sub(kKv, Hkv * Dh));
    lin(sub(a, D), L.Wv, L.bv, D, Hkv * Dh, sub(vKv, Hkv * Dh));
    // Hooks see keys and values with GQA groups expanded to one head per query head, [B·Tmax, H, Dh]. Without
    // such hooks at this layer they stay grouped, [B·Tmax, Hkv, Dh]: rotary acts per position and head, so
    // rotating the Hkv heads and expanding while writing the cache gives the same values with 1/group of the
    // rotary work and no expanded copy.
    const grouped = !KV_POINTS.some((p) => hooked(name(p)));
    const kvHeads = grouped ? Hkv : H;
    let kk: Float32Array = kKv;
    let vv: Float32Array = vKv;
    if (!grouped) {
      kk = kExp ??= scratch.take('kExp', R * H * Dh);
      vv = vExp ??= scratch.take('vExp', R * H * Dh);
      expandHeads(sub(kKv, Hkv * Dh), rn, Hkv, group, Dh, sub(kk, H * Dh));
      expandHeads(sub(vKv, Hkv * Dh), rn, Hkv, group, Dh, sub(vv, H * Dh));
    }
    qq = runRows(name('attn.hook_q'), qq, [H, Dh], l, l);
    if (!grouped) {
      kk = runRows(name('attn.hook_k'), kk, [H, Dh], l, l);
      vv = runRows(name('attn.hook_v'), vv, [H, Dh], l, l);
    }
    if (rot && s.rotary) {
      const half = s.rotary.rotaryDim / 2;
      const cos = rot.cos.subarray(r0 * half), sin = rot.sin.subarray(r0 * half);
      applyRotary(sub(qq, H * Dh), rn, H, Dh, s.rotary, cos, sin);
      applyRotary(sub(kk, kvHeads * Dh), rn, kvHeads, Dh, s.rotary, cos, sin);
      qq = runRows(name('attn.hook_rot_q'), qq, [H, Dh], l, l);
      if (!grouped) kk = runRows(name('attn.hook_rot_k'), kk, [H, Dh], l, l);
    }

    // scores [H, T_b, S_b] per row, against that row's keys only
    for (let b = 0; b < NB; b++) {
      if (!active(b, l)) continue;
      const T = tAt(b, l), S = sAt(b, l), c = caches[b]!;
      c.write(l, slab(kk, b, Tmax, T, kvHeads * Dh), slab(vv, b, Tmax, T, kvHeads * Dh), T, H / kvHeads, ops.scatterHeads);
      const scores = scoresBuf[b]!;
      const keys = c.keyHeads(l);
      B.attnScores(slab(qq, b, Tmax, T, H * Dh), keys.data, keys.headStride, H, T, S, Dh, scores);
      ops.scaleMask(scores, H, T, S, qAt(b, l), s.attnScale, win, cap);
    }
    runAttn(name('attn.hook_attn_scores'), scoresBuf, l, -Infinity);
    for (let b = 0; b < NB; b++) {
      if (!active(b, l)) continue;
      ops.softmaxRows(scoresBuf[b]!, H * tAt(b, l), sAt(b, l));
    }
    runAttn(name('attn.hook_pattern'), scoresBuf, l, 0);

    // z [B·Tmax, H, Dh]
    let z: Float32Array = zBuf;
    for (let b = 0; b < NB; b++) {
      if (!active(b, l)) continue;
      const T = tAt(b, l), S = sAt(b, l);
      const values = caches[b]!.valueHeads(l);
      B.attnMix(scoresBuf[b]!, values.data, values.headStride, H, T, S, Dh, slab(z, b, Tmax, T, H * Dh));
    }
    z = runRows(name('attn.hook_z'), z, [H, Dh], l, l);
    let attnOut: Float32Array = attnOutBuf;
    lin(sub(z, H * Dh), L.Wo, L.bo, H * Dh, D, sub(attnOut, D));
    attnOut = runRows(name('hook_attn_out'), attnOut, [D], l, l);

    // ---- MLP
    const e0 = r0 * D, e1 = (r0 + rn) * D;
    let mlpIn: Float32Array;
    let residMid: Float32Array | null = null;
    if (s.parallelResidual) {
      mlpIn = mlpInBuf;
      ops.normalize(sub(resid, D), rn, D, s.norm, L.ln2 ?? L.ln1, sub(mlpIn, D));
    } else {
      residMid = residMidBuf!;
      ops.addRange(residMid, resid, attnOut, e0, e1);
      residMid = runRows(name('hook_resid_mid'), residMid, [D], l, l);
      mlpIn = mlpInBuf;
      ops.normalize(sub(residMid, D), rn, D, s.norm, L.ln2!, sub(mlpIn, D));
    }
    mlpIn = runRows(name('ln2.hook_normalized'), mlpIn, [D], l, l);
    let pre: Float32Array = hid;
    if (s.mlp.kind === 'gated') {
      lin(sub(mlpIn, D), L.Wgate!, L.bgate, D, M, sub(pre, M));
      lin(sub(mlpIn, D), L.Win, L.bin, D, M, sub(up!, M));
    } else {
      lin(sub(mlpIn, D), L.Win, L.bin, D, M, sub(pre, M));
    }
    pre = runRows(name('mlp.hook_pre'), pre, [M], l, l);
    let post: Float32Array = pre;
    ops.activate(sub(post, M), rn * M, s.mlp.act);
    if (up) ops.mulRange(post, up, r0 * M, (r0 + rn) * M);
    post = runRows(name('mlp.hook_post'), post, [M], l, l);
    let mlpOut: Float32Array = mlpOutBuf;
    lin(sub(post, M), L.Wout, L.bout, M, D, sub(mlpOut, D));
    mlpOut = runRows(name('hook_mlp_out'), mlpOut, [D], l, l);

    const next = resid === residA ? residB : residA;
    const base = residMid ?? resid;
    if (s.parallelResidual) ops.add3Range(next, base, attnOut, mlpOut, e0, e1);
    else ops.addRange(next, base, mlpOut, e0, e1);
    resid = runRows(name('hook_resid_post'), next, [D], l, l);
    // positions an edit at this start layer cannot change enter the next layer with the residual they bring
    for (let b = 0; b < NB; b++) if (start[b] === l && first[b]! < Tb[b]!) resid.set(rows[b]!.residNext!, (b * Tmax + first[b]!) * D);
  }
  for (let b = 0; b < NB; b++) caches[b]!.advance(Tb[b]!);

  // ---- final norm and unembedding
  const mode = opts.logits ?? 'all';
  let fin: Float32Array = scratch.take('final', R * D);
  ops.normalize(resid, R, D, s.norm, W.lnFinal, fin);
  fin = runRows('ln_final.hook_normalized', fin, [D], null, nL);
  if (mode === 'none') return { logits: null, positions: qPos };
  const w = mode === 'last' ? 1 : Tmax;
  // real rows only: row b's first n_b rows (n_b = 1 for 'last', T_b otherwise) into logits rows b·w ..
  const nb = rows.map((_, b) => (mode === 'last' ? 1 : Tb[b]!));
  let logits: Float32Array = new Float32Array(NB * w * V);
  const logitSpans = rows.map((_, b) => ({ src: mode === 'last' ? b * Tmax + Tb[b]! - 1 : b * Tmax, dst: b * w, rows: nb[b]! }));
  spanProduct(B, fin, W.unembed, W.unembedBias, D, V, logits, logitSpans, take);
  if (s.finalSoftcap !== null) softcapRange(logits, s.finalSoftcap);
  const lpos = mode === 'last' ? qPos.map((p) => p.subarray(p.length - 1)) : qPos;
  for (let b = 0; b < NB; b++) {
    const rh = rowHooks[b];
    if (!rh || !rh.has('hook_logits')) continue;
    const view = logits.subarray(b * w * V, (b * w + nb[b]!) * V);
    const out = rh.run('hook_logits', view, [1, nb[b]!, V], { layer: null, queryPositions: lpos[b]! });
    if (out !== view) view.set(out);
  }
  if (batchHooks.has('hook_logits')) {
    const flat = NB === 1 ? lpos[0]! : new Int32Array(NB * w).fill(-1);
    if (NB > 1) for (let b = 0; b < NB; b++) flat.set(lpos[b]!, b * w);
    logits = batchHooks.run('hook_logits', logits, [NB, w, V], { layer: null, queryPositions: flat, batch: NB });
  }
  return { logits: new Tensor(logits, [NB, w, V]), positions: qPos };
}
