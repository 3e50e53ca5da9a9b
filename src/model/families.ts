/**
 * Per-family architecture tables: how a Hugging Face `config.json` resolves to a `ModelSpec`,
 * and how checkpoint tensor names map to canonical weight names. Adding a family = adding an
 * entry here (plus a parity fixture); the forward pass never changes.
 */
import type { Activation, ModelSpec, RopeScaling } from './spec.ts';
import { ConfigReader } from './config-reader.ts';

/** How one canonical weight is obtained from the checkpoint. */
export interface WeightSource {
  /** Checkpoint tensor name; `{L}` = layer index. */
  key: string;
  /** Optional transform of the stored tensor. */
  take?: Take;
  /** The weight may be absent (e.g. biases when a flag is off); absent → treated as none. */
  optional?: boolean;
}

/**
 * - rows(a, b): rows [a, b) of a [rows, cols] matrix (or elements of a vector): used for fused projections.
 * - transpose: Conv1D weights stored [in, out] (GPT-2).
 * - transposeRows(a, b): transpose, then rows [a, b).
 * - neoxQKV(part): GPT-NeoX fused query_key_value laid out as (heads, 3, d_head) along the output dim.
 */
export type Take =
  | { kind: 'rows'; from: (s: ModelSpec) => number; to: (s: ModelSpec) => number }
  | { kind: 'transpose' }
  | { kind: 'transposeRows'; from: (s: ModelSpec) => number; to: (s: ModelSpec) => number }
  | { kind: 'neoxQKV'; part: 0 | 1 | 2 };

export interface FamilyDef {
  modelType: string;
  /** Resolves the family-specific parts of the spec from config.json. */
  resolve(c: ConfigReader): ModelSpec;
  /** canonical name (with {L}) → source. */
  weights: Record<string, WeightSource>;
  /**
   * Alternative checkpoint-name prefixes tried when a key is absent, as [prefix, replacement]
   * (e.g. GPT-2 checkpoints on the Hub store `h.0.attn…` / `wte.weight` without `transformer.`).
   */
  keyAlternatives?: Array<[string, string]>;
}

const qDim = (s: ModelSpec) => s.nHeads * s.dHead;
const kvDim = (s: ModelSpec) => s.nKvHeads * s.dHead;

function rows(from: (s: ModelSpec) => number, to: (s: ModelSpec) => number): Take {
  return { kind: 'rows', from, to };
}

function tRows(from: (s: ModelSpec) => number, to: (s: ModelSpec) => number): Take {
  return { kind: 'transposeRows', from, to };
}

/** HF `hidden_act` names → our activations. */
export function parseActivation(name: string, file: string, field: string): Activation {
  switch (name) {
    case 'silu':
    case 'swish':
      return 'silu';
    case 'gelu':
      return 'gelu';
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
    case 'gelu_tanh':
      return 'gelu_tanh';
    case 'relu':
      return 'relu';
    default:
      throw new Error(`${file}: field '${field}' = '${name}' is not a supported activation (silu, gelu, gelu_new, gelu_pytorch_tanh, relu)`);
  }
}

function ropeScaling(c: ConfigReader): RopeScaling | null {
  const rs = c.optionalObject('rope_scaling');
  if (!rs) return null;
  const type = String(rs['rope_type'] ?? rs['type'] ?? '');
  const num = (k: string): number => {
    const v = rs[k];
    if (typeof v !== 'number') throw new Error(`${c.file}: rope_scaling.${k} must be a number (rope_type '${type}')`);
    return v;
  };
  switch (type) {
    case 'default':
      return null;
    case 'linear':
      return { type: 'linear', factor: num('factor') };
    case 'llama3':
      return {
        type: 'llama3',
        factor: num('factor'),
        lowFreqFactor: num('low_freq_factor'),
        highFreqFactor: num('high_freq_factor'),
        originalMaxPositionEmbeddings: num('original_max_position_embeddings'),
      };
    case 'longrope':
    case 'su': {
      const sf = rs['short_factor'];
      const lf = rs['long_factor'];
      if (!Array.isArray(sf) || !Array.isArray(lf)) throw new Error(`${c.file}: rope_scaling.short_factor/long_factor must be arrays`);
      return {
        type: 'longrope',
        shortFactor: sf.map(Number),
        longFactor: lf.map(Number),
        originalMaxPositionEmbeddings: c.number('original_max_position_embeddings'),
        maxPositionEmbeddings: c.number('max_position_embeddings'),
      };
    }
    default:
      throw new Error(`${c.file}: rope_scaling type '${type}' is not supported (supported: linear, llama3, longrope/su)`);
  }
}

