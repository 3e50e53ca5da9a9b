/**
 * Sample preparation shared by the intervention experiments on a corpus (knockout, steer): sample selection
 * (`groups`, `limit`), the mapping of a corpus sample to token positions (through src/corpus/positions.ts),
 * the teacher-forced continuation, and the sample's matched controls (./controls.ts).
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
 *   `--marker-token first` the remaining tokens of a split marker come first). The run ends there.
 *
 * @module
 */
import type { CorpusSample } from '../../corpus/schema.ts';
import type { PlipTokenizer } from '../../tokenize/types.ts';
import type { Corpus } from '../../corpus/schema.ts';
import type { Rng } from '../../stats/rng.ts';
import { OptionError } from '../contract.ts';
import { drawMatchedControls } from './controls.ts';
import { mapSample, type MarkerTokenChoice } from '../../corpus/positions.ts';
import { tokensInCharRange } from '../../tokenize/positions.ts';

/**
 * Which key tokens are the targets:
 * - `'spans'` (default): every token of the whole-identifier spans of the function the corpus targets point
 *   at — the `def`/`fn` keyword, the name and each parameter (src/corpus/function-spans.ts, tree-sitter).
 *   For the Rust corpus's "character after the name" target (`(`) this means the parameter spans instead.
 *   Samples without spans (targets that are not one function's signature) use the corpus positions, noted.
 * - `'corpus'`: the token containing each corpus target character (PLIP-rs; one token per target, so only
 *   the first sub-token of a multi-token name) — reproduces results written before `'spans'` existed.
 */
export type TargetMode = 'spans' | 'corpus';

/** A corpus sample ready for an intervention at its marker. */
export interface MarkerSample {
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
 * Maps one corpus sample (THE corpus access point of the intervention experiments). The caller checks the
 * context rule (src/experiments/contract.ts `checkContext`) on `ids.length`.
 * @param markerToken - 'first' (default, PLIP-rs): the token containing the marker's first character; 'last'
 */
export function prepareMarkerSample(tok: PlipTokenizer, s: CorpusSample, markerToken: MarkerTokenChoice = 'first', targetMode: TargetMode = 'corpus'): MarkerSample {
  const enc = tok.encodeWithOffsets(s.code);
  const map = mapSample(tok, s, { enc, markerToken });
  const m = map.marker.token;
  const notes: string[] = [];
  let targetTokens = map.targetTokens;
  if (targetMode === 'spans') {
    if (s.functionSpans) {
      const set = new Set<number>();
      for (const sp of s.functionSpans.spans) for (const t of tokensInCharRange(enc, sp.start, sp.end)) set.add(t);
      targetTokens = [...set].sort((a, b) => a - b);
    } else notes.push(`targets: no function signature holds every corpus target${s.functionSpans === undefined ? ' (sample not from the corpus loader)' : ''}; the corpus positions are used`);
  }
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
    targets: targetTokens.filter((t) => t <= m),
    futureTargets: targetTokens.filter((t) => t > m),
    continuationEnd: contEnd,
    continuationText: contText,
    excluded,
    notes,
  };
}

/**
 * The matched controls of a prepared sample (./controls.ts), each draw's keys sorted ascending.
 */
export function sampleControls(s: { targets: readonly number[]; markerTokens: readonly number[]; excluded: Iterable<number>; marker: { token: number } }, nDraws: number, rng: Rng, minKey = 1): { draws: number[][]; notes: string[] } {
  const c = drawMatchedControls(s.marker.token, s.targets, [...s.markerTokens, ...s.excluded], nDraws, rng, { minKey });
  return { draws: c.draws.map((d) => [...d].sort((a, b) => a - b)), notes: c.notes };
}

/**
 * Samples of the corpus selected by `groups` / `limit`, in corpus order.
 * @throws OptionError('groups') for a group the corpus does not have
 */
export function selectSamples(corpus: Corpus, o: { groups?: readonly string[] | null; limit?: number | null }) {
  if (o.groups) for (const g of o.groups) if (!corpus.groups.includes(g)) throw new OptionError('groups', `corpus has no group '${g}' (groups: ${corpus.groups.join(', ')})`);
  const perGroup = new Map<string, number>();
  return corpus.samples.filter((s) => {
    if (o.groups && !o.groups.includes(s.group)) return false;
    const n = perGroup.get(s.group) ?? 0;
    perGroup.set(s.group, n + 1);
    return o.limit === undefined || o.limit === null || n < o.limit;
  });
}
