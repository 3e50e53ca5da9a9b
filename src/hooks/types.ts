/**
 * Hook functions: read or replace a tensor at a named hook point during a forward pass.
 */
import type { Tensor } from '../tensor/tensor.ts';

export interface HookContext {
  /** Canonical hook name, e.g. 'blocks.2.attn.hook_pattern'. */
  readonly name: string;
  /** Layer index, or null for model-level hooks (hook_embed, hook_logits, ...). */
  readonly layer: number | null;
  /**
   * Absolute token positions of the query/row dimension T of this tensor: length T for a single sequence;
   * for a batch hook (see `batch`) length B·T, row-major [B, T], −1 at padding.
   */
  readonly queryPositions: Int32Array;
  /** Absolute token positions of the key dimension S (attention scores/pattern only; length S, or B·S with −1 at padding for a batch). */
  readonly keyPositions?: Int32Array;
  /** Batch size B of the tensor's leading dimension (absent = 1). Positions are per row, never shared. */
  readonly batch?: number;
}

/**
 * A hook sees the live tensor. Returning a Tensor of the same shape replaces it downstream;
 * returning undefined keeps it (a hook may also edit `t.data` in place). Hooks at the same
 * point run in registration order, each seeing the previous one's result.
 */
export type HookFn = (t: Tensor, ctx: HookContext) => Tensor | void;

export interface Hook {
  /** Exact hook name, or a predicate over names (e.g. n => n.endsWith('hook_pattern')). */
  name: string | ((name: string) => boolean);
  fn: HookFn;
}
