/**
 * Attention-edge interventions as hooks (TransformerLens-style patching setters): pure factories that turn
 * resolved specs into hooks on `blocks.L.attn.hook_attn_scores` (knockout) and `blocks.L.attn.hook_pattern`
 * (scale, set). No copy of the forward pass: the engine runs as usual and the hooks edit its tensors in place.
 *
 * Semantics (identical to the PyTorch reference, scripts/reference/torch_reference.py `attend`):
 * - knockout: the pre-softmax score of each selected (head, query, key) edge becomes −∞, so the softmax
 *   renormalises over the remaining visible keys. If EVERY visible key of a row is knocked out, the row is
 *   all zeros (the engine's softmax of an all −∞ row): that head contributes z = 0 at that query. This is
 *   the defined, NaN-free full-row-knockout result; such a row does not sum to 1.
 * - scale(f), f ≥ 0: after the softmax, each selected weight is multiplied by f and the row is divided by
 *   its new sum (masked keys are 0, so this renormalises over the causally visible keys only). A row whose
 *   new sum is 0 (scale(0) of every visible key, or a row already all zeros) stays all zeros. Rows where
 *   nothing changed are not touched, and f = 1 touches nothing, so scale(1) is bit-identical to the baseline.
 * - set(ℓ), 0 ≤ ℓ ≤ 1 (steering): after the softmax, in each edited row the selected visible keys together
 *   get mass ℓ — shared in proportion to their current weights, or equally if those are all 0 — and the
 *   other keys are rescaled by (1 − ℓ)/(their current mass), keeping their proportions, so the row sums to 1
 *   and each selected edge's share of the row is exactly ℓ. If the other keys carry no mass (the selection
 *   covers every visible key, or the rest was knocked out) the row sums to ℓ: nothing is moved onto keys
 *   the model could not see, and knocked-out keys stay at 0. Selected keys that are masked (future or
 *   outside the sliding window) are never given mass.
 * - Within one layer, knockouts act before the softmax; scales and sets after it, in spec order.
 *
 * Hooks use the ABSOLUTE positions in the hook context, so they behave identically with a KV cache
 * (where a hook may see only the newest query row, and the key columns of all cached positions).
 *
 * @module
 */
import type { Hook, HookContext } from '../hooks/types.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { EdgeRule, ResolvedEdit } from './spec.ts';

type RowTargets = 'all' | Set<number>;

/** Targets selected for each query position; compiled once per edit. */
interface CompiledRules {
  /** Targets of rules whose sources are "all" (null if none). */
  wild: RowTargets | null;
  perRow: Map<number, RowTargets>;
}

function union(a: RowTargets | null | undefined, b: readonly number[] | 'all'): RowTargets {
  if (a === 'all' || b === 'all') return 'all';
  const s = new Set(a ?? []);
  for (const k of b) s.add(k);
  return s;
}

function compile(rules: readonly EdgeRule[]): CompiledRules {
  let wild: RowTargets | null = null;
  const perRow = new Map<number, RowTargets>();
  for (const r of rules) {
    if (r.sources === 'all') wild = union(wild, r.targets);
    else for (const q of r.sources) perRow.set(q, union(perRow.get(q), r.targets));
  }
  return { wild, perRow };
}

function rowTargets(c: CompiledRules, q: number): RowTargets | null {
  const own = c.perRow.get(q);
  if (!own) return c.wild;
  if (!c.wild) return own;
  return own === 'all' || c.wild === 'all' ? 'all' : union(own, [...c.wild]);
}

/** Column index of each absolute key position in this call (−1 when absent). */
function keyColumns(ctx: HookContext, S: number): (k: number) => number {
  const kp = ctx.keyPositions;
  if (!kp) throw new Error(`internal: hook '${ctx.name}' has no key positions`);
  const first = kp[0]!;
  let contiguous = true;
  for (let j = 0; j < S; j++) if (kp[j] !== first + j) contiguous = false;
  if (contiguous) return (k) => (k >= first && k < first + S ? k - first : -1);
  const map = new Map<number, number>();
  for (let j = 0; j < S; j++) map.set(kp[j]!, j);
  return (k) => map.get(k) ?? -1;
}

function dims(t: Tensor, ctx: HookContext): { H: number; T: number; S: number } {
  if (t.shape.length !== 4) throw new Error(`attention edit at '${ctx.name}': expected a [1, H, T, S] tensor, got [${t.shape.join(', ')}]`);
  return { H: t.shape[1]!, T: t.shape[2]!, S: t.shape[3]! };
}

function checkHeads(heads: readonly number[], H: number, name: string): void {
  for (const h of heads) if (h < 0 || h >= H) throw new Error(`attention edit at '${name}': head ${h} is out of range (the model has heads 0..${H - 1})`);
}

/**
 * Visits every (row offset, selected targets, key-column map) of the edited heads in a [1, H, T, S] tensor,
 * using the hook's absolute query/key positions.
 */
function forEachEditedRow(
  t: Tensor,
  ctx: HookContext,
  heads: readonly number[],
  rules: CompiledRules,
  visit: (o: number, sel: RowTargets, col: (k: number) => number, S: number, q: number) => void,
): void {
  const { H, T, S } = dims(t, ctx);
  checkHeads(heads, H, ctx.name);
  const col = keyColumns(ctx, S);
  for (let r = 0; r < T; r++) {
    const q = ctx.queryPositions[r]!;
    const sel = rowTargets(rules, q);
    if (!sel) continue;
    for (const h of heads) visit((h * T + r) * S, sel, col, S, q);
  }
}

