/**
 * Patching (TransformerLens `patching.py` style setters): transplant activations or attention patterns
 * captured on a DONOR run into a RECIPIENT run, through a position map. Pure hook factories; the engine
 * runs as usual.
 *
 * POSITIONS: every position is an absolute token position (BOS included). A position map sends recipient
 * positions to donor positions; recipient positions without an entry are left untouched. Donor tensors come
 * from an uncached `runWithCache` of the donor prompt, so their row index is the donor's absolute position.
 *
 * - Activation patch (`patchActivation`): at a [1, T, D] hook (resid_pre/mid/post, attn_out, mlp_out,
 *   ln*.hook_normalized, mlp.hook_pre/post) the recipient row at position q becomes the donor row at map(q);
 *   at a [1, T, H, Dh] hook (attn.hook_q/k/v/z, rot_q/rot_k) the same, optionally for chosen heads only.
 * - Pattern patch (`patchPattern`): at `blocks.L.attn.hook_pattern` the recipient row of query q becomes the
 *   donor row of query map(q), carried over keys through the same map: recipient key k gets the donor weight
 *   of key map(k) (visible keys only: k ≤ q and inside `slidingWindow`; unmapped keys get 0), then the row is
 *   renormalised to sum to 1. Donor
 *   mass on keys that have no recipient counterpart is lost before renormalising; {@link patternCoverage}
 *   reports it. A row whose carried mass is 0 is left unchanged (nothing to transplant), and counted there.
 *
 * With a KV cache a hook sees only the newest rows; the absolute positions in the hook context keep the
 * patch identical to the uncached run.
 *
 * @module
 */
import type { Hook, HookContext } from '../hooks/types.ts';
import { parseHookName } from '../hooks/names.ts';
import type { Tensor } from '../tensor/tensor.ts';

/** Recipient absolute token position → donor absolute token position. */
export type PositionMap = ReadonlyMap<number, number>;

const ROW_HOOKS = new Set(['hook_resid_pre', 'hook_resid_mid', 'hook_resid_post', 'hook_attn_out', 'hook_mlp_out', 'ln1.hook_normalized', 'ln2.hook_normalized', 'mlp.hook_pre', 'mlp.hook_post']);
const HEAD_HOOKS = new Set(['attn.hook_q', 'attn.hook_k', 'attn.hook_v', 'attn.hook_z', 'attn.hook_rot_q', 'attn.hook_rot_k']);

/** Identity map over positions 0..n−1 (prompts that tokenize to the same length). */
export function identityMap(n: number): Map<number, number> {
  return new Map(Array.from({ length: n }, (_, i) => [i, i] as [number, number]));
}

/**
 * Position map between two token sequences that differ in one region (e.g. a swapped name): the longest
 * common prefix maps one to one from the start, the longest common suffix from the end; the differing
 * middle is unmapped. `unmapped` lists recipient positions without a donor.
 */
export function alignByPrefixSuffix(recipient: readonly number[], donor: readonly number[]): { map: Map<number, number>; unmapped: number[] } {
  let p = 0;
  while (p < recipient.length && p < donor.length && recipient[p] === donor[p]) p++;
  let s = 0;
  while (s < recipient.length - p && s < donor.length - p && recipient[recipient.length - 1 - s] === donor[donor.length - 1 - s]) s++;
  const map = new Map<number, number>();
  for (let i = 0; i < p; i++) map.set(i, i);
  for (let i = 0; i < s; i++) map.set(recipient.length - 1 - i, donor.length - 1 - i);
  const unmapped: number[] = [];
  for (let i = 0; i < recipient.length; i++) if (!map.has(i)) unmapped.push(i);
  return { map, unmapped };
}

/** Checks a map against the two lengths; throws naming the first offending entry. */
export function checkPositionMap(map: PositionMap, recipientLen: number, donorLen: number): void {
  for (const [r, d] of map) {
    if (!Number.isInteger(r) || r < 0 || r >= recipientLen) throw new Error(`position map: recipient position ${r} is out of range (the recipient has token positions 0..${recipientLen - 1})`);
    if (!Number.isInteger(d) || d < 0 || d >= donorLen) throw new Error(`position map: donor position ${d} (for recipient ${r}) is out of range (the donor has token positions 0..${donorLen - 1})`);
  }
}

export interface ActivationPatch {
  /** Canonical hook name, e.g. 'blocks.2.hook_resid_pre' or 'blocks.3.attn.hook_z'. */
  hook: string;
  /** The donor's captured tensor at the same hook: [1, Td, D] or [1, Td, H, Dh]. */
  donor: Tensor;
  positions: PositionMap;
  /** Heads to patch (only for [1, T, H, Dh] hooks; default all). */
  heads?: readonly number[];
}