/** Fields every family resolves the same way (overridable per family). */
function commonFields(c: ConfigReader, dHead: number, dtypeDefault: string) {
  return {
    architecture: c.architecture(),
    embedScale: 1,
    attnScale: 1 / Math.sqrt(dHead),
    attnSoftcap: null,
    finalSoftcap: null,
    slidingWindow: null,
    bosTokenId: c.optionalNumber('bos_token_id'),
    eosTokenId: c.eosTokenId(),
    weightDtype: c.optionalString('torch_dtype') ?? dtypeDefault,
  } satisfies Partial<ModelSpec>;
}

/** Shared resolution for the Llama-like families (llama, mistral, qwen2, gemma, phi3). */
function llamaLike(c: ConfigReader, family: string, over: Partial<ModelSpec> = {}): ModelSpec {
  const dModel = c.number('hidden_size');
  const nHeads = c.number('num_attention_heads');
  const nKv = c.optionalNumber('num_key_value_heads') ?? nHeads;
  const dHead = c.optionalNumber('head_dim') ?? dModel / nHeads;
  const partial = c.optionalNumber('partial_rotary_factor') ?? 1;
  return {
    family,
    nLayers: c.number('num_hidden_layers'),
    dModel,
    nHeads,
    nKvHeads: nKv,
    dHead,
    dMlp: c.number('intermediate_size'),
    vocabSize: c.number('vocab_size'),
    nCtx: c.optionalNumber('max_position_embeddings') ?? 2048,
    norm: { kind: 'rmsnorm', eps: c.optionalNumber('rms_norm_eps') ?? 1e-6, weightOffset: 0 },
    positional: 'rotary',
    rotary: { style: 'half', theta: c.optionalNumber('rope_theta') ?? 10000, rotaryDim: Math.floor(dHead * partial), scaling: ropeScaling(c) },
    mlp: { kind: 'gated', act: parseActivation(c.optionalString('hidden_act') ?? 'silu', c.file, 'hidden_act') },
    parallelResidual: false,
    parallelUsesTwoNorms: false,
    tiedEmbeddings: c.optionalBoolean('tie_word_embeddings') ?? false,
    ...commonFields(c, dHead, 'unknown'),
    ...over,
  };
}

/** HF `model.layers.{L}` layout shared by llama, mistral, qwen2, gemma and starcoder2: embeddings, norms, attention. */
const HF_DECODER_CORE: Record<string, WeightSource> = {
  'embed.W_E': { key: 'model.embed_tokens.weight' },
  'blocks.{L}.ln1.w': { key: 'model.layers.{L}.input_layernorm.weight' },
  'blocks.{L}.ln1.b': { key: 'model.layers.{L}.input_layernorm.bias', optional: true },
  'blocks.{L}.attn.W_Q': { key: 'model.layers.{L}.self_attn.q_proj.weight' },
  'blocks.{L}.attn.b_Q': { key: 'model.layers.{L}.self_attn.q_proj.bias', optional: true },
  'blocks.{L}.attn.W_K': { key: 'model.layers.{L}.self_attn.k_proj.weight' },
  'blocks.{L}.attn.b_K': { key: 'model.layers.{L}.self_attn.k_proj.bias', optional: true },
  'blocks.{L}.attn.W_V': { key: 'model.layers.{L}.self_attn.v_proj.weight' },
  'blocks.{L}.attn.b_V': { key: 'model.layers.{L}.self_attn.v_proj.bias', optional: true },
  'blocks.{L}.attn.W_O': { key: 'model.layers.{L}.self_attn.o_proj.weight' },
  'blocks.{L}.attn.b_O': { key: 'model.layers.{L}.self_attn.o_proj.bias', optional: true },
  'blocks.{L}.ln2.w': { key: 'model.layers.{L}.post_attention_layernorm.weight' },
  'blocks.{L}.ln2.b': { key: 'model.layers.{L}.post_attention_layernorm.bias', optional: true },
  'ln_final.w': { key: 'model.norm.weight' },
  'ln_final.b': { key: 'model.norm.bias', optional: true },
  'unembed.W_U': { key: 'lm_head.weight' },
};

