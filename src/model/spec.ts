/**
 * The resolved, family-independent description of a decoder-only transformer.
 *
 * Every supported family (llama, mistral, qwen2, gemma, phi3, starcoder2, gpt2, gpt_neox, llama2.c)
 * resolves to one `ModelSpec`; the single parameterised forward pass in `forward.ts` reads only this.
 */

export type NormKind = 'rmsnorm' | 'layernorm';
export type Activation = 'silu' | 'gelu' | 'gelu_tanh' | 'relu';

export interface NormSpec {
  kind: NormKind;
  eps: number;
  /** Gemma-style RMSNorm multiplies by (offset + w); 0 for everyone else. */
  weightOffset: number;
}

export interface RotarySpec {
  /**
   * 'half': Hugging Face rotate_half — dimension i pairs with i + rotaryDim/2.
   * 'interleaved': llama2.c / GPT-J — dimension 2i pairs with 2i+1.
   */
  style: 'half' | 'interleaved';
  theta: number;
  /** Number of leading head dimensions that are rotated (partial rotary: < dHead). Even. */
  rotaryDim: number;
  /** Optional rope scaling (llama3, linear, longrope/su). Null when absent. */
  scaling: RopeScaling | null;
}

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number }
  | {
      type: 'longrope';
      shortFactor: number[];
      longFactor: number[];
      originalMaxPositionEmbeddings: number;
      maxPositionEmbeddings: number;
    };

export interface ModelSpec {
  /** HF `model_type` (or 'llama2c'). */
  family: string;
  /** HF `architectures[0]` if known. */
  architecture: string;
  nLayers: number;
  dModel: number;
  nHeads: number;
  nKvHeads: number;
  dHead: number;
  dMlp: number;
  vocabSize: number;
  /** Maximum context length (max_position_embeddings / n_positions / seq_len). */
  nCtx: number;
  norm: NormSpec;
  /** Learned absolute position embeddings (GPT-2) or rotary. */
  positional: 'rotary' | 'learned';
  rotary: RotarySpec | null;
  /** 'gated': down(act(gate(x)) * up(x)); 'plain': out(act(in(x))). */
  mlp: { kind: 'gated' | 'plain'; act: Activation };
  /** Attention and MLP read the same normalised input and are added together (GPT-NeoX/Phi-2 style). */
  parallelResidual: boolean;
  /** GPT-NeoX parallel residual uses two norms (ln1 for attn, ln2 for mlp); false = shared ln1. */
  parallelUsesTwoNorms: boolean;
  tiedEmbeddings: boolean;
  /** Embeddings multiplied by this (Gemma: sqrt(dModel), rounded through the weight dtype as HF does). */
  embedScale: number;
  /** Multiplier on q·k (1/sqrt(dHead) normally; Gemma-2 uses query_pre_attn_scalar). */
  attnScale: number;
  /** tanh soft-capping of attention scores (Gemma-2); null = none. */
  attnSoftcap: number | null;
  /** tanh soft-capping of final logits; null = none. */
  finalSoftcap: number | null;
  /** Sliding-window attention width in tokens (a key is visible if q - k < window); null = full causal. */
  slidingWindow: number | null;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  /** Dtype of the checkpoint as stored (compute is always float32). */
  weightDtype: string;
}

/**
 * Canonical weight names (TransformerLens-like). Shapes use PyTorch Linear layout [out, in].
 *
 *   embed.W_E                 [vocab, d_model]
 *   pos_embed.W_pos           [n_ctx, d_model]                 (learned positions only)
 *   blocks.{L}.ln1.w / .b     [d_model]
 *   blocks.{L}.attn.W_Q / b_Q [n_heads * d_head, d_model] / [n_heads * d_head]
 *   blocks.{L}.attn.W_K / b_K [n_kv_heads * d_head, d_model]
 *   blocks.{L}.attn.W_V / b_V [n_kv_heads * d_head, d_model]
 *   blocks.{L}.attn.W_O / b_O [d_model, n_heads * d_head] / [d_model]
 *   blocks.{L}.ln2.w / .b     [d_model]
 *   blocks.{L}.mlp.W_gate     [d_mlp, d_model]                 (gated MLPs only)
 *   blocks.{L}.mlp.W_in/b_in  [d_mlp, d_model] / [d_mlp]
 *   blocks.{L}.mlp.W_out/b_out[d_model, d_mlp] / [d_model]
 *   ln_final.w / .b           [d_model]
 *   unembed.W_U / b_U         [vocab, d_model] / [vocab]       (W_U is embed.W_E when tied)
 */
export type CanonicalWeightName = string;