/** Hook replacing recipient rows by donor rows (see the module doc). */
export function patchActivation(p: ActivationPatch): Hook {
  const parsed = parseHookName(p.hook);
  const suffix = parsed?.suffix ?? '';
  const perHead = HEAD_HOOKS.has(suffix);
  if (!ROW_HOOKS.has(suffix) && !perHead) throw new Error(`patchActivation: '${p.hook}' is not a patchable activation (use a per-layer [1, T, D] or [1, T, H, Dh] hook; attention patterns: patchPattern)`);
  const ds = p.donor.shape;
  if (ds.length !== (perHead ? 4 : 3) || ds[0] !== 1) throw new Error(`patchActivation: donor tensor for '${p.hook}' has shape [${ds.join(', ')}], expected [1, T, ${perHead ? 'H, Dh' : 'D'}]`);
  if (p.heads && !perHead) throw new Error(`patchActivation: heads are only allowed for per-head hooks (got '${p.hook}')`);
  const Td = ds[1]!;
  const H = perHead ? ds[2]! : 1;
  const Dh = ds[ds.length - 1]!;
  const rowSize = H * Dh;
  for (const h of p.heads ?? []) if (!Number.isInteger(h) || h < 0 || h >= H) throw new Error(`patchActivation: head ${h} is out of range (the donor has heads 0..${H - 1})`);
  checkPositionMap(p.positions, Number.MAX_SAFE_INTEGER, Td);
  const src = p.donor.data;
  return {
    name: p.hook,
    fn: (t: Tensor, ctx: HookContext) => {
      const rs = t.shape.slice(2).reduce((a, b) => a * b, 1);
      if (rs !== rowSize) throw new Error(`patchActivation '${p.hook}': recipient rows have ${rs} values, donor rows ${rowSize} (same model?)`);
      const x = t.data;
      for (let r = 0; r < ctx.queryPositions.length; r++) {
        const d = p.positions.get(ctx.queryPositions[r]!);
        if (d === undefined) continue;
        if (!p.heads) x.set(src.subarray(d * rowSize, (d + 1) * rowSize), r * rowSize);
        else for (const h of p.heads) x.set(src.subarray(d * rowSize + h * Dh, d * rowSize + (h + 1) * Dh), r * rowSize + h * Dh);
      }
    },
  };
}

export interface PatternPatch {
  layer: number;
  /** The donor's `blocks.{layer}.attn.hook_pattern`: [1, H, Td, Td]. */
  donor: Tensor;
  positions: PositionMap;
  /** Query heads to patch (default all). */
  heads?: readonly number[];
  /** The recipient model's sliding window (keys with q − k ≥ window stay 0); null/absent = none. */
  slidingWindow?: number | null;
}

/** Donor mass carried onto recipient keys for one recipient query row, per head (before renormalising). */
export function patternCoverage(p: PatternPatch, q: number): number[] {
  const [, H, Td] = p.donor.shape as [number, number, number, number];
  const dq = p.positions.get(q);
  if (dq === undefined) return [];
  const heads = p.heads ?? Array.from({ length: H }, (_, h) => h);
  return heads.map((h) => {
    let s = 0;
    const win = p.slidingWindow ?? null;
    for (const [k, dk] of p.positions) if (k <= q && (win === null || q - k < win)) s += p.donor.data[(h * Td + dq) * Td + dk]!;
    return s;
  });
}

/** Hook transplanting donor attention rows (see the module doc). */
export function patchPattern(p: PatternPatch): Hook {
  const ds = p.donor.shape;
  if (ds.length !== 4 || ds[0] !== 1 || ds[2] !== ds[3]) throw new Error(`patchPattern: donor pattern has shape [${ds.join(', ')}], expected [1, H, Td, Td] from an uncached run`);
  const H = ds[1]!;
  const Td = ds[2]!;
  const heads = p.heads ?? Array.from({ length: H }, (_, h) => h);
  for (const h of heads) if (!Number.isInteger(h) || h < 0 || h >= H) throw new Error(`patchPattern: head ${h} is out of range (the model has heads 0..${H - 1})`);
  checkPositionMap(p.positions, Number.MAX_SAFE_INTEGER, Td);
  const src = p.donor.data;
  const win = p.slidingWindow ?? null;
  return {
    name: `blocks.${p.layer}.attn.hook_pattern`,
    fn: (t: Tensor, ctx: HookContext) => {
      const [NB, Hr, T, S] = t.shape as [number, number, number, number];
      if (Hr !== H) throw new Error(`patchPattern layer ${p.layer}: recipient has ${Hr} heads, donor ${H} (same model?)`);
      const x = t.data;
      // batch rows: positions are flattened [B·T] / [B·S] (−1 = padding, never in a position map)
      for (let br = 0; br < NB * T; br++) {
        const b = Math.floor(br / T), r = br % T;
        const kp = NB === 1 ? ctx.keyPositions! : ctx.keyPositions!.subarray(b * S, (b + 1) * S);
        const q = ctx.queryPositions[br]!;
        const dq = p.positions.get(q);
        if (dq === undefined) continue;
        for (const h of heads) {
          const o = ((b * H + h) * T + r) * S;
          const row = new Float64Array(S);
          let sum = 0;
          for (let j = 0; j < S; j++) {
            const k = kp[j]!;
            if (k < 0 || k > q || (win !== null && q - k >= win)) continue; // masked keys stay 0
            const dk = p.positions.get(k);
            if (dk === undefined) continue;
            const w = src[(h * Td + dq) * Td + dk]!;
            row[j] = w;
            sum += w;
          }
          if (!(sum > 0)) continue; // nothing carried over: the recipient row stays as it is
          for (let j = 0; j < S; j++) x[o + j] = row[j]! / sum;
        }
      }
    },
  };
}
