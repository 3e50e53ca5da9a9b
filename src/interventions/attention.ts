/**
 * Attention-edge interventions as hooks (TransformerLens-style patching setters): pure factories that turn
 * resolved specs into hooks on `blocks.L.attn.hook_attn_scores` (knockout, amplify on the logit basis) and
 * `blocks.L.attn.hook_pattern` (scale, set, set-control, amplify on the mass basis). No copy of the forward
 * pass: the engine runs as usual and the hooks edit its tensors in place.
 *
 * Semantics (knockout, scale and set identical to the PyTorch reference, scripts/reference/torch_reference.py
 * `attend`; the row arithmetic of set / set-control / amplify-mass is in rows.ts):
 * - knockout: the pre-softmax score of each selected (head, query, key) edge becomes −∞, so the softmax
 *   renormalises over the remaining visible keys. If EVERY visible key of a row is knocked out, the row is
 *   all zeros (the engine's softmax of an all −∞ row): that head contributes z = 0 at that query. This is
 *   the defined, NaN-free full-row-knockout result; such a row does not sum to 1.
 * - amplify(f), basis 'logit' (default, f = 2: "double attention"): + ln f on each selected pre-softmax
 *   score, i.e. each selected UNNORMALISED weight exp(s) × f. After the softmax a selection of mass m has
 *   mass f·m / (1 + (f − 1)·m) (one edge of weight w: 2w / (1 + w)); the selected edges keep their ratios
 *   to each other, and so do the other keys. Masked and knocked-out scores stay −∞.
 * - amplify(f), basis 'mass': the selection's post-softmax mass m becomes min(f·m, 1), the other keys
 *   share the rest in their proportions; at the cap the other keys are 0 (rows.ts `amplifyMassRow`).
 * - scale(f), f ≥ 0: after the softmax, each selected weight is multiplied by f and the row is divided by
 *   its new sum (masked keys are 0, so this renormalises over the causally visible keys only). A row whose
 *   new sum is 0 (scale(0) of every visible key, or a row already all zeros) stays all zeros. Rows where
 *   nothing changed are not touched, and f = 1 touches nothing, so scale(1) is bit-identical to the baseline.
 *   (Mathematically scale(f) = amplify(f) on the logit basis; the logit form is computed before the softmax.)
 * - set(ℓ), 0 ≤ ℓ ≤ 1 (steering): after the softmax, in each edited row the selected eligible keys together
 *   get mass ℓ, keys in `hold` keep their weights, and the other eligible keys share the rest in their
 *   proportions (rows.ts `setRow`).
 * - set-control(ℓ): the mass-holding control of set(ℓ) on the `match` keys: the targets receive the mass
 *   set(ℓ) would move onto `match`, the `match` keys keep their weights (rows.ts `setControlRow`).
 * - Eligible keys: visible to the engine's mask AND not knocked out. Which keys are masked (causal, sliding
 *   window) or knocked out is read from the pre-softmax scores of the same forward call (key-states.ts), so
 *   no edit ever gives mass to a masked or knocked-out key, whatever the spec says about the window. A set
 *   whose visible selected keys were all knocked out is an error (masked edges are errors).
 * - Within one layer, knockouts and logit amplifications act before the softmax; scales, sets, controls and
 *   mass amplifications after it, in spec order.
 *
 * Hooks use the ABSOLUTE positions in the hook context, so they behave identically with a KV cache
 * (where a hook may see only the newest query row, and the key columns of all cached positions).
 *
 * @module
 */
import type { Hook, HookContext } from '../hooks/types.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { keyStateRecorder, type KeyStateRecorder } from './key-states.ts';
import { amplifyMassRow, setControlRow, setRow } from './rows.ts';
import type { EdgeRule, ResolvedEdit } from './spec.ts';

type RowTargets = 'all' | Set<number>;

/** What one query row selects: its targets, and (set / set-control) its held and matched keys. */
interface RowSel {
  targets: RowTargets;
  hold: Set<number> | null;
  match: Set<number> | null;
}

/** Targets selected for each query position; compiled once per edit. */
interface CompiledRules {
  /** Selection of rules whose sources are "all" (null if none). */
  wild: RowSel | null;
  perRow: Map<number, RowSel>;
}

function union(a: RowTargets | null | undefined, b: Iterable<number> | 'all'): RowTargets {
  if (a === 'all' || b === 'all') return 'all';
  const s = new Set(a ?? []);
  for (const k of b) s.add(k);
  return s;
}

function unionKeys(a: Set<number> | null | undefined, b: Iterable<number> | null | undefined): Set<number> | null {
  if (!b) return a ?? null;
  const s = new Set(a ?? []);
  for (const k of b) s.add(k);
  return s;
}

