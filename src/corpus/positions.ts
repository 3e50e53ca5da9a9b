/**
 * Character → token mapping of corpus samples (what `plip positions` prints and `plip scan` uses).
 *
 * UNITS: `charPos` / `span` fields are CODE POINT indices into the sample's code; `token` fields are TOKEN
 * indices into the tokenizer's `ids` (BOS included — the shift is handled by src/tokenize/positions.ts, the
 * one module that knows about it).
 *
 * @module
 */
import type { CorpusSample } from './schema.ts';
import { charToToken } from '../tokenize/positions.ts';
import type { Encoding, PlipTokenizer } from '../tokenize/types.ts';

/** One character position mapped to a token. */
export interface MappedPosition {
  /** Code point index into the code. */
  charPos: number;
  /** The character at `charPos`. */
  char: string;
  /** Token index (into the encoding's ids, BOS included). */
  token: number;
  /** True when the token's span contains the character; false when the nearest token was taken. */
  exact: boolean;
  /** Vocabulary string of the token. */
  tokenText: string;
  /** Code point span [start, end) of the token in the code. */
  span: [number, number];
  /** The code covered by the span. */
  spanText: string;
}

/** A marker mapping, with merged-token detection. */
export interface MappedMarker extends MappedPosition {
  pattern: string;
  /**
   * True when the marker token is merged with text outside the marker pattern: its span starts before the
   * marker's first character (e.g. ` >>>` with the leading space) or ends after the pattern's last character.
   */
  merged: boolean;
  /** Why `merged` is true (null when it is not). */
  mergedReason: string | null;
  /** Tokens whose spans intersect the marker pattern (the marker may be split over several). */
  patternTokens: number[];
}

/** A target mapping. */
export interface MappedTarget extends MappedPosition {
  /** Token index greater than the marker token: invisible to the marker under causal attention. */
  afterMarker: boolean;
  /** Same token as an earlier target of the sample (it is counted once in attention means). */
  duplicate: boolean;
}

/** Which token of a multi-token marker attends: the one containing the marker's first character (PLIP-rs) or the last token of the pattern. */
export type MarkerTokenChoice = 'first' | 'last';

/** Full mapping of one sample. */
export interface SampleMapping {
  id: string;
  group: string;
  nTokens: number;
  marker: MappedMarker;
  targets: MappedTarget[];
  /** Unique target token indices, ascending. */
  targetTokens: number[];
  /** Unique target tokens at or before the marker token (visible to it). */
  visibleTargetTokens: number[];
}

function codeSlice(cps: string[], s: number, e: number): string {
  return cps.slice(s, e).join('');
}

function mapOne(enc: Encoding, cps: string[], charPos: number): MappedPosition {
  const { token, exact } = charToToken(enc, charPos);
  const span = enc.offsets[token]!;
  return { charPos, char: cps[charPos] ?? '', token, exact, tokenText: enc.tokens[token] ?? '', span: [span[0], span[1]], spanText: codeSlice(cps, span[0], span[1]) };
}

/**
 * Maps a sample's marker and targets to tokens.
 *
 * @param tok - the model's tokenizer (its BOS policy is applied)
 * @param s - a validated sample (positions in code points)
 * @param opts.enc - a precomputed `tok.encodeWithOffsets(s.code)`
 * @param opts.markerToken - `first` (default): the token containing `markerCharPos`; `last`: the last token
 *   intersecting the marker pattern (it has seen the whole marker)
 */
export function mapSample(tok: PlipTokenizer, s: CorpusSample, opts: { enc?: Encoding; markerToken?: MarkerTokenChoice } = {}): SampleMapping {
  const enc = opts.enc ?? tok.encodeWithOffsets(s.code);
  const cps = Array.from(s.code);
  const patLen = Array.from(s.markerPattern).length;
  const pStart = s.markerCharPos;
  const pEnd = pStart + patLen;
  const patternTokens: number[] = [];
  enc.offsets.forEach(([a, b], i) => {
    if (b > a && a < pEnd && b > pStart) patternTokens.push(i);
  });
  const first = mapOne(enc, cps, pStart);
  let m: MappedPosition = first;
  if (opts.markerToken === 'last' && patternTokens.length) {
    const t = patternTokens[patternTokens.length - 1]!;
    const span = enc.offsets[t]!;
    m = { ...first, token: t, exact: true, tokenText: enc.tokens[t] ?? '', span: [span[0], span[1]], spanText: codeSlice(cps, span[0], span[1]) };
  }
  const reasons: string[] = [];
  if (!m.exact) reasons.push(`no token contains the marker's first character; nearest token ${m.token} taken`);
  if (m.span[0] < pStart) reasons.push(`token starts ${pStart - m.span[0]} code point(s) before the marker (${JSON.stringify(codeSlice(cps, m.span[0], pStart))} merged in)`);
  if (m.span[1] > pEnd) reasons.push(`token extends ${m.span[1] - pEnd} code point(s) past the marker pattern (${JSON.stringify(codeSlice(cps, pEnd, m.span[1]))} merged in)`);
  const marker: MappedMarker = { ...m, pattern: s.markerPattern, merged: reasons.length > 0, mergedReason: reasons.length ? reasons.join('; ') : null, patternTokens };

  const seen = new Set<number>();
  const targets: MappedTarget[] = s.targetCharPositions.map((p) => {
    const t = mapOne(enc, cps, p);
    const duplicate = seen.has(t.token);
    seen.add(t.token);
    return { ...t, afterMarker: t.token > marker.token, duplicate };
  });
  const targetTokens = [...seen].sort((a, b) => a - b);
  return {
    id: s.id,
    group: s.group,
    nTokens: enc.ids.length,
    marker,
    targets,
    targetTokens,
    visibleTargetTokens: targetTokens.filter((t) => t <= marker.token),
  };
}

/** Counts over many mappings (as PLIP-rs's verify_positions printed). */
export interface PositionSummary {
  nSamples: number;
  markersExact: number;
  markersMerged: number;
  targets: number;
  targetsExact: number;
  targetsNearest: number;
  targetsAfterMarker: number;
  duplicateTargetTokens: number;
  /** Samples whose targets are all after the marker (causal attention 0 by construction). */
  samplesZeroByConstruction: number;
  /** Per group: samples, markers merged, targets nearest, samples zero by construction. */
  groups: Record<string, { nSamples: number; markersMerged: number; targetsNearest: number; samplesZeroByConstruction: number }>;
}

export function summarizeMappings(ms: readonly SampleMapping[]): PositionSummary {
  const sum: PositionSummary = {
    nSamples: ms.length,
    markersExact: 0,
    markersMerged: 0,
    targets: 0,
    targetsExact: 0,
    targetsNearest: 0,
    targetsAfterMarker: 0,
    duplicateTargetTokens: 0,
    samplesZeroByConstruction: 0,
    groups: {},
  };
  for (const m of ms) {
    const g = (sum.groups[m.group] ??= { nSamples: 0, markersMerged: 0, targetsNearest: 0, samplesZeroByConstruction: 0 });
    g.nSamples++;
    if (m.marker.exact) sum.markersExact++;
    if (m.marker.merged) (sum.markersMerged++, g.markersMerged++);
    for (const t of m.targets) {
      sum.targets++;
      if (t.exact) sum.targetsExact++;
      else (sum.targetsNearest++, g.targetsNearest++);
      if (t.afterMarker) sum.targetsAfterMarker++;
      if (t.duplicate) sum.duplicateTargetTokens++;
    }
    if (m.visibleTargetTokens.length === 0) (sum.samplesZeroByConstruction++, g.samplesZeroByConstruction++);
  }
  return sum;
}