/** Llama-layout (gated MLP): llama, mistral, qwen2, gemma. */
const LLAMA_WEIGHTS: Record<string, WeightSource> = {
  ...HF_DECODER_CORE,
  'blocks.{L}.mlp.W_gate': { key: 'model.layers.{L}.mlp.gate_proj.weight' },
  'blocks.{L}.mlp.W_in': { key: 'model.layers.{L}.mlp.up_proj.weight' },
  'blocks.{L}.mlp.b_in': { key: 'model.layers.{L}.mlp.up_proj.bias', optional: true },
  'blocks.{L}.mlp.W_out': { key: 'model.layers.{L}.mlp.down_proj.weight' },
  'blocks.{L}.mlp.b_out': { key: 'model.layers.{L}.mlp.down_proj.bias', optional: true },
};

const PHI3_WEIGHTS: Record<string, WeightSource> = {
  'embed.W_E': { key: 'model.embed_tokens.weight' },
  'blocks.{L}.ln1.w': { key: 'model.layers.{L}.input_layernorm.weight' },
  'blocks.{L}.attn.W_Q': { key: 'model.layers.{L}.self_attn.qkv_proj.weight', take: rows(() => 0, qDim) },
  'blocks.{L}.attn.W_K': { key: 'model.layers.{L}.self_attn.qkv_proj.weight', take: rows(qDim, (s) => qDim(s) + kvDim(s)) },
  'blocks.{L}.attn.W_V': { key: 'model.layers.{L}.self_attn.qkv_proj.weight', take: rows((s) => qDim(s) + kvDim(s), (s) => qDim(s) + 2 * kvDim(s)) },
  'blocks.{L}.attn.W_O': { key: 'model.layers.{L}.self_attn.o_proj.weight' },
  'blocks.{L}.ln2.w': { key: 'model.layers.{L}.post_attention_layernorm.weight' },
  'blocks.{L}.mlp.W_gate': { key: 'model.layers.{L}.mlp.gate_up_proj.weight', take: rows(() => 0, (s) => s.dMlp) },
  'blocks.{L}.mlp.W_in': { key: 'model.layers.{L}.mlp.gate_up_proj.weight', take: rows((s) => s.dMlp, (s) => 2 * s.dMlp) },
  'blocks.{L}.mlp.W_out': { key: 'model.layers.{L}.mlp.down_proj.weight' },
  'ln_final.w': { key: 'model.norm.weight' },
  'unembed.W_U': { key: 'lm_head.weight' },
};

/** StarCoder2: LayerNorm biases are required; plain c_fc/c_proj MLP. */
const STARCODER2_WEIGHTS: Record<string, WeightSource> = {
  ...HF_DECODER_CORE,
  'blocks.{L}.ln1.b': { key: 'model.layers.{L}.input_layernorm.bias' },
  'blocks.{L}.ln2.b': { key: 'model.layers.{L}.post_attention_layernorm.bias' },
  'ln_final.b': { key: 'model.norm.bias' },
  'blocks.{L}.mlp.W_in': { key: 'model.layers.{L}.mlp.c_fc.weight' },
  'blocks.{L}.mlp.b_in': { key: 'model.layers.{L}.mlp.c_fc.bias', optional: true },
  'blocks.{L}.mlp.W_out': { key: 'model.layers.{L}.mlp.c_proj.weight' },
  'blocks.{L}.mlp.b_out': { key: 'model.layers.{L}.mlp.c_proj.bias', optional: true },
};