function merge(a: RowSel | null | undefined, r: Pick<EdgeRule, 'targets' | 'hold' | 'match'> | RowSel): RowSel {
  const t = r.targets === 'all' ? 'all' : r.targets;
  return { targets: union(a?.targets, t), hold: unionKeys(a?.hold, r.hold), match: unionKeys(a?.match, r.match) };
}

function compile(rules: readonly EdgeRule[]): CompiledRules {
  let wild: RowSel | null = null;
  const perRow = new Map<number, RowSel>();
  for (const r of rules) {
    if (r.sources === 'all') wild = merge(wild, r);
    else for (const q of r.sources) perRow.set(q, merge(perRow.get(q), r));
  }
  return { wild, perRow };
}

function rowSel(c: CompiledRules, q: number): RowSel | null {
  const own = c.perRow.get(q);
  if (!own) return c.wild;
  if (!c.wild) return own;
  return merge(own, c.wild);
}

/** Column index of each absolute key position of one sequence's keys `kp` (length S; −1 entries are padding). */
function keyColumns(kp: Int32Array, S: number): (k: number) => number {
  const first = kp[0]!;
  let contiguous = true;
  for (let j = 0; j < S; j++) if (kp[j] !== first + j) contiguous = false;
  if (contiguous) return (k) => (k >= first && k < first + S ? k - first : -1);
  const map = new Map<number, number>();
  for (let j = 0; j < S; j++) if (kp[j]! >= 0) map.set(kp[j]!, j);
  return (k) => map.get(k) ?? -1;
}

/** Dimensions of a [B, H, T, S] attention tensor (B = 1 for a single sequence). */
function dims(t: Tensor, ctx: HookContext): { NB: number; H: number; T: number; S: number } {
  if (t.shape.length !== 4) throw new Error(`attention edit at '${ctx.name}': expected a [B, H, T, S] tensor, got [${t.shape.join(', ')}]`);
  return { NB: t.shape[0]!, H: t.shape[1]!, T: t.shape[2]!, S: t.shape[3]! };
}

function checkHeads(heads: readonly number[], H: number, name: string): void {
  for (const h of heads) if (h < 0 || h >= H) throw new Error(`attention edit at '${name}': head ${h} is out of range (the model has heads 0..${H - 1})`);
}

/**
 * Visits every (row offset, row selection, key-column map, head) of the edited heads in a [B, H, T, S]
 * tensor, using the hook's absolute query/key positions (per batch row; padding rows are skipped).
 */
function forEachEditedRow(
  t: Tensor,
  ctx: HookContext,
  heads: readonly number[],
  rules: CompiledRules,
  visit: (o: number, sel: RowSel, col: (k: number) => number, S: number, q: number, h: number) => void,
): void {
  const { NB, H, T, S } = dims(t, ctx);
  checkHeads(heads, H, ctx.name);
  const kpAll = ctx.keyPositions;
  if (!kpAll) throw new Error(`internal: hook '${ctx.name}' has no key positions`);
  // batch rows: positions are flattened [B·T] / [B·S] (−1 = padding, never selected)
  for (let b = 0; b < NB; b++) {
    const col = keyColumns(NB === 1 ? kpAll : kpAll.subarray(b * S, (b + 1) * S), S);
    for (let r = 0; r < T; r++) {
      const q = ctx.queryPositions[b * T + r]!;
      if (q < 0) continue;
      const sel = rowSel(rules, q);
      if (!sel) continue;
      for (const h of heads) visit(((b * H + h) * T + r) * S, sel, col, S, q, h);
    }
  }
}

/** Key columns (in this call) of absolute positions, skipping positions absent from the call. */
function columns(keys: Iterable<number> | null, col: (k: number) => number): number[] {
  const out: number[] = [];
  if (keys) for (const k of keys) {
    const j = col(k);
    if (j >= 0) out.push(j);
  }
  return out;
}

/** Hook fn: selected pre-softmax scores + ln f (−∞ stays −∞). */
function amplifyLogitFn(heads: readonly number[], rules: CompiledRules, f: number) {
  const add = Math.log(f);
  return (t: Tensor, ctx: HookContext): void => {
    if (f === 1) return;
    const x = t.data;
    forEachEditedRow(t, ctx, heads, rules, (o, sel, col) => {
      for (const j of columns(sel.targets as Set<number>, col)) x[o + j] = x[o + j]! + add;
    });
  };
}

type RowEdit = (w: Float32Array, state: Uint8Array, sel: RowSel, col: (k: number) => number, where: string) => Float64Array | null;

/** Hook fn for a post-softmax row edit (rows.ts) that needs the key states recorded before the softmax. */
function rowEditFn(layer: number, heads: readonly number[], rules: CompiledRules, rec: KeyStateRecorder, edit: RowEdit) {
  return (t: Tensor, ctx: HookContext): void => {
    const x = t.data;
    const states = rec.states(layer, t, ctx);
    forEachEditedRow(t, ctx, heads, rules, (o, sel, col, S, q, h) => {
      const out = edit(x.subarray(o, o + S), states.subarray(o, o + S), sel, col, `${ctx.name}, head ${h}, query ${q}`);
      if (out) for (let j = 0; j < S; j++) x[o + j] = out[j]!;
    });
  };
}

