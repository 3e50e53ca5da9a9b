/**
 * The whole-identifier spans of the function a corpus sample's targets point at: the `def`/`fn` keyword,
 * the function name and each parameter's identifier (tree-sitter, ./resolve.ts `findFunctions`). The
 * intervention experiments target every token of these spans by default (`targets: 'spans'`), where the
 * corpus gives one character per target (so only the first sub-token of a multi-token name).
 *
 * The function is the one whose signature holds EVERY corpus target: each target is the first character
 * of its keyword, lies in its name, is the character right after its name (the Rust corpus's quirk, see
 * SignatureStyle 'plip-rs'), or starts one of its parameters. Samples whose targets are not one function's
 * signature (e.g. baseline samples targeting a struct) have no spans (null): the corpus positions are used.
 *
 * UNITS: code point indices into the sample's code, [start, end).
 *
 * @module
 */
import { findFunctions } from './resolve.ts';
import type { CorpusLanguage } from './schema.ts';

/** One whole-identifier span. */
export interface FunctionSpan {
  kind: 'keyword' | 'name' | 'param';
  start: number;
  end: number;
}

/** The function whose signature the targets point at, with its spans. */
export interface FunctionSpans {
  name: string;
  spans: FunctionSpan[];
}

const IDENT = /[A-Za-z0-9_]/u;

/**
 * Spans of the function that holds every target (see the module doc), or null.
 * @param targets - corpus target positions (code points)
 */
export async function functionSpans(code: string, lang: CorpusLanguage, targets: readonly number[]): Promise<FunctionSpans | null> {
  if (targets.length === 0) return null;
  let fns;
  try {
    fns = await findFunctions(code, lang);
  } catch {
    return null;
  }
  const cps = Array.from(code);
  const identEnd = (s: number) => {
    let e = s;
    while (e < cps.length && IDENT.test(cps[e]!)) e++;
    return e;
  };
  for (const f of fns) {
    const kwLen = lang === 'python' ? 3 : 2;
    const params = f.paramPositions.filter((s) => cps[s] !== undefined && IDENT.test(cps[s]!)).map((s) => ({ kind: 'param' as const, start: s, end: identEnd(s) }));
    const holds = (t: number) => t === f.keywordPos || (t >= f.namePos && t <= f.nameEnd) || params.some((p) => p.start === t);
    if (!targets.every(holds)) continue;
    return { name: f.name, spans: [{ kind: 'keyword', start: f.keywordPos, end: f.keywordPos + kwLen }, { kind: 'name', start: f.namePos, end: f.nameEnd }, ...params] };
  }
  return null;
}