const d = (s: ModelSpec) => s.dModel;
const GPT2_WEIGHTS: Record<string, WeightSource> = {
  'embed.W_E': { key: 'transformer.wte.weight' },
  'pos_embed.W_pos': { key: 'transformer.wpe.weight' },
  'blocks.{L}.ln1.w': { key: 'transformer.h.{L}.ln_1.weight' },
  'blocks.{L}.ln1.b': { key: 'transformer.h.{L}.ln_1.bias' },
  'blocks.{L}.attn.W_Q': { key: 'transformer.h.{L}.attn.c_attn.weight', take: tRows(() => 0, d) },
  'blocks.{L}.attn.W_K': { key: 'transformer.h.{L}.attn.c_attn.weight', take: tRows(d, (s) => 2 * d(s)) },
  'blocks.{L}.attn.W_V': { key: 'transformer.h.{L}.attn.c_attn.weight', take: tRows((s) => 2 * d(s), (s) => 3 * d(s)) },
  'blocks.{L}.attn.b_Q': { key: 'transformer.h.{L}.attn.c_attn.bias', take: rows(() => 0, d) },
  'blocks.{L}.attn.b_K': { key: 'transformer.h.{L}.attn.c_attn.bias', take: rows(d, (s) => 2 * d(s)) },
  'blocks.{L}.attn.b_V': { key: 'transformer.h.{L}.attn.c_attn.bias', take: rows((s) => 2 * d(s), (s) => 3 * d(s)) },
  'blocks.{L}.attn.W_O': { key: 'transformer.h.{L}.attn.c_proj.weight', take: { kind: 'transpose' } },
  'blocks.{L}.attn.b_O': { key: 'transformer.h.{L}.attn.c_proj.bias' },
  'blocks.{L}.ln2.w': { key: 'transformer.h.{L}.ln_2.weight' },
  'blocks.{L}.ln2.b': { key: 'transformer.h.{L}.ln_2.bias' },
  'blocks.{L}.mlp.W_in': { key: 'transformer.h.{L}.mlp.c_fc.weight', take: { kind: 'transpose' } },
  'blocks.{L}.mlp.b_in': { key: 'transformer.h.{L}.mlp.c_fc.bias' },
  'blocks.{L}.mlp.W_out': { key: 'transformer.h.{L}.mlp.c_proj.weight', take: { kind: 'transpose' } },
  'blocks.{L}.mlp.b_out': { key: 'transformer.h.{L}.mlp.c_proj.bias' },
  'ln_final.w': { key: 'transformer.ln_f.weight' },
  'ln_final.b': { key: 'transformer.ln_f.bias' },
  'unembed.W_U': { key: 'lm_head.weight' },
};

const NEOX_WEIGHTS: Record<string, WeightSource> = {
  'embed.W_E': { key: 'gpt_neox.embed_in.weight' },
  'blocks.{L}.ln1.w': { key: 'gpt_neox.layers.{L}.input_layernorm.weight' },
  'blocks.{L}.ln1.b': { key: 'gpt_neox.layers.{L}.input_layernorm.bias' },
  'blocks.{L}.attn.W_Q': { key: 'gpt_neox.layers.{L}.attention.query_key_value.weight', take: { kind: 'neoxQKV', part: 0 } },
  'blocks.{L}.attn.W_K': { key: 'gpt_neox.layers.{L}.attention.query_key_value.weight', take: { kind: 'neoxQKV', part: 1 } },
  'blocks.{L}.attn.W_V': { key: 'gpt_neox.layers.{L}.attention.query_key_value.weight', take: { kind: 'neoxQKV', part: 2 } },
  'blocks.{L}.attn.b_Q': { key: 'gpt_neox.layers.{L}.attention.query_key_value.bias', take: { kind: 'neoxQKV', part: 0 } },
  'blocks.{L}.attn.b_K': { key: 'gpt_neox.layers.{L}.attention.query_key_value.bias', take: { kind: 'neoxQKV', part: 1 } },
  'blocks.{L}.attn.b_V': { key: 'gpt_neox.layers.{L}.attention.query_key_value.bias', take: { kind: 'neoxQKV', part: 2 } },
  'blocks.{L}.attn.W_O': { key: 'gpt_neox.layers.{L}.attention.dense.weight' },
  'blocks.{L}.attn.b_O': { key: 'gpt_neox.layers.{L}.attention.dense.bias' },
  'blocks.{L}.ln2.w': { key: 'gpt_neox.layers.{L}.post_attention_layernorm.weight' },
  'blocks.{L}.ln2.b': { key: 'gpt_neox.layers.{L}.post_attention_layernorm.bias' },
  'blocks.{L}.mlp.W_in': { key: 'gpt_neox.layers.{L}.mlp.dense_h_to_4h.weight' },
  'blocks.{L}.mlp.b_in': { key: 'gpt_neox.layers.{L}.mlp.dense_h_to_4h.bias' },
  'blocks.{L}.mlp.W_out': { key: 'gpt_neox.layers.{L}.mlp.dense_4h_to_h.weight' },
  'blocks.{L}.mlp.b_out': { key: 'gpt_neox.layers.{L}.mlp.dense_4h_to_h.bias' },
  'ln_final.w': { key: 'gpt_neox.final_layer_norm.weight' },
  'ln_final.b': { key: 'gpt_neox.final_layer_norm.bias' },
  'unembed.W_U': { key: 'embed_out.weight' },
};

