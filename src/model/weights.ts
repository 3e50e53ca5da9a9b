/**
 * Assembles canonical, typed model weights from checkpoint tensors using a family's weight table.
 * Row slices of fused projections are zero-copy subarrays; only transposes and GPT-NeoX's
 * interleaved QKV need a copy, made one tensor at a time (never a second copy of the model).
 */
import type { FamilyDef, Take, WeightSource } from './families.ts';
import type { ModelSpec } from './spec.ts';

/** A checkpoint tensor widened to float32. */
export interface RawTensor {
  shape: number[];
  data: Float32Array;
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
  /** [H·Dh, D] */ Wq: Float32Array;
  bq: Float32Array | null;
  /** [Hkv·Dh, D] */ Wk: Float32Array;
  bk: Float32Array | null;
  /** [Hkv·Dh, D] */ Wv: Float32Array;
  bv: Float32Array | null;
  /** [D, H·Dh] */ Wo: Float32Array;
  bo: Float32Array | null;
  /** [M, D] (gated MLPs) */ Wgate: Float32Array | null;
  bgate: Float32Array | null;
  /** [M, D] */ Win: Float32Array;
  bin: Float32Array | null;
  /** [D, M] */ Wout: Float32Array;
  bout: Float32Array | null;
}

export interface ModelWeights {
  /** [V, D] */ embed: Float32Array;
  /** [nCtx, D] learned positions, or null */ posEmbed: Float32Array | null;
  layers: LayerWeights[];
  lnFinal: NormWeights;
  /** [V, D]; the same array as `embed` when embeddings are tied */ unembed: Float32Array;
  /** [V] or null */ unembedBias: Float32Array | null;
}

function expectedShape(canonical: string, s: ModelSpec): number[] {
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
      return { shape: t.shape.length === 2 ? [b - a, cols] : [b - a], data };
    }
    case 'transpose':
    case 'transposeRows': {
      if (t.shape.length !== 2) throw new Error(`expected a 2-D Conv1D weight, got shape [${t.shape.join(', ')}]`);
      const [r, c] = t.shape as [number, number];
      const a = take.kind === 'transposeRows' ? take.from(s) : 0;
      const b = take.kind === 'transposeRows' ? take.to(s) : c;
      if (b > c) throw new Error(`Conv1D weight has ${c} output columns, need at least ${b}`);
      const out = new Float32Array((b - a) * r);
      for (let i = a; i < b; i++) for (let j = 0; j < r; j++) out[(i - a) * r + j] = t.data[j * c + i]!;
      return { shape: [b - a, r], data: out };
    }
    case 'neoxQKV': {
      const H = s.nHeads;
      const Dh = s.dHead;
      if (t.shape[0] !== 3 * H * Dh) throw new Error(`query_key_value has ${t.shape[0]} rows, expected 3·heads·head_dim = ${3 * H * Dh}`);
      const out = new Float32Array(H * Dh * cols);
      for (let h = 0; h < H; h++) {
        const src = (h * 3 + take.part) * Dh * cols;
        out.set(t.data.subarray(src, src + Dh * cols), h * Dh * cols);
      }
      return { shape: t.shape.length === 2 ? [H * Dh, cols] : [H * Dh], data: out };
    }
  }
}

/** Builds typed model weights; every tensor's shape is checked against the spec. */
export function assembleWeights(spec: ModelSpec, family: FamilyDef, src: TensorSource): ModelWeights {
  // The family table is the only authority: a tensor it lists is required unless marked optional;
  // a canonical weight it does not list is absent (e.g. biases of bias-free families).
  const fetch = (canonical: string, layer: number | null): Float32Array | null => {
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
    return t.data;
  };
  const req = (c: string, l: number | null = null): Float32Array => {
    const t = fetch(c, l);
    if (!t) throw new Error(`internal: family '${family.modelType}' has no required weight '${c}'`);
    return t;
  };
  const opt = (c: string, l: number | null = null) => fetch(c, l);

  const embed = req('embed.W_E');
  const layers: LayerWeights[] = [];
  for (let l = 0; l < spec.nLayers; l++) {
    const gated = spec.mlp.kind === 'gated';
    layers.push({
      ln1: { w: req('blocks.{L}.ln1.w', l), b: opt('blocks.{L}.ln1.b', l) },
      ln2: family.weights['blocks.{L}.ln2.w'] ? { w: req('blocks.{L}.ln2.w', l), b: opt('blocks.{L}.ln2.b', l) } : null,
      Wq: req('blocks.{L}.attn.W_Q', l),
      bq: opt('blocks.{L}.attn.b_Q', l),
      Wk: req('blocks.{L}.attn.W_K', l),
      bk: opt('blocks.{L}.attn.b_K', l),
      Wv: req('blocks.{L}.attn.W_V', l),
      bv: opt('blocks.{L}.attn.b_V', l),
      Wo: req('blocks.{L}.attn.W_O', l),
      bo: opt('blocks.{L}.attn.b_O', l),
      Wgate: gated ? req('blocks.{L}.mlp.W_gate', l) : null,
      bgate: gated ? opt('blocks.{L}.mlp.b_gate', l) : null,
      Win: req('blocks.{L}.mlp.W_in', l),
      bin: opt('blocks.{L}.mlp.b_in', l),
      Wout: req('blocks.{L}.mlp.W_out', l),
      bout: opt('blocks.{L}.mlp.b_out', l),
    });
  }
  const lnFinal = { w: req('ln_final.w'), b: opt('ln_final.b') };
  let unembed: Float32Array;
  if (spec.tiedEmbeddings) {
    unembed = embed;
  } else {
    const entry = family.weights['unembed.W_U'];
    const u = entry ? src.get(entry.key) : undefined;
    if (!u) {
      const key = family.weights['unembed.W_U']?.key ?? 'lm_head.weight';
      throw new Error(`${src.origin}: tensor '${key}' is missing but config.json has tie_word_embeddings=false; the checkpoint is incomplete (or set tie_word_embeddings=true if the model really ties them)`);
    }
    unembed = fetch('unembed.W_U', null)!;
  }
  return {
    embed,
    posEmbed: spec.positional === 'learned' ? req('pos_embed.W_pos') : null,
    layers,
    lnFinal,
    unembed,
    unembedBias: opt('unembed.b_U'),
  };
}
