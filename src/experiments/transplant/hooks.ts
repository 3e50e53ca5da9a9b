/**
 * The phase-5 transplant hooks: the donor's attention rows carried onto the recipient's keys through a
 * semantic position map (src/interventions/position-map.ts), for the recipient's marker rows AND its test
 * rows (the rest of the prompt after the marker and every generated token), at every decoding step.
 *
 * `transplantPattern` (src/interventions/transplant.ts) edits only the recipient's marker rows (the map's
 * `queries`). A generated test is written by rows after the marker, so the experiment also transplants
 * those, by offset from the end of each prompt: recipient row q takes donor row
 *   d(q) = clamp(donorPromptLen + (q − recipientPromptLen), donorMarkerLast, Td − 1),
 * where the donor tensor covers the donor's prompt AND the test it wrote itself (an uncached run of prompt +
 * its own greedy test). So the recipient's k-th generated token takes the row of the donor's k-th
 * generated token (both prompts of the organism end where the call starts: `>>> ` / `assert_eq!(`); prompt
 * rows between the marker and the prompt end take the donor's last rows, never a row before its marker.
 * For a prompt paired with itself, d(q) = q: the transplant is the identity (tested).
 *
 * Keys: each row is rebuilt with the same pure rule as `transplantPattern` ({@link transplantRow}): mapped
 * recipient keys (marker, def/fn, name, parameters) get the donor weights carried through the map,
 * unmapped keys (everything else, generated tokens included) keep the recipient's own weights, masked keys
 * stay 0, then the row is renormalised.
 *
 * @module
 */
import type { Hook, HookContext } from '../../hooks/types.ts';
import { keyStateRecorder } from '../../interventions/key-states.ts';
import { parseSemanticPositionMap, type SemanticPositionMap } from '../../interventions/position-map.ts';
import { transplantRow, type CarriedKey } from '../../interventions/transplant.ts';
import type { Tensor } from '../../tensor/tensor.ts';

/** Which recipient query rows take donor rows: only the marker's (the primitive's), or the marker's and every later row. */
export type TransplantRows = 'marker' | 'test';

export interface TestRowTransplant {
  layer: number;
  /** The donor's `blocks.{layer}.attn.hook_pattern` from an uncached run of its prompt (+ its own test): [1, H, Td, Td]. */
  donor: Tensor;
  map: SemanticPositionMap;
  rows: TransplantRows;
  /** Query heads (default all). */
  heads?: readonly number[];
}

/**
 * Donor query row of each recipient query row (absolute positions), see the module doc; undefined = row
 * not edited. `donorRows` = Td, the donor tensor's length (prompt + its own test).
 */
export function donorQueryOf(map: SemanticPositionMap, rows: TransplantRows, donorRows: number): (q: number) => number | undefined {
  const qmap = new Map(map.queries.map((q) => [q.recipient, q.donor]));
  const rLast = Math.max(...map.recipient.regions.marker);
  const dLast = Math.max(...map.donor.regions.marker);
  const dLen = map.donor.nTokens;
  const rLen = map.recipient.nTokens;
  return (q) => {
    const d = qmap.get(q);
    if (d !== undefined || rows === 'marker' || q <= rLast) return d;
    return Math.min(donorRows - 1, Math.max(dLast, dLen + (q - rLen)));
  };
}

/**
 * Hooks transplanting the donor's rows (see the module doc): a key-state recorder on
 * `blocks.L.attn.hook_attn_scores` and the edit on `blocks.L.attn.hook_pattern`.
 * @throws Error when the donor tensor or the heads do not fit the map
 */
export function transplantTestRows(p: TestRowTransplant): Hook[] {
  const ds = p.donor.shape;
  if (ds.length !== 4 || ds[0] !== 1 || ds[2] !== ds[3]) throw new Error(`transplantTestRows: donor pattern has shape [${ds.join(', ')}], expected [1, H, Td, Td] from an uncached run`);
  const H = ds[1]!;
  const Td = ds[2]!;
  const map = parseSemanticPositionMap(p.map);
  if (Td < map.donor.nTokens) throw new Error(`transplantTestRows: the donor pattern covers ${Td} positions, fewer than the donor prompt's ${map.donor.nTokens} tokens`);
  const heads = p.heads ?? Array.from({ length: H }, (_, h) => h);
  for (const h of heads) if (!Number.isInteger(h) || h < 0 || h >= H) throw new Error(`transplantTestRows: head ${h} is out of range (the model has heads 0..${H - 1})`);
  const donorOf = donorQueryOf(map, p.rows, Td);
  const keys: CarriedKey[] = map.keys.map((e) => ({ recipient: e.recipient, donor: e.donor, weight: e.weight }));
  const src = p.donor.data;
  const rec = keyStateRecorder([p.layer]);
  const edit: Hook = {
    name: `blocks.${p.layer}.attn.hook_pattern`,
    fn: (t: Tensor, ctx: HookContext) => {
      const [NB, Hr, T, S] = t.shape as [number, number, number, number];
      if (Hr !== H) throw new Error(`transplantTestRows layer ${p.layer}: recipient has ${Hr} heads, donor ${H} (same model?)`);
      const states = rec.states(p.layer, t, ctx);
      const x = t.data;
      for (let b = 0; b < NB; b++) {
        const kp = NB === 1 ? ctx.keyPositions! : ctx.keyPositions!.subarray(b * S, (b + 1) * S);
        const colOf = new Map<number, number>();
        for (let j = 0; j < S; j++) if (kp[j]! >= 0) colOf.set(kp[j]!, j);
        const cols = (k: number) => colOf.get(k) ?? -1;
        for (let r = 0; r < T; r++) {
          const q = ctx.queryPositions[b * T + r]!;
          if (q < 0) continue;
          const dq = donorOf(q);
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