/** Hook fn: selected pre-softmax scores → −∞. */
function knockoutFn(heads: readonly number[], rules: CompiledRules) {
  return (t: Tensor, ctx: HookContext): void => {
    const x = t.data;
    forEachEditedRow(t, ctx, heads, rules, (o, sel, col, S) => {
      if (sel === 'all') x.fill(-Infinity, o, o + S);
      else
        for (const k of sel) {
          const j = col(k);
          if (j >= 0) x[o + j] = -Infinity;
        }
    });
  };
}

/** Hook fn: selected post-softmax weights × f, then the row renormalised over its visible keys. */
function scaleFn(heads: readonly number[], rules: CompiledRules, f: number) {
  return (t: Tensor, ctx: HookContext): void => {
    if (f === 1) return; // exact no-op: bit-identical to the baseline
    const x = t.data;
    forEachEditedRow(t, ctx, heads, rules, (o, sel, col, S) => {
      let changed = false;
      if (sel === 'all') {
        for (let j = 0; j < S; j++) {
          if (x[o + j]! !== 0) changed = true;
          x[o + j] = x[o + j]! * f;
        }
      } else {
        for (const k of sel) {
          const j = col(k);
          if (j < 0 || x[o + j]! === 0) continue; // masked (or already zero): nothing to scale
          x[o + j] = x[o + j]! * f;
          changed = true;
        }
      }
      if (!changed) return;
      let s = 0;
      for (let j = 0; j < S; j++) s += x[o + j]!;
      if (s > 0) for (let j = 0; j < S; j++) x[o + j] = x[o + j]! / s;
      else x.fill(0, o, o + S); // nothing visible left: the documented all-zero row
    });
  };
}

/** Hook fn: the selected visible weights of each edited row are set to total mass `level` (module doc). */
function setFn(heads: readonly number[], rules: CompiledRules, level: number, window: number | null) {
  return (t: Tensor, ctx: HookContext): void => {
    const x = t.data;
    const kp = ctx.keyPositions!;
    forEachEditedRow(t, ctx, heads, rules, (o, sel, col, S, q) => {
      const vis = (k: number) => k <= q && (window === null || q - k < window);
      const cols: number[] = [];
      if (sel === 'all') {
        for (let j = 0; j < S; j++) if (vis(kp[j]!)) cols.push(j);
      } else
        for (const k of sel) {
          const j = col(k);
          if (j >= 0 && vis(k)) cols.push(j);
        }
      if (cols.length === 0) return; // no selected key is visible from this row: nothing to set
      let total = 0;
      for (let j = 0; j < S; j++) total += x[o + j]!;
      let selMass = 0;
      for (const j of cols) selMass += x[o + j]!;
      const rest = total - selMass;
      const isSel = new Uint8Array(S);
      for (const j of cols) isSel[j] = 1;
      if (rest > 0) {
        const f = (1 - level) / rest;
        for (let j = 0; j < S; j++) if (!isSel[j]) x[o + j] = x[o + j]! * f;
      } else for (let j = 0; j < S; j++) if (!isSel[j]) x[o + j] = 0;
      if (selMass > 0) {
        const f = level / selMass;
        for (const j of cols) x[o + j] = x[o + j]! * f;
      } else for (const j of cols) x[o + j] = level / cols.length;
    });
  };
}

/**
 * Hooks implementing resolved edits (from {@link resolveSpecs} / {@link validateSpec}). Pure: returns new
 * hook objects and captures nothing mutable. Pass them to `model.forward`, `runWithHooks`, `runWithCache`
 * or `generate` (they are valid at every decoding step with a KV cache).
 */
export function attentionEdit(edits: ResolvedEdit | readonly ResolvedEdit[]): Hook[] {
  const list = Array.isArray(edits) ? (edits as ResolvedEdit[]) : [edits as ResolvedEdit];
  const hooks: Hook[] = [];
  for (const e of list) {
    const rules = compile(e.rules);
    if (rules.wild === null && rules.perRow.size === 0) continue; // every edge was dropped: nothing to do
    if (e.kind === 'scale' && !(e.factor >= 0 && Number.isFinite(e.factor))) throw new Error(`scale factor must be a finite number ≥ 0 (got ${e.factor})`);
    const level = e.level ?? NaN;
    if (e.kind === 'set' && !(level >= 0 && level <= 1)) throw new Error(`set level must be a number in [0, 1] (got ${e.level})`);
    if (e.kind === 'set' && e.rules.some((r) => r.targets === 'all')) throw new Error('set needs explicit targets ("*" selects the whole row)');
    for (const L of e.layers) {
      if (e.kind === 'knockout') hooks.push({ name: `blocks.${L}.attn.hook_attn_scores`, fn: knockoutFn(e.heads, rules) });
      else if (e.kind === 'scale') hooks.push({ name: `blocks.${L}.attn.hook_pattern`, fn: scaleFn(e.heads, rules, e.factor) });
      else hooks.push({ name: `blocks.${L}.attn.hook_pattern`, fn: setFn(e.heads, rules, level, e.slidingWindow ?? null) });
    }
  }
  return hooks;
}
