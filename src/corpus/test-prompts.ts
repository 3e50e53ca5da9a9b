/**
 * Where the marker and the function tokens are in a phase-3/4/5 prompt.
 *
 * Character spans come from the prompt's syntax (tree-sitter, src/corpus/resolve.ts): the `def`/`fn`
 * keyword, the whole function name and each parameter's whole identifier — every sub-token of a
 * multi-token name is a target, not just the first. The marker is the last occurrence of `>>>` (Python)
 * or `#[test]` (Rust); edits apply to queries from its first token on, measurements that need one source
 * token use its LAST token (for `#[test]` that is `]`, the token that has read the whole marker).
 *
 * @module
 */
import { findFunctions } from './resolve.ts';
import type { PromptRecord as StudyPrompt } from '../score/prompts-schema.ts';
import { tokensInCharRange, utf16ToCodePoint } from '../tokenize/positions.ts';
import type { PlipTokenizer } from '../tokenize/types.ts';

export const MARKERS = { python: '>>>', rust: '#[test]' } as const;

/** A code-point span of the prompt with what it is. */
export interface CharSpan {
  kind: 'keyword' | 'name' | 'param';
  start: number;
  end: number;
}

/** A prompt with its syntax located (token-independent, so it is computed once per prompt set). */
export interface LocatedPrompt {
  prompt: StudyPrompt;
  /** Code-point span of the marker. */
  marker: { start: number; end: number; text: string };
  spans: CharSpan[];
}

/** Token positions of a located prompt under one tokenizer. */
export interface PromptTokens {
  ids: number[];
  marker: { first: number; last: number; text: string };
  /** Token indices covering the spans, ascending, all before the marker. */
  targets: number[];
  /** Tokens never used as control keys: the marker's tokens and special tokens. */
  avoid: number[];
}

const IDENT = /[A-Za-z0-9_]/;

/**
 * Locates marker and function spans of each prompt.
 * @throws Error naming the prompt when the marker is absent or the function is not defined before it
 */
export async function locatePrompts(prompts: readonly StudyPrompt[]): Promise<{ located: LocatedPrompt[]; skipped: { id: string; group: string; reason: string }[] }> {
  const located: LocatedPrompt[] = [];
  const skipped: { id: string; group: string; reason: string }[] = [];
  for (const p of prompts) {
    const text = MARKERS[p.language];
    const u = p.prompt.lastIndexOf(text);
    if (u < 0) {
      skipped.push({ id: p.id, group: p.language, reason: `the marker ${text} does not occur in the prompt` });
      continue;
    }
    const mStart = utf16ToCodePoint(p.prompt, u);
    const fns = (await findFunctions(p.prompt, p.language)).filter((f) => f.name === p.name && f.namePos < mStart);
    if (fns.length === 0) {
      skipped.push({ id: p.id, group: p.language, reason: `function '${p.name}' is not defined before the marker` });
      continue;
    }
    const f = fns[fns.length - 1]!;
    const cps = [...p.prompt];
    const identEnd = (s: number): number => {
      let e = s;
      while (e < cps.length && IDENT.test(cps[e]!)) e++;
      return e;
    };
    const spans: CharSpan[] = [
      { kind: 'keyword', start: f.keywordPos, end: f.keywordPos + (p.language === 'python' ? 3 : 2) },
      { kind: 'name', start: f.namePos, end: f.nameEnd },
      ...f.paramPositions.filter((s) => cps[s] !== undefined && IDENT.test(cps[s]!)).map((s) => ({ kind: 'param' as const, start: s, end: identEnd(s) })),
    ];
    located.push({ prompt: p, marker: { start: mStart, end: mStart + [...text].length, text }, spans });
  }
  return { located, skipped };
}

/**
 * Which tokens are the function's: its signature (def/fn, name, parameters — the roadmap's edges), or also
 * every later occurrence of the name as an identifier part, e.g. in `fn test_NAME()` after `#[test]`,
 * a second copy of the name that a test can read instead of the definition.
 */
export type TargetSet = 'signature' | 'signature+name';

/** Token positions of a located prompt. @throws Error naming the prompt when a span maps to no token */
export function promptTokens(tok: PlipTokenizer, lp: LocatedPrompt, which: TargetSet = 'signature'): PromptTokens {
  const enc = tok.encodeWithOffsets(lp.prompt.prompt);
  const m = tokensInCharRange(enc, lp.marker.start, lp.marker.end);
  if (m.length === 0) throw new Error(`prompt '${lp.prompt.id}': the marker maps to no token`);
  const first = m[0]!;
  const targets = new Set<number>();
  for (const s of lp.spans) for (const t of tokensInCharRange(enc, s.start, s.end)) if (t < first) targets.add(t);
  if (targets.size === 0) throw new Error(`prompt '${lp.prompt.id}': the function's tokens map to no token before the marker`);
  if (which === 'signature+name') {
    const text = lp.prompt.prompt;
    for (const occ of text.matchAll(new RegExp(`(?<![A-Za-z0-9])${lp.prompt.name}(?![A-Za-z0-9])`, 'g'))) {
      const a = utf16ToCodePoint(text, occ.index);
      for (const t of tokensInCharRange(enc, a, a + [...lp.prompt.name].length)) if (!m.includes(t)) targets.add(t);
    }
  }
  if (targets.size === 0) throw new Error(`prompt '${lp.prompt.id}': the function's tokens map to no token before the marker`);
  const avoid = [...m, ...enc.special.flatMap((s, i) => (s ? [i] : []))];
  return { ids: enc.ids, marker: { first, last: m[m.length - 1]!, text: lp.marker.text }, targets: [...targets].sort((a, b) => a - b), avoid };
}
