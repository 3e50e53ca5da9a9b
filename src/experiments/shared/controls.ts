/**
 * Matched-distance control selection — the ONE rule every experiment uses for its random controls (scan:
 * attention to control tokens; knockout / steer / copying: edits on control edges).
 *
 * All positions are TOKEN indices into the tokenized sample (BOS included); distances are in tokens.
 *
 * Rule. Pool: keys `max(1, minKey) .. marker − 1` that are not targets, not marker-pattern tokens, not
 * BOS/special or empty-span tokens (`exclude`). Key 0 (BOS, the attention sink) is never a control. Each
 * draw walks the targets in order; for target t at distance d = marker − t it picks uniformly among the
 * still-unused pool keys whose distance is within max(min, ⌈rel · d⌉) tokens of d (default rel 0.25,
 * min 2), or, when there is none, among the unused keys at the smallest |distance difference|. Keys are
 * drawn WITHOUT replacement inside a draw, so a draw has as many distinct keys as there are targets —
 * an edit on a draw touches as many edges as the edit on the targets, and an attention average over a
 * draw averages as many distinct tokens as the targets' average. When the pool has fewer keys than there
 * are targets, the draws are shorter (reported in `notes`; the scan then has no control for the sample).
 * Draws are independent (with replacement across draws).
 *
 * @module
 */
import type { Rng } from '../../stats/rng.ts';

/** Distance tolerance of a match: |distance(k) − distance(t)| ≤ max(min, ⌈rel · distance(t)⌉). */
export interface ControlTolerance {
  rel: number;
  min: number;
}

export const CONTROL_TOLERANCE: ControlTolerance = { rel: 0.25, min: 2 };

/** Result of {@link drawMatchedControls}. */
export interface MatchedControls {
  /** `draws[d][i]`: the control key of draw d for target i (same order as the targets; shorter when the pool ran out). */
  draws: number[][];
  /** Size of the candidate pool. */
  pool: number;
  notes: string[];
}

/**
 * Draws `nDraws` matched control key sets for one sample (see the module doc for the rule).
 * @param marker - marker token index (the query whose attention is measured or edited)
 * @param targets - target token indices, all < marker
 * @param exclude - further keys that may not be controls (marker-pattern, special and empty-span tokens)
 * @param rng - a seeded stream named per sample (e.g. `knockout/controls/<id>`)
 * @param minKey - keys below this position are never controls (default 1: BOS excluded)
 */
export function drawMatchedControls(
  marker: number,
  targets: readonly number[],
  exclude: Iterable<number>,
  nDraws: number,
  rng: Rng,
  opts: { minKey?: number; tolerance?: ControlTolerance } = {},
): MatchedControls {
  const tol = opts.tolerance ?? CONTROL_TOLERANCE;
  const bad = new Set<number>([...targets, ...exclude, 0]);
  const pool: number[] = [];
  for (let k = Math.max(1, opts.minKey ?? 1); k < marker; k++) if (!bad.has(k)) pool.push(k);
  const notes: string[] = [];
  if (pool.length < targets.length) notes.push(`only ${pool.length} control candidate(s) for ${targets.length} target(s): controls knock out fewer edges`);
  const draws: number[][] = [];
  for (let d = 0; d < nDraws; d++) {
    const used = new Set<number>();
    const keys: number[] = [];
    for (const t of targets) {
      const free = pool.filter((k) => !used.has(k));
      if (free.length === 0) break;
      const dist = marker - t;
      const w = Math.max(tol.min, Math.ceil(tol.rel * dist));
      let cand = free.filter((k) => Math.abs(marker - k - dist) <= w);
      if (cand.length === 0) {
        const best = Math.min(...free.map((k) => Math.abs(marker - k - dist)));
        cand = free.filter((k) => Math.abs(marker - k - dist) === best);
      }
      const k = cand[rng.int(cand.length)]!;
      used.add(k);
      keys.push(k);
    }
    draws.push(keys);
  }
  return { draws, pool: pool.length, notes };
}
