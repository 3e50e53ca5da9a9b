/**
 * Hook points: one canonical name per tensor, declared once (TransformerLens naming).
 *
 * Shapes use: B = batch (1 for a single sequence; the rows of a `forwardBatch` for batch hooks, docs/batching.md), T = query positions in this forward call
 * (the new tokens; with a KV cache T can be 1), S = key positions visible to this call
 * (cached + new), H = query heads, Dh = head dimension, D = d_model, M = d_mlp, V = vocab.
 * Positions passed to hooks are ABSOLUTE token positions (index into the full token sequence,
 * BOS included), so a hook behaves the same with and without a KV cache.
 */

/** Per-model hook points (not per layer). */
export const MODEL_HOOKS = {
  /** [B, T, D] token embeddings (after Gemma's sqrt(D) scale, before positional embeddings). */
  hook_embed: 'hook_embed',
  /** [B, T, D] learned positional embeddings (GPT-2 only). */
  hook_pos_embed: 'hook_pos_embed',
  /** [B, T, D] output of the final norm. */
  ln_final_hook_normalized: 'ln_final.hook_normalized',
  /** [B, T, V] logits (after final soft-capping, if any). */
  hook_logits: 'hook_logits',
} as const;

/** Per-layer hook points; `{L}` is the layer index. */
export const LAYER_HOOK_TEMPLATES = [
  'blocks.{L}.hook_resid_pre', // [B, T, D] residual stream entering the block
  'blocks.{L}.ln1.hook_normalized', // [B, T, D] input of attention after ln1
  'blocks.{L}.attn.hook_q', // [B, T, H, Dh] queries, before rotary
  'blocks.{L}.attn.hook_k', // [B, T, H, Dh] keys of the NEW positions, before rotary, repeated per query head (GQA)
  'blocks.{L}.attn.hook_v', // [B, T, H, Dh] values of the new positions, repeated per query head (GQA)
  'blocks.{L}.attn.hook_rot_q', // [B, T, H, Dh] queries after rotary
  'blocks.{L}.attn.hook_rot_k', // [B, T, H, Dh] keys after rotary (new positions, per query head)
  'blocks.{L}.attn.hook_attn_scores', // [B, H, T, S] pre-softmax scores, scaled, soft-capped, AFTER the causal/sliding mask (-Infinity where masked)
  'blocks.{L}.attn.hook_pattern', // [B, H, T, S] attention weights (rows sum to 1 over visible keys; an all-masked row is all zeros)
  'blocks.{L}.attn.hook_z', // [B, T, H, Dh] pattern · V per head
  'blocks.{L}.hook_attn_out', // [B, T, D] attention output (after W_O and b_O)
  'blocks.{L}.hook_resid_mid', // [B, T, D] resid_pre + attn_out (sequential-residual families only)
  'blocks.{L}.ln2.hook_normalized', // [B, T, D] input of the MLP after ln2
  'blocks.{L}.mlp.hook_pre', // [B, T, M] MLP pre-activation (the gate branch for gated MLPs)
  'blocks.{L}.mlp.hook_post', // [B, T, M] MLP hidden after activation (× up branch for gated MLPs)
  'blocks.{L}.hook_mlp_out', // [B, T, D] MLP output
  'blocks.{L}.hook_resid_post', // [B, T, D] residual stream leaving the block
] as const;

export type LayerHookTemplate = (typeof LAYER_HOOK_TEMPLATES)[number];

/** Short per-layer hook suffixes, e.g. 'attn.hook_pattern'. */
export type LayerHookSuffix = LayerHookTemplate extends `blocks.{L}.${infer S}` ? S : never;

/** `blocks.${layer}.${suffix}` */
export function layerHook(layer: number, suffix: LayerHookSuffix): string {
  return `blocks.${layer}.${suffix}`;
}

/**
 * Model features some hook points need; a model without the feature has no such point (listing it
 * would let a hook be registered that never fires).
 */
export type HookRequirement = 'learnedPositions' | 'rotary' | 'sequentialResidual';

