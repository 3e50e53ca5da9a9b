/**
 * The one parameterised decoder forward pass for every supported family.
 *
 * Data flow per block (hook points in brackets; shapes in src/hooks/names.ts):
 *   [resid_pre] → ln1 [ln1.hook_normalized] → q,k,v [hook_q,k,v] → rotary [hook_rot_q,k]
 *   → scores·scale, softcap, causal/sliding mask [attn.hook_attn_scores] → softmax [attn.hook_pattern]
 *   → pattern·V [attn.hook_z] → W_O [hook_attn_out] → [hook_resid_mid] → ln2 [ln2.hook_normalized]
 *   → MLP [mlp.hook_pre, mlp.hook_post, hook_mlp_out] → [hook_resid_post]
 * Parallel-residual families (GPT-NeoX) add attn_out and mlp_out (MLP reads ln2(resid_pre)) to resid_pre.
 */
import type { MatmulBackend } from '../tensor/backend.ts';
import { Tensor } from '../tensor/tensor.ts';
import type { Hook } from '../hooks/types.ts';
import { HookRunner } from '../hooks/registry.ts';
import { hookPointsOf } from '../hooks/names.ts';
import type { ModelSpec } from './spec.ts';
import type { ModelWeights } from './weights.ts';
import { KVCache } from './kv-cache.ts';
import { activate, applyRotary, normalize, rotaryTables, softmaxRow } from './ops.ts';

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