function slidingWindow(c: ConfigReader): number | null {
  const w = c.optionalNumber('sliding_window');
  return w && w > 0 ? w : null;
}

export const FAMILIES: Record<string, FamilyDef> = {
  llama: { modelType: 'llama', resolve: (c) => llamaLike(c, 'llama'), weights: LLAMA_WEIGHTS },
  mistral: { modelType: 'mistral', resolve: (c) => llamaLike(c, 'mistral', { slidingWindow: slidingWindow(c) }), weights: LLAMA_WEIGHTS },
  qwen2: {
    modelType: 'qwen2',
    resolve: (c) => {
      if (c.optionalBoolean('use_sliding_window')) {
        throw new Error(`${c.file}: use_sliding_window=true (per-layer Qwen2 sliding window) is not supported yet; set it to false to run with full causal attention`);
      }
      return llamaLike(c, 'qwen2');
    },
    weights: LLAMA_WEIGHTS,
  },
  gemma: {
    modelType: 'gemma',
    resolve: (c) => {
      // HF GemmaMLP uses `hidden_activation` (default gelu_pytorch_tanh); the legacy `hidden_act` 'gelu' is ignored.
      const act = parseActivation(c.optionalString('hidden_activation') ?? 'gelu_pytorch_tanh', c.file, 'hidden_activation');
      const dModel = c.number('hidden_size');
      return llamaLike(c, 'gemma', {
        norm: { kind: 'rmsnorm', eps: c.optionalNumber('rms_norm_eps') ?? 1e-6, weightOffset: 1 },
        mlp: { kind: 'gated', act },
        tiedEmbeddings: c.optionalBoolean('tie_word_embeddings') ?? true,
        // HF: hidden * torch.tensor(hidden_size**0.5, dtype=hidden.dtype); we compute in float32.
        embedScale: Math.fround(Math.sqrt(dModel)),
      });
    },
    weights: LLAMA_WEIGHTS,
  },
  phi3: { modelType: 'phi3', resolve: (c) => llamaLike(c, 'phi3', { slidingWindow: slidingWindow(c) }), weights: PHI3_WEIGHTS },
  starcoder2: {
    modelType: 'starcoder2',
    resolve: (c) =>
      llamaLike(c, 'starcoder2', {
        norm: { kind: 'layernorm', eps: c.optionalNumber('norm_epsilon') ?? 1e-5, weightOffset: 0 },
        mlp: { kind: 'plain', act: parseActivation(c.optionalString('hidden_act') ?? 'gelu_pytorch_tanh', c.file, 'hidden_act') },
        tiedEmbeddings: c.optionalBoolean('tie_word_embeddings') ?? true,
        slidingWindow: slidingWindow(c),
      }),
    weights: STARCODER2_WEIGHTS,
  },
  gpt2: {
    modelType: 'gpt2',
    resolve: (c) => {
      const dModel = c.number('n_embd');
      const nHeads = c.number('n_head');
      const dHead = dModel / nHeads;
      return {
        family: 'gpt2',
        nLayers: c.number('n_layer'),
        dModel,
        nHeads,
        nKvHeads: nHeads,
        dHead,
        dMlp: c.optionalNumber('n_inner') ?? 4 * dModel,
        vocabSize: c.number('vocab_size'),
        nCtx: c.number('n_positions'),
        norm: { kind: 'layernorm', eps: c.optionalNumber('layer_norm_epsilon') ?? 1e-5, weightOffset: 0 },
        positional: 'learned',
        rotary: null,
        mlp: { kind: 'plain', act: parseActivation(c.optionalString('activation_function') ?? 'gelu_new', c.file, 'activation_function') },
        parallelResidual: false,
        parallelUsesTwoNorms: false,
        tiedEmbeddings: c.optionalBoolean('tie_word_embeddings') ?? true,
        ...commonFields(c, dHead, 'float32'),
        attnScale: c.optionalBoolean('scale_attn_weights') === false ? 1 : 1 / Math.sqrt(dHead),
      };
    },
    weights: GPT2_WEIGHTS,
    keyAlternatives: [['transformer.', '']],
  },
  gpt_neox: {
    modelType: 'gpt_neox',
    resolve: (c) => {
      const dModel = c.number('hidden_size');
      const nHeads = c.number('num_attention_heads');
      const dHead = dModel / nHeads;
      const pct = c.optionalNumber('rotary_pct') ?? c.optionalNumber('partial_rotary_factor') ?? 0.25;
      const parallel = c.optionalBoolean('use_parallel_residual') ?? true;
      return {
        family: 'gpt_neox',
        nLayers: c.number('num_hidden_layers'),
        dModel,
        nHeads,
        nKvHeads: nHeads,
        dHead,
        dMlp: c.number('intermediate_size'),
        vocabSize: c.number('vocab_size'),
        nCtx: c.optionalNumber('max_position_embeddings') ?? 2048,
        norm: { kind: 'layernorm', eps: c.optionalNumber('layer_norm_eps') ?? 1e-5, weightOffset: 0 },
        positional: 'rotary',
        rotary: {
          style: 'half',
          theta: c.optionalNumber('rotary_emb_base') ?? c.optionalNumber('rope_theta') ?? 10000,
          rotaryDim: Math.floor(dHead * pct),
          scaling: ropeScaling(c),
        },
        mlp: { kind: 'plain', act: parseActivation(c.optionalString('hidden_act') ?? 'gelu', c.file, 'hidden_act') },
        parallelResidual: parallel,
        parallelUsesTwoNorms: true,
        tiedEmbeddings: c.optionalBoolean('tie_word_embeddings') ?? false,
        ...commonFields(c, dHead, 'float32'),
      };
    },
    weights: NEOX_WEIGHTS,
  },
};

