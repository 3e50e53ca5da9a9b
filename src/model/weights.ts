/**
 * Assembles canonical, typed model weights from checkpoint tensors using a family's weight table.
 * Matrices (embeddings, projections, unembedding) stay in their checkpoint dtype (float32, bf16 or
 * f16: {@link WeightArray}); norm weights and biases (O(D) each) are widened to float32.
 * Row slices of fused projections are zero-copy subarrays; only transposes and GPT-NeoX's
 * interleaved QKV need a copy, made one tensor at a time in the stored dtype (never a second copy of
 * the model). Every tensor the family table uses is checked for NaN/Inf at load.
 */
import type { FamilyDef, Take, WeightSource } from './families.ts';
import type { ModelSpec } from './spec.ts';
import { f32Weight, firstNonFinite, halfWeight, weightValue, widenWeight, type WeightArray } from '../tensor/weight.ts';

/**
 * A checkpoint tensor: float32 values, or the raw 16-bit patterns of a bf16/f16 tensor (`half` says
 * which; absent means `data` is a Float32Array).
 */
export interface RawTensor {
  shape: number[];
  data: Float32Array | Uint16Array;
  half?: 'bf16' | 'f16';
  /** The file the tensor was read from (error messages); defaults to the source's origin. */
  file?: string;
}

/** Where checkpoint tensors come from (a safetensors file/dir, a llama2.c checkpoint, random init). */
export interface TensorSource {
  /** Human-readable origin for error messages (a file path). */
  readonly origin: string;
  get(name: string): RawTensor | undefined;
  names(): string[];
}

export interface NormWeights {
  w: Float32Array;
  b: Float32Array | null;
}

export interface LayerWeights {
  ln1: NormWeights;
  /** null for parallel-residual families that share ln1 (not used by any current family). */
  ln2: NormWeights | null;
  /** [H·Dh, D] */ Wq: WeightArray;
  bq: Float32Array | null;
  /** [Hkv·Dh, D] */ Wk: WeightArray;
  bk: Float32Array | null;
  /** [Hkv·Dh, D] */ Wv: WeightArray;
  bv: Float32Array | null;
  /** [D, H·Dh] */ Wo: WeightArray;
  bo: Float32Array | null;
  /** [M, D] (gated MLPs) */ Wgate: WeightArray | null;
  bgate: Float32Array | null;
  /** [M, D] */ Win: WeightArray;
  bin: Float32Array | null;
  /** [D, M] */ Wout: WeightArray;
  bout: Float32Array | null;
}

/** Model weights; matrices in their checkpoint dtype, norms and biases float32. */
export interface ModelWeights {
  /** [V, D] */ embed: WeightArray;
  /** [nCtx, D] learned positions, or null */ posEmbed: WeightArray | null;
  layers: LayerWeights[];
  lnFinal: NormWeights;
  /** [V, D]; the same object as `embed` when embeddings are tied */ unembed: WeightArray;
  /** [V] or null */ unembedBias: Float32Array | null;
}

/** The matrices the forward multiplies activations by (linearWeight): every layer's, then the unembedding. */
export function productMatrices(w: ModelWeights): WeightArray[] {
  return [...w.layers.flatMap((l) => [l.Wq, l.Wk, l.Wv, l.Wo, ...(l.Wgate ? [l.Wgate] : []), l.Win, l.Wout]), w.unembed];
}

/** Bytes held by the model's weights (tied embeddings counted once). */
export function modelWeightBytes(w: ModelWeights): number {
  const seen = new Set<ArrayBufferView>();
  let total = 0;
  const add = (a: WeightArray | Float32Array | null | undefined) => {
    if (!a) return;
    const d = a instanceof Float32Array ? a : a.data;
    if (seen.has(d)) return;
    seen.add(d);
    total += d.byteLength;
  };
  add(w.embed);
  add(w.posEmbed);
  add(w.unembed);
  add(w.unembedBias);
  add(w.lnFinal.w);
  add(w.lnFinal.b);
  for (const l of w.layers) {
    for (const v of [l.Wq, l.bq, l.Wk, l.bk, l.Wv, l.bv, l.Wo, l.bo, l.Wgate, l.bgate, l.Win, l.bin, l.Wout, l.bout, l.ln1.w, l.ln1.b, l.ln2?.w, l.ln2?.b]) add(v);
  }
  return total;
}

/**
 * The same weights with every half-precision matrix widened to float32 (exact): the float32-resident
 * path the bf16 path is compared against (tests, `npm run bench`). Each matrix is widened once; tied
 * embeddings stay one array.
 */