/** Runs the decoder on `tokens` (new tokens only when a KV cache is given). */
export function forward(model: ForwardModel, tokens: ArrayLike<number>, opts: ForwardOptions = {}): ForwardResult {
  const { spec: s, weights: W, backend: B } = model;
  const T = tokens.length;
  if (T === 0) throw new Error('forward: empty token sequence');
  const cache = opts.kvCache;
  const past = cache ? cache.length : 0;
  const S = past + T;
  if (S > s.nCtx) throw new Error(`sequence of ${S} tokens exceeds the model's context length ${s.nCtx}`);
  const hooks = new HookRunner(opts.hooks ?? [], hookNamesOf(s));
  const D = s.dModel, H = s.nHeads, Hkv = s.nKvHeads, Dh = s.dHead, M = s.dMlp, V = s.vocabSize;
  const group = H / Hkv;

  const qPos = new Int32Array(T);
  for (let t = 0; t < T; t++) qPos[t] = past + t;
  const kPos = new Int32Array(S);
  for (let j = 0; j < S; j++) kPos[j] = j;

  // ---- embeddings
  let resid: Float32Array = new Float32Array(T * D);
  for (let t = 0; t < T; t++) {
    const id = tokens[t]!;
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`token id ${id} at position ${past + t} is outside the vocabulary [0, ${V})`);
    const row = W.embed.subarray(id * D, id * D + D);
    if (s.embedScale !== 1) for (let i = 0; i < D; i++) resid[t * D + i] = row[i]! * s.embedScale;
    else resid.set(row, t * D);
  }
  const mctx = { layer: null, queryPositions: qPos };
  resid = hooks.run('hook_embed', resid, [1, T, D], mctx);
  if (W.posEmbed) {
    let pe: Float32Array = new Float32Array(T * D);
    for (let t = 0; t < T; t++) pe.set(W.posEmbed.subarray(qPos[t]! * D, qPos[t]! * D + D), t * D);
    pe = hooks.run('hook_pos_embed', pe, [1, T, D], mctx);
    for (let i = 0; i < T * D; i++) resid[i]! += pe[i]!;
  }

  const rot = s.rotary ? rotaryTables(s.rotary, qPos, S) : null;
  const localCache = cache ?? new KVCache(s.nLayers, H, Dh, T);
  localCache.reserve(T);

  // scratch buffers reused across layers
  const xn = new Float32Array(T * D);
  const q = new Float32Array(T * H * Dh);
  const kKv = new Float32Array(T * Hkv * Dh);
  const vKv = new Float32Array(T * Hkv * Dh);
  const qh = new Float32Array(T * Dh);
  const zh = new Float32Array(T * Dh);
  const hid = new Float32Array(T * M);
  const up = s.mlp.kind === 'gated' ? new Float32Array(T * M) : null;
  const shape4 = [1, T, H, Dh];
  // Workspace reused by every layer (a hook's tensor is only valid during the call: clone to keep it).
  const scoresBuf = new Float32Array(H * T * S);
  const zBuf = new Float32Array(T * H * Dh);
  const attnOutBuf = new Float32Array(T * D);
  const residMidBuf = s.parallelResidual ? null : new Float32Array(T * D);
  const mlpInBuf = new Float32Array(T * D);
  const mlpOutBuf = new Float32Array(T * D);
  const residA = new Float32Array(T * D);
  const residB = new Float32Array(T * D);
  const lin = (x: Float32Array, w: Float32Array, b: Float32Array | null, m: number, k: number, n: number, out: Float32Array) =>
    B.linear(x, w, b, m, k, n, out);

  for (let l = 0; l < s.nLayers; l++) {
    const L = W.layers[l]!;
    const name = (suffix: string) => `blocks.${l}.${suffix}`;
    const lctx = { layer: l, queryPositions: qPos };
    resid = hooks.run(name('hook_resid_pre'), resid, [1, T, D], lctx);

    // ---- attention
    let a: Float32Array = xn;
    normalize(resid, T, D, s.norm, L.ln1, a);
    a = hooks.run(name('ln1.hook_normalized'), a, [1, T, D], lctx);
    let qq: Float32Array = q;
    lin(a, L.Wq, L.bq, T, D, H * Dh, qq);
    lin(a, L.Wk, L.bk, T, D, Hkv * Dh, kKv);
    lin(a, L.Wv, L.bv, T, D, Hkv * Dh, vKv);
    // expand GQA groups to one key/value head per query head: [T, H, Dh]
    let kk = expandHeads(kKv, T, Hkv, group, Dh);
    let vv = expandHeads(vKv, T, Hkv, group, Dh);
    qq = hooks.run(name('attn.hook_q'), qq, shape4, lctx);
    kk = hooks.run(name('attn.hook_k'), kk, shape4, lctx);
    vv = hooks.run(name('attn.hook_v'), vv, shape4, lctx);
    if (rot && s.rotary) {
      applyRotary(qq, T, H, Dh, s.rotary, rot.cos, rot.sin);
      applyRotary(kk, T, H, Dh, s.rotary, rot.cos, rot.sin);
      qq = hooks.run(name('attn.hook_rot_q'), qq, shape4, lctx);
      kk = hooks.run(name('attn.hook_rot_k'), kk, shape4, lctx);
    }
    localCache.write(l, kk, vv, T);

    // scores [H, T, S]
    let scores: Float32Array = scoresBuf;
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) qh.set(qq.subarray((t * H + h) * Dh, (t * H + h + 1) * Dh), t * Dh);
      const sc = scores.subarray(h * T * S, (h + 1) * T * S);
      B.linear(qh, localCache.keys(l, h, S), null, T, Dh, S, sc);
    }
    const cap = s.attnSoftcap;
    const win = s.slidingWindow;
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const o = (h * T + t) * S;
        const qp = qPos[t]!;
        for (let j = 0; j < S; j++) {
          const kp = kPos[j]!;
          if (kp > qp || (win !== null && qp - kp >= win)) {
            scores[o + j] = -Infinity;
            continue;
          }
          let v = scores[o + j]! * s.attnScale;
          if (cap !== null) v = Math.tanh(v / cap) * cap;
          scores[o + j] = v;
        }
      }
    }
    const actx = { layer: l, queryPositions: qPos, keyPositions: kPos };
    scores = hooks.run(name('attn.hook_attn_scores'), scores, [1, H, T, S], actx);
    for (let r = 0; r < H * T; r++) softmaxRow(scores, r * S, S);
    const pattern = hooks.run(name('attn.hook_pattern'), scores, [1, H, T, S], actx);

    // z [T, H, Dh]
    let z: Float32Array = zBuf;
    for (let h = 0; h < H; h++) {
      B.matmul(pattern.subarray(h * T * S, (h + 1) * T * S), localCache.values(l, h, S), T, S, Dh, zh);
      for (let t = 0; t < T; t++) z.set(zh.subarray(t * Dh, (t + 1) * Dh), (t * H + h) * Dh);
    }
    z = hooks.run(name('attn.hook_z'), z, shape4, lctx);
    let attnOut: Float32Array = attnOutBuf;
    lin(z, L.Wo, L.bo, T, H * Dh, D, attnOut);
    attnOut = hooks.run(name('hook_attn_out'), attnOut, [1, T, D], lctx);

    // ---- MLP
    let mlpIn: Float32Array;
    let residMid: Float32Array | null = null;
    if (s.parallelResidual) {
      mlpIn = mlpInBuf;
      normalize(resid, T, D, s.norm, L.ln2 ?? L.ln1, mlpIn);
    } else {
      residMid = residMidBuf!;
      for (let i = 0; i < T * D; i++) residMid[i] = resid[i]! + attnOut[i]!;
      residMid = hooks.run(name('hook_resid_mid'), residMid, [1, T, D], lctx);
      mlpIn = mlpInBuf;
      normalize(residMid, T, D, s.norm, L.ln2!, mlpIn);
    }
    mlpIn = hooks.run(name('ln2.hook_normalized'), mlpIn, [1, T, D], lctx);
    let pre: Float32Array = hid;
    if (s.mlp.kind === 'gated') {
      lin(mlpIn, L.Wgate!, L.bgate, T, D, M, pre);
      lin(mlpIn, L.Win, L.bin, T, D, M, up!);
    } else {
      lin(mlpIn, L.Win, L.bin, T, D, M, pre);
    }
    pre = hooks.run(name('mlp.hook_pre'), pre, [1, T, M], lctx);
    let post: Float32Array = pre;
    activate(post, T * M, s.mlp.act);
    if (up) for (let i = 0; i < T * M; i++) post[i] = post[i]! * up[i]!;
    post = hooks.run(name('mlp.hook_post'), post, [1, T, M], lctx);
    let mlpOut: Float32Array = mlpOutBuf;
    lin(post, L.Wout, L.bout, T, M, D, mlpOut);
    mlpOut = hooks.run(name('hook_mlp_out'), mlpOut, [1, T, D], lctx);

    const next = resid === residA ? residB : residA;
    const base = residMid ?? resid;
    if (s.parallelResidual) for (let i = 0; i < T * D; i++) next[i] = base[i]! + attnOut[i]! + mlpOut[i]!;
    else for (let i = 0; i < T * D; i++) next[i] = base[i]! + mlpOut[i]!;
    resid = hooks.run(name('hook_resid_post'), next, [1, T, D], lctx);
  }
  localCache.advance(T);

  // ---- final norm and unembedding
  const mode = opts.logits ?? 'all';
  let fin: Float32Array = new Float32Array(T * D);
  normalize(resid, T, D, s.norm, W.lnFinal, fin);
  fin = hooks.run('ln_final.hook_normalized', fin, [1, T, D], mctx);
  if (mode === 'none') return { logits: null, positions: qPos };
  const rows = mode === 'last' ? 1 : T;
  const src = mode === 'last' ? fin.subarray((T - 1) * D, T * D) : fin;
  let logits: Float32Array = new Float32Array(rows * V);
  B.linear(src, W.unembed, W.unembedBias, rows, D, V, logits);
  if (s.finalSoftcap !== null) {
    const c = s.finalSoftcap;
    for (let i = 0; i < logits.length; i++) logits[i] = Math.tanh(logits[i]! / c) * c;
  }
  const lpos = mode === 'last' ? qPos.subarray(T - 1) : qPos;
  logits = hooks.run('hook_logits', logits, [1, rows, V], { layer: null, queryPositions: lpos });
  return { logits: new Tensor(logits, [1, rows, V]), positions: qPos };
}

/** [T, Hkv, Dh] → [T, Hkv·group, Dh] with each KV head repeated for its `group` query heads (HF repeat_kv order). */
function expandHeads(x: Float32Array, T: number, Hkv: number, group: number, Dh: number): Float32Array {
  if (group === 1) return x.slice();
  const H = Hkv * group;
  const out = new Float32Array(T * H * Dh);
  for (let t = 0; t < T; t++) {
    for (let g = 0; g < Hkv; g++) {
      const src = x.subarray((t * Hkv + g) * Dh, (t * Hkv + g + 1) * Dh);
      for (let r = 0; r < group; r++) out.set(src, (t * H + g * group + r) * Dh);
    }
  }
  return out;
}
