/**
 * Attention-pattern transplant through a semantic position map (position-map.ts): at one layer, per head,
 * the recipient's marker-region query rows take the donor's rows, carried over keys through the map.
 *
 * For a recipient query q with donor query d = queries(q), head h, recipient row w and donor row D:
 * - mapped recipient key k (an entry of `map.keys` with recipient k): w'_k = Σ_e weight_e · D[donor_e];
 * - unmapped recipient key k: w'_k = w_k (the recipient's own weight);
 * - masked or knocked-out recipient keys (read from the engine's scores, key-states.ts) get 0, and the
 *   donor mass sent to them is lost;
 * - then the row is divided by its sum (so it sums to 1). A row whose sum is 0 is left unchanged.
 *
 * The hooks use absolute positions, so they apply at every decoding step with a KV cache: prefill (or
 * the uncached run) edits the marker rows, later steps see the cached keys/values those rows produced;
 * rows outside the query map (generated tokens) are not edited.
 *
 * @module
 */
import type { Hook, HookContext } from '../hooks/types.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { keyStateRecorder } from './key-states.ts';
import { KEY_VISIBLE } from './rows.ts';
import { parseSemanticPositionMap, type SemanticPositionMap } from './position-map.ts';

/** One carried key of a transplanted row: `weight` × the donor weight of `donor` goes to recipient `recipient`. */
export interface CarriedKey {
  recipient: number;
  donor: number;
  weight: number;
}

/**
 * One transplanted row (pure; see the module doc). `cols(k)` gives the key column of absolute recipient
 * position k (−1 if absent); `donorRow` is indexed by donor absolute position.
 *
 * @returns the new row, or null when it would have no mass
 */
export function transplantRow(w: ArrayLike<number>, state: ArrayLike<number>, donorRow: ArrayLike<number>, keys: readonly CarriedKey[], cols: (k: number) => number): Float64Array | null {
  const S = w.length;
  const out = new Float64Array(S);
  const mapped = new Uint8Array(S);
  for (const e of keys) {
    const j = cols(e.recipient);
    if (j < 0) continue;
    mapped[j] = 1;
    if (state[j] === KEY_VISIBLE) out[j] += e.weight * donorRow[e.donor]!;
  }
  let sum = 0;
  for (let j = 0; j < S; j++) {
    if (state[j] !== KEY_VISIBLE) out[j] = 0;
    else if (!mapped[j]) out[j] = w[j]!;
    sum += out[j]!;
  }
  if (!(sum > 0)) return null;
  for (let j = 0; j < S; j++) out[j] = out[j]! / sum;
  return out;
}

export interface PatternTransplant {
  layer: number;
  /** The donor's `blocks.{layer}.attn.hook_pattern` from an uncached run: [1, H, Td, Td]. */
  donor: Tensor;
  /** Semantic position map donor → recipient (checked against the donor's length). */
  map: SemanticPositionMap;
  /** Query heads to transplant (default all). */
  heads?: readonly number[];
}

/**
 * Hooks transplanting the donor's marker-region attention rows into the recipient (see the module doc):
 * a key-state recorder on `blocks.L.attn.hook_attn_scores` and the edit on `blocks.L.attn.hook_pattern`.
 * Pass both, after any knockout hooks of the same layer.
 */
export function transplantPattern(p: PatternTransplant): Hook[] {
  const ds = p.donor.shape;
  if (ds.length !== 4 || ds[0] !== 1 || ds[2] !== ds[3]) throw new Error(`transplantPattern: donor pattern has shape [${ds.join(', ')}], expected [1, H, Td, Td] from an uncached run`);
  const H = ds[1]!;
  const Td = ds[2]!;
  const map = parseSemanticPositionMap(p.map, Td);
  const heads = p.heads ?? Array.from({ length: H }, (_, h) => h);
  for (const h of heads) if (!Number.isInteger(h) || h < 0 || h >= H) throw new Error(`transplantPattern: head ${h} is out of range (the model has heads 0..${H - 1})`);
  const qmap = new Map(map.queries.map((q) => [q.recipient, q.donor]));
  const keys: CarriedKey[] = map.keys.map((e) => ({ recipient: e.recipient, donor: e.donor, weight: e.weight }));
  const src = p.donor.data;
  const rec = keyStateRecorder([p.layer]);
  const edit: Hook = {
    name: `blocks.${p.layer}.attn.hook_pattern`,
    fn: (t: Tensor, ctx: HookContext) => {
      const [NB, Hr, T, S] = t.shape as [number, number, number, number];
      if (Hr !== H) throw new Error(`transplantPattern layer ${p.layer}: recipient has ${Hr} heads, donor ${H} (same model?)`);
      const states = rec.states(p.layer, t, ctx);
      const x = t.data;
      for (let b = 0; b < NB; b++) {
        const kp = NB === 1 ? ctx.keyPositions! : ctx.keyPositions!.subarray(b * S, (b + 1) * S);
        const colOf = new Map<number, number>();
        for (let j = 0; j < S; j++) if (kp[j]! >= 0) colOf.set(kp[j]!, j);
        const cols = (k: number) => colOf.get(k) ?? -1;
        for (let r = 0; r < T; r++) {
          const dq = qmap.get(ctx.queryPositions[b * T + r]!);
          if (dq === undefined) continue;
          for (const h of heads) {
            const o = ((b * H + h) * T + r) * S;
            const out = transplantRow(x.subarray(o, o + S), states.subarray(o, o + S), src.subarray((h * Td + dq) * Td, (h * Td + dq + 1) * Td), keys, cols);
            if (out) for (let j = 0; j < S; j++) x[o + j] = out[j]!;
          }
        }
      }
    },
  };
  return [...rec.before, edit];
}

/**
 * Donor mass carried onto recipient keys for recipient query `q`, per transplanted head, before
 * renormalising: Σ_e weight_e · D[donor_e] over entries whose recipient key is causally visible from q
 * (k ≤ q, and q − k < `slidingWindow` when given). Empty when q takes no donor row. Knockouts are not
 * known here (they are read at run time).
 */
export function transplantCoverage(p: PatternTransplant, q: number, slidingWindow: number | null = null): number[] {
  const [, H, Td] = p.donor.shape as [number, number, number, number];
  const dq = p.map.queries.find((x) => x.recipient === q)?.donor;
  if (dq === undefined) return [];
  const heads = p.heads ?? Array.from({ length: H }, (_, h) => h);
  return heads.map((h) => {
    let s = 0;
    for (const e of p.map.keys) if (e.recipient <= q && (slidingWindow === null || q - e.recipient < slidingWindow)) s += e.weight * p.donor.data[(h * Td + dq) * Td + e.donor]!;
    return s;
  });
}