export function widenModelWeights(w: ModelWeights): ModelWeights {
  const memo = new Map<WeightArray, WeightArray>();
  const wide = (a: WeightArray): WeightArray => {
    if (a.dtype === 'f32') return a;
    let r = memo.get(a);
    if (!r) memo.set(a, (r = f32Weight(widenWeight(a))));
    return r;
  };
  const wideOpt = (a: WeightArray | null) => (a ? wide(a) : null);
  return {
    ...w,
    embed: wide(w.embed),
    posEmbed: wideOpt(w.posEmbed),
    unembed: wide(w.unembed),
    layers: w.layers.map((l) => ({ ...l, Wq: wide(l.Wq), Wk: wide(l.Wk), Wv: wide(l.Wv), Wo: wide(l.Wo), Wgate: wideOpt(l.Wgate), Win: wide(l.Win), Wout: wide(l.Wout) })),
  };
}

function rawAsWeight(t: RawTensor): WeightArray {
  if (t.half) return halfWeight(t.half, t.data as Uint16Array);
  if (!(t.data instanceof Float32Array)) throw new Error('internal: a 16-bit tensor without its half dtype');
  return f32Weight(t.data);
}

/** Rejects a tensor holding NaN or ±Inf, naming the file, the checkpoint key and the first bad element. */
function checkFinite(t: RawTensor, key: string, origin: string): void {
  const i = firstNonFinite(t.data, t.half ?? 'f32');
  if (i < 0) return;
  const v = weightValue(rawAsWeight(t), i);
  const at = t.shape.length > 1 ? `[${unravel(i, t.shape).join(', ')}]` : `[${i}]`;
  throw new Error(
    `${t.file ?? origin}: tensor '${key}' holds a non-finite value (${v}) at element ${at} of shape [${t.shape.join(', ')}]; ` +
      'the checkpoint is corrupt (or was saved after a diverged run); re-download or re-export it',
  );
}

