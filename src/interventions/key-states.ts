/**
 * Key states read from the engine's own pre-softmax scores, so that post-softmax edits know which keys
 * are masked and which were knocked out without being told the model's mask (a sliding window, a custom
 * mask): the engine writes −∞ into `blocks.L.attn.hook_attn_scores` for every key a query cannot see.
 *
 * A recorder is a pair of hooks on `blocks.L.attn.hook_attn_scores`: `before` (placed before any
 * knockout hook) marks keys with a −∞ score as {@link KEY_MASKED}; `after` (placed after the knockouts)
 * marks keys that became −∞ in between as {@link KEY_KNOCKED_OUT}. The post-softmax hooks of the same
 * layer then read the states of the same forward call. The state is scratch memory shared by the hooks of
 * one factory call and overwritten on every forward (forward passes are synchronous, so this is safe with
 * a KV cache and in `generate`).
 *
 * @module
 */
import type { Hook, HookContext } from '../hooks/types.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { KEY_KNOCKED_OUT, KEY_MASKED, KEY_VISIBLE } from './rows.ts';

interface LayerState {
  state: Uint8Array;
  T: number;
  S: number;
  q0: number;
  k0: number;
}

/** Per-layer key-state recorders (see the module doc). */
export interface KeyStateRecorder {
  /** Hooks to place BEFORE any knockout of these layers (one per layer). */
  before: Hook[];
  /** Hooks to place AFTER the knockouts (one per layer); omit them if knockouts need not be told apart. */
  after: Hook[];
  /**
   * States [H·T·S] (row-major like the pattern) recorded in this forward call for the layer's pattern
   * tensor `t`; throws if the recorder did not run for a tensor of this shape and these positions.
   */
  states(layer: number, t: Tensor, ctx: HookContext): Uint8Array;
}

/** Key-state recorders for `layers` (see the module doc). */
export function keyStateRecorder(layers: readonly number[]): KeyStateRecorder {
  const by = new Map<number, LayerState>();
  const before: Hook[] = [];
  const after: Hook[] = [];
  for (const L of new Set(layers)) {
    const name = `blocks.${L}.attn.hook_attn_scores`;
    before.push({
      name,
      fn: (t, ctx) => {
        const x = t.data;
        const n = x.length;
        let s = by.get(L);
        if (!s || s.state.length !== n) by.set(L, (s = { state: new Uint8Array(n), T: 0, S: 0, q0: 0, k0: 0 }));
        for (let i = 0; i < n; i++) s.state[i] = x[i]! === -Infinity ? KEY_MASKED : KEY_VISIBLE;
        s.T = t.shape[2]!;
        s.S = t.shape[3]!;
        s.q0 = ctx.queryPositions[0] ?? 0;
        s.k0 = ctx.keyPositions?.[0] ?? 0;
      },
    });
    after.push({
      name,
      fn: (t) => {
        const s = by.get(L);
        if (!s || s.state.length !== t.data.length) return;
        const x = t.data;
        for (let i = 0; i < x.length; i++) if (s.state[i] === KEY_VISIBLE && x[i]! === -Infinity) s.state[i] = KEY_KNOCKED_OUT;
      },
    });
  }
  return {
    before,
    after,
    states(layer, t, ctx) {
      const s = by.get(layer);
      const ok = s && s.state.length === t.data.length && s.T === t.shape[2] && s.S === t.shape[3] && s.q0 === (ctx.queryPositions[0] ?? 0) && s.k0 === (ctx.keyPositions?.[0] ?? 0);
      if (!ok) throw new Error(`internal: '${ctx.name}' ran without its key-state recorder on blocks.${layer}.attn.hook_attn_scores in this forward call (pass every hook the factory returned, in order)`);
      return s!.state;
    },
  };
}
