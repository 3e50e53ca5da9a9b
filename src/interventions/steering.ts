/**
 * Spec builders for steering conditions, so that experiments state conditions, not row arithmetic.
 *
 * POSITIONS: absolute token positions (BOS included). Masses: attention mass in [0, 1].
 *
 * @module
 */
import type { AttentionMaskSpec, Selector } from './spec.ts';
import type { OnInfeasible } from './rows.ts';

export interface MatchedSteeringOptions {
  layers: Selector;
  /** Query heads (default all). */
  heads?: Selector;
  /** Query rows to edit (e.g. the marker token, or the whole test region; `"*"` = every row that sees the keys). */
  sources: Selector;
  /** The keys being steered (e.g. the function's tokens). */
  functionKeys: number[];
  /** Matched random control keys, disjoint from `functionKeys`. */
  controlKeys: number[];
  /** Target mass ℓ of the function keys. */
  level: number;
  /** Rows that cannot reach ℓ (ℓ > 1 − m_C): `'error'` (default) or `'cap'` — the same for both conditions. */
  onInfeasible?: OnInfeasible;
}

/**
 * The treatment and its mass-holding control as a pair of specs that differ only in where the moved mass
 * goes (docs/interventions.md, "Steering control"):
 * - treatment: `set(ℓ)` on the function keys F, the control keys C held;
 * - control: `set-control(ℓ)` on C matching F: C receives Δ = ℓ − m_F, F keeps its weights.
 * In both, the other keys give (or receive) Δ in their proportions.
 */
export function matchedSteeringSpecs(o: MatchedSteeringOptions): { treatment: AttentionMaskSpec; control: AttentionMaskSpec } {
  const overlap = o.functionKeys.filter((k) => o.controlKeys.includes(k));
  if (overlap.length) throw new Error(`matchedSteeringSpecs: control keys ${overlap.join(', ')} are also function keys (controls must be disjoint)`);
  if (!o.functionKeys.length || !o.controlKeys.length) throw new Error('matchedSteeringSpecs: give at least one function key and one control key');
  const common = { layers: o.layers, heads: o.heads ?? 'all', level: o.level, onInfeasible: o.onInfeasible ?? 'error' } as const;
  return {
    treatment: { kind: 'set', ...common, edges: [{ sources: o.sources, targets: [...o.functionKeys], hold: [...o.controlKeys] }], label: `steer F to ${o.level}` },
    control: { kind: 'set-control', ...common, edges: [{ sources: o.sources, targets: [...o.controlKeys], match: [...o.functionKeys] }], label: `control: F's Δ onto C at ${o.level}` },
  };
}