function unravel(i: number, shape: number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

/** Shape a canonical weight must have under `s` (PyTorch layout). */
export function expectedShape(canonical: string, s: ModelSpec): number[] {
  const D = s.dModel;
  const q = s.nHeads * s.dHead;
  const kv = s.nKvHeads * s.dHead;
  const suffix = canonical.replace(/^blocks\.\{L\}\./, '');
  switch (suffix) {
    case 'embed.W_E':
    case 'unembed.W_U':
      return [s.vocabSize, D];
    case 'unembed.b_U':
      return [s.vocabSize];
    case 'pos_embed.W_pos':
      return [s.nCtx, D];
    case 'ln1.w':
    case 'ln1.b':
    case 'ln2.w':
    case 'ln2.b':
    case 'ln_final.w':
    case 'ln_final.b':
    case 'attn.b_O':
    case 'mlp.b_out':
      return [D];
    case 'attn.W_Q':
      return [q, D];
    case 'attn.b_Q':
      return [q];
    case 'attn.W_K':
    case 'attn.W_V':
      return [kv, D];
    case 'attn.b_K':
    case 'attn.b_V':
      return [kv];
    case 'attn.W_O':
      return [D, q];
    case 'mlp.W_gate':
    case 'mlp.W_in':
      return [s.dMlp, D];
    case 'mlp.b_gate':
    case 'mlp.b_in':
      return [s.dMlp];
    case 'mlp.W_out':
      return [D, s.dMlp];
    default:
      throw new Error(`internal: no expected shape for canonical weight '${canonical}'`);
  }
}

function applyTake(t: RawTensor, take: Take | undefined, s: ModelSpec): RawTensor {
  if (!take) return t;
  const cols = t.shape.length === 2 ? t.shape[1]! : 1;
  switch (take.kind) {
    case 'rows': {
      const a = take.from(s);
      const b = take.to(s);
      if (b > t.shape[0]!) throw new Error(`fused tensor has ${t.shape[0]} rows, need at least ${b}`);
      const data = t.data.subarray(a * cols, b * cols);
      return { ...t, shape: t.shape.length === 2 ? [b - a, cols] : [b - a], data };
    }
    case 'transpose':
    case 'transposeRows': {
      if (t.shape.length !== 2) throw new Error(`expected a 2-D Conv1D weight, got shape [${t.shape.join(', ')}]`);
      const [r, c] = t.shape as [number, number];
      const a = take.kind === 'transposeRows' ? take.from(s) : 0;
      const b = take.kind === 'transposeRows' ? take.to(s) : c;
      if (b > c) throw new Error(`Conv1D weight has ${c} output columns, need at least ${b}`);
      const out = t.data instanceof Float32Array ? new Float32Array((b - a) * r) : new Uint16Array((b - a) * r);
      for (let i = a; i < b; i++) for (let j = 0; j < r; j++) out[(i - a) * r + j] = t.data[j * c + i]!;
      return { ...t, shape: [b - a, r], data: out };
    }
    case 'neoxQKV': {
      const H = s.nHeads;
      const Dh = s.dHead;
      if (t.shape[0] !== 3 * H * Dh) throw new Error(`query_key_value has ${t.shape[0]} rows, expected 3·heads·head_dim = ${3 * H * Dh}`);
      const out = t.data instanceof Float32Array ? new Float32Array(H * Dh * cols) : new Uint16Array(H * Dh * cols);
      for (let h = 0; h < H; h++) {
        const src = (h * 3 + take.part) * Dh * cols;
        out.set(t.data.subarray(src, src + Dh * cols) as never, h * Dh * cols);
      }
      return { ...t, shape: t.shape.length === 2 ? [H * Dh, cols] : [H * Dh], data: out };
    }
  }
}

/** Builds typed model weights; every tensor's shape is checked against the spec. */
export function assembleWeights(spec: ModelSpec, family: FamilyDef, src: TensorSource): ModelWeights {
  // The family table is the only authority: a tensor it lists is required unless marked optional;
  // a canonical weight it does not list is absent (e.g. biases of bias-free families).
  const fetch = (canonical: string, layer: number | null): RawTensor | null => {
    const entry: WeightSource | undefined = family.weights[canonical];
    if (!entry) return null;
    const key = layer === null ? entry.key : entry.key.replace('{L}', String(layer));
    let raw = src.get(key);
    for (const [prefix, repl] of family.keyAlternatives ?? []) {
      if (raw || !key.startsWith(prefix)) continue;
      raw = src.get(repl + key.slice(prefix.length));
    }
    if (!raw) {
      if (entry.optional) return null;
      throw new Error(`${src.origin}: tensor '${key}' (${canonical.replace('{L}', String(layer))}) is missing from the checkpoint; the file may be truncated or belong to another architecture`);
    }
    checkFinite(raw, key, src.origin);
    let t: RawTensor;
    try {
      t = applyTake(raw, entry.take, spec);
    } catch (e) {
      throw new Error(`${src.origin}: tensor '${key}': ${(e as Error).message}`);
    }
    const want = expectedShape(canonical, spec);
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new Error(`${src.origin}: tensor '${key}' has shape [${t.shape.join(', ')}] but config.json implies [${want.join(', ')}] for ${canonical.replace('{L}', String(layer))}; config and weights do not match`);
    }
    return t;
  };
  const reqRaw = (c: string, l: number | null): RawTensor => {
    const t = fetch(c, l);
    if (!t) throw new Error(`internal: family '${family.modelType}' has no required weight '${c}'`);
    return t;
  };
  /** A matrix, kept in its stored dtype. */
  const mat = (c: string, l: number | null = null): WeightArray => rawAsWeight(reqRaw(c, l));
  /** A vector (norm weight, bias), widened to float32. */
  const vec = (t: RawTensor | null): Float32Array | null => (t ? (t.half ? widenWeight(rawAsWeight(t)) : (t.data as Float32Array)) : null);
  const req = (c: string, l: number | null = null): Float32Array => vec(reqRaw(c, l))!;
  const opt = (c: string, l: number | null = null) => vec(fetch(c, l));

  const embed = mat('embed.W_E');
  const layers: LayerWeights[] = [];
  for (let l = 0; l < spec.nLayers; l++) {
    const gated = spec.mlp.kind === 'gated';
    layers.push({
      ln1: { w: req('blocks.{L}.ln1.w', l), b: opt('blocks.{L}.ln1.b', l) },
      ln2: family.weights['blocks.{L}.ln2.w'] ? { w: req('blocks.{L}.ln2.w', l), b: opt('blocks.{L}.ln2.b', l) } : null,
      Wq: mat('blocks.{L}.attn.W_Q', l),
      bq: opt('blocks.{L}.attn.b_Q', l),
      Wk: mat('blocks.{L}.attn.W_K', l),
      bk: opt('blocks.{L}.attn.b_K', l),
      Wv: mat('blocks.{L}.attn.W_V', l),
      bv: opt('blocks.{L}.attn.b_V', l),
      Wo: mat('blocks.{L}.attn.W_O', l),
      bo: opt('blocks.{L}.attn.b_O', l),
      Wgate: gated ? mat('blocks.{L}.mlp.W_gate', l) : null,
      bgate: gated ? opt('blocks.{L}.mlp.b_gate', l) : null,
      Win: mat('blocks.{L}.mlp.W_in', l),
      bin: opt('blocks.{L}.mlp.b_in', l),
      Wout: mat('blocks.{L}.mlp.W_out', l),
      bout: opt('blocks.{L}.mlp.b_out', l),
    });
  }
  const lnFinal = { w: req('ln_final.w'), b: opt('ln_final.b') };
  let unembed: WeightArray;
  if (spec.tiedEmbeddings) {
    unembed = embed;
  } else {
    const entry = family.weights['unembed.W_U'];
    const u = entry ? src.get(entry.key) : undefined;
    if (!u) {
      const key = family.weights['unembed.W_U']?.key ?? 'lm_head.weight';
      throw new Error(`${src.origin}: tensor '${key}' is missing but config.json has tie_word_embeddings=false; the checkpoint is incomplete (or set tie_word_embeddings=true if the model really ties them)`);
    }
    unembed = mat('unembed.W_U');
  }
  return {
    embed,
    posEmbed: spec.positional === 'learned' ? mat('pos_embed.W_pos') : null,
    layers,
    lnFinal,
    unembed,
    unembedBias: opt('unembed.b_U'),
  };
}
