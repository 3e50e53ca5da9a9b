/**
 * Corpus access for the knockout experiment, kept behind {@link prepareKnockoutSample} so the corpus layer
 * (src/corpus/, src/experiments/positions.ts) can change without touching the experiment: it maps a corpus
 * sample to token positions, defines the teacher-forced continuation, and draws the matched controls.
 *
 * UNITS: token positions are indices into the tokenized sample (BOS included); character positions are
 * code points into the sample's code (converted only through the corpus position mapping).
 *
 * Continuation (teacher-forced, scored at every position from the marker on):
 * - the text from the end of the marker pattern to the end of its line (Python doctest: `>>> add(2, 3)` →
 *   ` add(2, 3)`);
 * - if that rest is blank (Rust: `#[test]` ends its line), it extends to the end of the next non-blank line
 *   (`fn test_add() {`);
 * - in tokens: every token after the marker token whose span starts before that end (so with
 *   `--marker-token first` the remaining tokens of a split marker come first). The run is truncated there.
 *
 * @module
 */
import type { CorpusSample } from '../corpus/schema.ts';
import type { PlipTokenizer } from '../tokenize/types.ts';
import type { Rng } from '../stats/rng.ts';
import { mapSample, type MarkerTokenChoice } from './positions.ts';

/** A sample ready for the knockout runs. */
export interface KnockoutSample {
  id: string;
  group: string;
  language: 'python' | 'rust' | null;
  /** All token ids of the sample (BOS included). */
  ids: number[];
  marker: { token: number; charPos: number; pattern: string; tokenText: string; merged: boolean };
  /** Marker-pattern tokens (never controls). */
  markerTokens: number[];
  /** Target tokens ≤ marker (knocked out), ascending, unique. */
  targets: number[];
  /** Target tokens > marker: edges to future tokens (masked; reported, never applied). */
  futureTargets: number[];
  /** Last token position of the continuation (inclusive); equals marker.token when there is none. */
  continuationEnd: number;
  continuationText: string;
  /** Tokens that may not be controls besides targets and marker tokens: BOS/specials and empty-span tokens. */
  excluded: Set<number>;
  notes: string[];
}

/** Code point index of the end of the continuation text (exclusive), per the module doc. */
export function continuationCharEnd(code: string, markerCharPos: number, pattern: string): { start: number; end: number } {
  const cps = Array.from(code);
  const start = markerCharPos + Array.from(pattern).length;
  const lineEnd = (from: number) => {
    let i = from;
    while (i < cps.length && cps[i] !== '\n') i++;
    return i;
  };
  let end = lineEnd(start);
  if (cps.slice(start, end).join('').trim() === '') {
    let i = end + 1;
    while (i < cps.length) {
      const e = lineEnd(i);
      if (cps.slice(i, e).join('').trim() !== '') {
        end = e;
        break;
      }
      i = e + 1;
    }
  }
  return { start, end: Math.min(end, cps.length) };
}

/**
 * Maps one corpus sample for the knockout experiment (THE corpus access point of the experiment).
 * @param markerToken - 'first' (default, PLIP-rs): the token containing the marker's first character; 'last'
 */
export function prepareKnockoutSample(tok: PlipTokenizer, s: CorpusSample, nCtx: number, markerToken: MarkerTokenChoice = 'first'): KnockoutSample {
  const enc = tok.encodeWithOffsets(s.code);
  const map = mapSample(tok, s, { enc, markerToken });
  const m = map.marker.token;
  const notes: string[] = [];
  if (map.marker.merged && map.marker.mergedReason) notes.push(`marker token: ${map.marker.mergedReason}`);
  const nearest = map.targets.filter((t) => !t.exact).length;
  if (nearest) notes.push(`${nearest} target character(s) not inside any token; nearest token taken`);
  const cps = Array.from(s.code);
  const { end: charEnd } = continuationCharEnd(s.code, s.markerCharPos, s.markerPattern);
  let contEnd = m;
  for (let i = m + 1; i < enc.ids.length; i++) {
    const [a, b] = enc.offsets[i]!;
    if (b > a && a >= charEnd) break;
    contEnd = i;
  }
  if (contEnd + 1 > nCtx) {
    notes.push(`run truncated to the model context (${nCtx} tokens)`);
    contEnd = Math.max(m, nCtx - 1);
  }
  const excluded = new Set<number>();
  enc.special.forEach((sp, i) => {
    if (sp || enc.offsets[i]![1] <= enc.offsets[i]![0]) excluded.add(i);
  });
  const contText = contEnd > m ? cps.slice(enc.offsets[m]![1], enc.offsets[contEnd]![1]).join('') : '';
  return {
    id: s.id,
    group: s.group,
    language: s.language,
    ids: enc.ids,
    marker: { token: m, charPos: s.markerCharPos, pattern: s.markerPattern, tokenText: map.marker.tokenText, merged: map.marker.merged },
    markerTokens: map.marker.patternTokens,
    targets: map.visibleTargetTokens,
    futureTargets: map.targetTokens.filter((t) => t > m),
    continuationEnd: contEnd,
    continuationText: contText,
    excluded,
    notes,
  };
}

/** Controls of one sample: `draws[d]` = the control keys of draw d (same length as the targets when possible). */
export interface ControlDraws {
  draws: number[][];
  notes: string[];
}

/** Relative / minimum distance tolerance of the matched controls (same rule as the scan's controls). */
export const CONTROL_TOLERANCE = { rel: 0.25, min: 2 } as const;

/**
 * Draws `nDraws` control key sets for a sample: for each visible target t (distance d = marker − t tokens),
 * a random key from the pool whose distance is within max(2, ⌈0.25·d⌉) tokens of d (else the nearest
 * available distance), WITHOUT replacement inside a draw, so a draw knocks out as many edges as the
 * knockout. Pool: keys max(1, minKey)..marker−1 that are not targets, marker-pattern tokens, BOS/special or
 * empty-span tokens. Key 0 (BOS, the attention sink) is never a control.
 */
export function drawControls(
  s: Pick<KnockoutSample, 'targets' | 'markerTokens' | 'excluded'> & { marker: { token: number } },
  nDraws: number,
  rng: Rng,
  minKey = 1,
): ControlDraws {
  const m = s.marker.token;
  const bad = new Set<number>([...s.targets, ...s.markerTokens, ...s.excluded, 0]);
  const pool: number[] = [];
  for (let k = Math.max(1, minKey); k < m; k++) if (!bad.has(k)) pool.push(k);
  const notes: string[] = [];
  if (pool.length < s.targets.length) notes.push(`only ${pool.length} control candidate(s) for ${s.targets.length} target(s): controls knock out fewer edges`);
  const draws: number[][] = [];
  for (let d = 0; d < nDraws; d++) {
    const used = new Set<number>();
    const keys: number[] = [];
    for (const t of s.targets) {
      const free = pool.filter((k) => !used.has(k));
      if (free.length === 0) break;
      const dist = m - t;
      const tol = Math.max(CONTROL_TOLERANCE.min, Math.ceil(CONTROL_TOLERANCE.rel * dist));
      let cand = free.filter((k) => Math.abs(m - k - dist) <= tol);
      if (cand.length === 0) {
        const best = Math.min(...free.map((k) => Math.abs(m - k - dist)));
        cand = free.filter((k) => Math.abs(m - k - dist) === best);
      }
      const k = cand[rng.int(cand.length)]!;
      used.add(k);
      keys.push(k);
    }
    draws.push(keys.sort((a, b) => a - b));
  }
  return { draws, notes };
}
