/**
 * Position-matched control for the layer scan: attention from the marker to random NON-target tokens at a
 * similar distance, so that "attention dilutes with distance" is matched between groups.
 *
 * All positions here are TOKEN indices (into the encoding's ids, BOS included); distances are in tokens.
 *
 * @module
 */
import type { Rng } from '../stats/rng.ts';

/** Options of {@link selectControls}. */
export interface ControlOptions {
  /** Number of independent draws (each draw picks one control token per visible target). Default 16. */
  draws?: number;
  /** Relative distance tolerance: a candidate k matches target t when |(m − k) − (m − t)| ≤ max(minWindow, ceil(relWindow·(m − t))). Default 0.25. */
  relWindow?: number;
  /** Minimum absolute tolerance in tokens. Default 2. */
  minWindow?: number;
}

export const CONTROL_DEFAULTS = { draws: 16, relWindow: 0.25, minWindow: 2 } as const;

/** Result of {@link selectControls}. */
export interface ControlSelection {
  /** `tokens[d][i]`: the control token of draw d for visible target i (same order as `visibleTargets`). */
  tokens: number[][];
  /** Number of candidate tokens per visible target (0 → that target has no control; see `note`). */
  candidates: number[];
  note?: string;
}

/**
 * Draws control tokens for one sample.
 *
 * Candidates are keys the marker can see (1 ≤ k < marker; key 0 — BOS / the attention sink — is never a
 * candidate) that are not targets, not marker-pattern tokens and not in `exclude` (special or empty-span
 * tokens). For a visible target t at distance d = marker − t, the candidates are those whose distance is
 * within the tolerance of d; if there are none, the candidates at the smallest |distance difference|. Each
 * draw picks one candidate per target uniformly at random (with replacement across targets and draws).
 *
 * @param marker - marker token index
 * @param visibleTargets - target token indices ≤ marker
 * @param exclude - further token indices that may not be controls (targets and marker tokens are added here)
 * @param rng - seeded stream (the scan uses `createRng(seed, 'scan-control/<sample id>')`)
 */
export function selectControls(marker: number, visibleTargets: readonly number[], exclude: ReadonlySet<number>, rng: Rng, opts: ControlOptions = {}): ControlSelection {
  const draws = opts.draws ?? CONTROL_DEFAULTS.draws;
  const rel = opts.relWindow ?? CONTROL_DEFAULTS.relWindow;
  const minW = opts.minWindow ?? CONTROL_DEFAULTS.minWindow;
  const targetSet = new Set(visibleTargets);
  const pool: number[] = [];
  for (let k = 1; k < marker; k++) if (!targetSet.has(k) && !exclude.has(k)) pool.push(k);
  const perTarget: number[][] = visibleTargets.map((t) => {
    if (pool.length === 0) return [];
    const d = marker - t;
    const w = Math.max(minW, Math.ceil(rel * d));
    const within = pool.filter((k) => Math.abs(marker - k - d) <= w);
    if (within.length) return within;
    let best = Infinity;
    for (const k of pool) best = Math.min(best, Math.abs(marker - k - d));
    return pool.filter((k) => Math.abs(marker - k - d) === best);
  });
  const candidates = perTarget.map((c) => c.length);
  if (visibleTargets.length > 0 && pool.length === 0) {
    return { tokens: [], candidates, note: 'no candidate control tokens (every visible key is BOS, a target, a marker token or special)' };
  }
  const tokens: number[][] = [];
  for (let d = 0; d < draws; d++) tokens.push(perTarget.map((c) => c[rng.int(c.length)]!));
  return { tokens, candidates };
}