export const SUPPORTED_MODEL_TYPES = Object.keys(FAMILIES);

/** Resolves a parsed config.json into a ModelSpec; unknown model_type lists the supported ones. */
export function resolveSpec(config: unknown, file: string): { spec: ModelSpec; family: FamilyDef } {
  const c = new ConfigReader(config, file);
  const modelType = c.string('model_type');
  const fam = FAMILIES[modelType];
  if (!fam) {
    throw new Error(`${file}: model_type '${modelType}' is not supported. Supported: ${SUPPORTED_MODEL_TYPES.join(', ')} (plus llama2.c checkpoints)`);
  }
  const spec = fam.resolve(c);
  validateSpec(spec, file);
  return { spec, family: fam };
}

export function validateSpec(s: ModelSpec, file: string): void {
  const bad = (field: string, why: string): never => {
    throw new Error(`${file}: ${field} ${why}`);
  };
  for (const [k, v] of Object.entries({ nLayers: s.nLayers, dModel: s.dModel, nHeads: s.nHeads, nKvHeads: s.nKvHeads, dMlp: s.dMlp, vocabSize: s.vocabSize })) {
    if (!Number.isInteger(v) || v <= 0) bad(k, `must be a positive integer (got ${v})`);
  }
  if (!Number.isInteger(s.dHead) || s.dHead <= 0) bad('head_dim', `must be a positive integer; hidden_size / num_attention_heads = ${s.dHead}`);
  if (s.nHeads % s.nKvHeads !== 0) bad('num_key_value_heads', `(${s.nKvHeads}) must divide num_attention_heads (${s.nHeads})`);
  if (s.rotary && (s.rotary.rotaryDim % 2 !== 0 || s.rotary.rotaryDim > s.dHead)) bad('rotary dims', `(${s.rotary.rotaryDim}) must be even and ≤ head_dim ${s.dHead}`);
  if (!(s.norm.eps > 0)) bad('norm eps', 'must be positive');
}