/** The hook points that exist only with a feature (every other point exists in every model). */
export const HOOK_REQUIREMENTS: Readonly<Record<string, HookRequirement>> = {
  [MODEL_HOOKS.hook_pos_embed]: 'learnedPositions',
  'blocks.{L}.attn.hook_rot_q': 'rotary',
  'blocks.{L}.attn.hook_rot_k': 'rotary',
  'blocks.{L}.hook_resid_mid': 'sequentialResidual',
};

const REQUIREMENT_TEXT: Record<HookRequirement, string> = {
  learnedPositions: 'learned absolute position embeddings (e.g. GPT-2)',
  rotary: 'rotary position embeddings (not GPT-2)',
  sequentialResidual: 'a sequential residual (not parallel attention+MLP blocks like GPT-NeoX / Phi)',
};

/** The model features hook points depend on (a {@link ModelSpec}-compatible subset). */
export interface HookFeatures {
  nLayers: number;
  positional: 'rotary' | 'learned';
  rotary: unknown | null;
  parallelResidual: boolean;
}

function has(req: HookRequirement | undefined, f: HookFeatures): boolean {
  if (req === undefined) return true;
  if (req === 'learnedPositions') return f.positional === 'learned';
  if (req === 'rotary') return f.rotary !== null && f.rotary !== undefined;
  return !f.parallelResidual;
}

/**
 * Every hook point of a model, in execution order, derived from its spec: each listed point fires
 * exactly once per forward pass (per layer for `blocks.L.*`).
 */
export function hookPointsOf(spec: HookFeatures): string[] {
  const out: string[] = [MODEL_HOOKS.hook_embed];
  if (has(HOOK_REQUIREMENTS[MODEL_HOOKS.hook_pos_embed], spec)) out.push(MODEL_HOOKS.hook_pos_embed);
  const layerTemplates = LAYER_HOOK_TEMPLATES.filter((t) => has(HOOK_REQUIREMENTS[t], spec));
  for (let l = 0; l < spec.nLayers; l++) for (const t of layerTemplates) out.push(t.replace('{L}', String(l)));
  out.push(MODEL_HOOKS.ln_final_hook_normalized, MODEL_HOOKS.hook_logits);
  return out;
}

/**
 * Every hook name of a model with `nLayers` layers. Prefer {@link hookPointsOf} with the model's spec;
 * `rotary` defaults to true, `learnedPositions` and `parallelResidual` to false.
 */
export function allHookNames(nLayers: number, opts: { learnedPositions?: boolean; parallelResidual?: boolean; rotary?: boolean } = {}): string[] {
  return hookPointsOf({
    nLayers,
    positional: opts.learnedPositions ? 'learned' : 'rotary',
    rotary: opts.rotary === false ? null : {},
    parallelResidual: opts.parallelResidual ?? false,
  });
}

/**
 * Why `name` is not a hook point of a model with `nLayers` layers: a sentence for error messages
 * (the feature the point needs, a layer out of range, or an unknown name).
 */
export function explainMissingHook(name: string, nLayers: number): string {
  const p = parseHookName(name);
  const template = p ? `blocks.{L}.${p.suffix}` : name;
  const known = p ? (LAYER_HOOK_TEMPLATES as readonly string[]).includes(template) : (Object.values(MODEL_HOOKS) as string[]).includes(name);
  if (!known) return `'${name}' is not a hook point name; valid names look like 'blocks.0.attn.hook_pattern' or 'hook_embed' (HookedModel.hookNames() lists a model's points; docs/reference/hooks.md explains them)`;
  const req = HOOK_REQUIREMENTS[template];
  if (req) return `this model has no hook point '${name}': it exists only in models with ${REQUIREMENT_TEXT[req]}`;
  if (p && p.layer >= nLayers) return `hook point '${name}': layer ${p.layer} is out of range (the model has layers 0..${nLayers - 1})`;
  return `this model has no hook point '${name}'`;
}

/** Parses 'blocks.3.attn.hook_pattern' → { layer: 3, suffix: 'attn.hook_pattern' }; null for model-level names. */
export function parseHookName(name: string): { layer: number; suffix: string } | null {
  const m = /^blocks\.(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  return { layer: Number(m[1]), suffix: m[2]! };
}