/** Hook fn: selected pre-softmax scores → −∞. */
function knockoutFn(heads: readonly number[], rules: CompiledRules) {
  return (t: Tensor, ctx: HookContext): void => {
    const x = t.data;
    forEachEditedRow(t, ctx, heads, rules, (o, row, col, S) => {
      const sel = row.targets;
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
    forEachEditedRow(t, ctx, heads, rules, (o, row, col, S) => {
      const sel = row.targets;
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

/**
 * Hooks implementing resolved edits (from {@link resolveSpecs} / {@link validateSpec}). Pure: returns new
 * hook objects (the hooks of one call share per-layer key-state scratch memory, see key-states.ts). Pass
 * all of them, in the returned order, to `model.forward`, `runWithHooks`, `runWithCache` or `generate`
 * (they are valid at every decoding step with a KV cache). Knockouts given in the same call are seen by
 * the post-softmax edits; hooks from another call placed before these count as part of the mask.
 *
 * Order of the returned hooks: key-state recorders (before), knockouts and logit amplifications (spec
 * order), key-state recorders (after), then the post-softmax edits (spec order).
 */
export function attentionEdit(edits: ResolvedEdit | readonly ResolvedEdit[]): Hook[] {
  const list = Array.isArray(edits) ? (edits as ResolvedEdit[]) : [edits as ResolvedEdit];
  const pre: Hook[] = [];
  const post: Hook[] = [];
  const needStates: number[] = [];
  const pending: { e: ResolvedEdit; rules: CompiledRules }[] = [];
  for (const e of list) {
    const rules = compile(e.rules);
    if (rules.wild === null && rules.perRow.size === 0) continue; // every edge was dropped: nothing to do
    const setLike = e.kind === 'set' || e.kind === 'set-control';
    if ((e.kind === 'scale' && !(e.factor >= 0 && Number.isFinite(e.factor))) || (e.kind === 'amplify' && !(e.factor > 0 && Number.isFinite(e.factor))))
      throw new Error(`${e.kind} factor must be a finite number ${e.kind === 'scale' ? '≥' : '>'} 0 (got ${e.factor})`);
    const level = e.level ?? NaN;
    if (setLike && !(level >= 0 && level <= 1)) throw new Error(`${e.kind} level must be a number in [0, 1] (got ${e.level})`);
    if ((setLike || e.kind === 'amplify') && e.rules.some((r) => r.targets === 'all')) throw new Error(`${e.kind} needs explicit targets ("*" selects the whole row)`);
    if (e.kind === 'set-control' && e.rules.some((r) => !r.match?.length)) throw new Error('set-control needs match keys in every edge rule');
    if (setLike || (e.kind === 'amplify' && e.basis === 'mass')) needStates.push(...e.layers);
    pending.push({ e, rules });
  }
  const rec = keyStateRecorder(needStates);
  for (const { e, rules } of pending) {
    for (const L of e.layers) {
      const scores = `blocks.${L}.attn.hook_attn_scores`;
      const pattern = `blocks.${L}.attn.hook_pattern`;
      const onInf = e.onInfeasible ?? 'error';
      const level = e.level ?? NaN;
      if (e.kind === 'knockout') pre.push({ name: scores, fn: knockoutFn(e.heads, rules) });
      else if (e.kind === 'amplify' && (e.basis ?? 'logit') === 'logit') pre.push({ name: scores, fn: amplifyLogitFn(e.heads, rules, e.factor) });
      else if (e.kind === 'scale') post.push({ name: pattern, fn: scaleFn(e.heads, rules, e.factor) });
      else if (e.kind === 'amplify')
        post.push({ name: pattern, fn: rowEditFn(L, e.heads, rules, rec, (w, st, sel, col) => amplifyMassRow(w, st, columns(sel.targets as Set<number>, col), e.factor)) });
      else if (e.kind === 'set')
        post.push({ name: pattern, fn: rowEditFn(L, e.heads, rules, rec, (w, st, sel, col, where) => setRow(w, st, columns(sel.targets as Set<number>, col), columns(sel.hold, col), level, onInf, `set(${level}) at ${where}`)) });
      else
        post.push({ name: pattern, fn: rowEditFn(L, e.heads, rules, rec, (w, st, sel, col, where) => setControlRow(w, st, columns(sel.targets as Set<number>, col), columns(sel.match, col), level, onInf, `set-control(${level}) at ${where}`)) });
    }
  }
  return [...rec.before, ...pre, ...rec.after, ...post];
}
