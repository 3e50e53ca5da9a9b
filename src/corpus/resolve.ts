/**
 * Resolving pattern-based corpus samples: finding the function signature a test marker refers to, by
 * parsing the code with tree-sitter (`web-tree-sitter` + the vendored Python and Rust grammars in
 * `./grammars/`, see SOURCES.md there).
 *
 * UNITS: tree-sitter reports UTF-16 indices for JavaScript strings; everything this module returns is
 * converted to Unicode CODE POINT indices into the code (the corpus unit) with
 * {@link utf16ToCodePoint} — the one converter of the project.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Language, Parser, type Node } from 'web-tree-sitter';
import { codePointToUtf16, utf16ToCodePoint } from '../tokenize/positions.ts';
import type { CorpusLanguage, SignatureStyle } from './schema.ts';

/** A function definition found in the code. All positions are code point indices into the code. */
export interface FunctionSignature {
  language: CorpusLanguage;
  name: string;
  /** First character of the `def` / `fn` keyword. */
  keywordPos: number;
  /** First character of the name. */
  namePos: number;
  /** One past the last character of the name (= the character right after the name). */
  nameEnd: number;
  /** First character of each parameter's name (first identifier of the parameter; `self` included). */
  paramPositions: number[];
  /** Span of the whole definition (for Python including `async`; for Rust excluding attributes). */
  start: number;
  end: number;
  /** Rust: carries a `#[test]`-like attribute. Python: always false. */
  isTest: boolean;
  /** Names called inside the body, in order of appearance (duplicates removed). */
  calls: string[];
}

/** Result of {@link resolveSignatureTargets}. */
export interface SignatureTargets {
  /** Target positions (code points), ascending. */
  targets: number[];
  fn: FunctionSignature;
  /** Which rule picked the function (human-readable, kept in the resolved corpus for audit). */
  rule: string;
}

const GRAMMAR_FILES: Record<CorpusLanguage, string> = { python: 'tree-sitter-python.wasm', rust: 'tree-sitter-rust.wasm' };

function grammarPath(lang: CorpusLanguage): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [`${here}grammars/${GRAMMAR_FILES[lang]}`, `${here}../../src/corpus/grammars/${GRAMMAR_FILES[lang]}`];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`tree-sitter grammar for ${lang} not found (looked for ${candidates.join(', ')})`);
}

let parserInit: Promise<void> | null = null;
const languages = new Map<CorpusLanguage, Promise<Language>>();

async function parserFor(lang: CorpusLanguage): Promise<Parser> {
  parserInit ??= Parser.init();
  await parserInit;
  let l = languages.get(lang);
  if (!l) {
    l = Language.load(readFileSync(grammarPath(lang)));
    languages.set(lang, l);
  }
  const p = new Parser();
  p.setLanguage(await l);
  return p;
}

function walk(n: Node, visit: (n: Node) => void): void {
  visit(n);
  for (const c of n.namedChildren) if (c) walk(c, visit);
}

function firstIdentifier(n: Node): Node | null {
  if (n.type === 'identifier' || n.type === 'self') return n;
  for (const c of n.namedChildren) {
    if (!c) continue;
    const f = firstIdentifier(c);
    if (f) return f;
  }
  return null;
}

function childOfType(n: Node, type: string): Node | null {
  for (const c of n.children) if (c && c.type === type) return c;
  return null;
}

function calledNames(body: Node | null, lang: CorpusLanguage): string[] {
  const out: string[] = [];
  if (!body) return out;
  walk(body, (n) => {
    // Rust macro arguments (`assert_eq!(add(2, 3), 5)`) are unparsed token trees: `add` followed by `( … )`.
    if (lang === 'rust' && n.type === 'identifier' && n.parent?.type === 'token_tree') {
      const next = n.nextSibling;
      if (next?.type === 'token_tree' && next.text.startsWith('(') && !out.includes(n.text)) out.push(n.text);
      return;
    }
    if (n.type !== 'call' && n.type !== 'call_expression') return;
    const f = n.childForFieldName('function');
    if (!f) return;
    // Plain calls `f(x)` and, for Rust, path calls `m::f(x)` (last segment).
    let name: string | null = null;
    if (f.type === 'identifier') name = f.text;
    else if (lang === 'rust' && f.type === 'scoped_identifier') name = f.childForFieldName('name')?.text ?? null;
    if (name && !out.includes(name)) out.push(name);
  });
  return out;
}

const RUST_TEST_ATTR = /^#\s*\[\s*(test|tokio::test|should_panic)\b/;

function rustIsTest(fnNode: Node): boolean {
  let s = fnNode.previousNamedSibling;
  while (s && (s.type === 'attribute_item' || s.type === 'line_comment' || s.type === 'block_comment')) {
    if (s.type === 'attribute_item' && RUST_TEST_ATTR.test(s.text)) return true;
    s = s.previousNamedSibling;
  }
  return false;
}

/**
 * Every function definition in `code` (Python `function_definition`, Rust `function_item`), in source order.
 * @throws Error when the code does not parse at all
 */
export async function findFunctions(code: string, lang: CorpusLanguage): Promise<FunctionSignature[]> {
  const parser = await parserFor(lang);
  const tree = parser.parse(code);
  if (!tree) throw new Error(`tree-sitter could not parse the ${lang} code`);
  const cp = (u16: number) => utf16ToCodePoint(code, u16);
  const out: FunctionSignature[] = [];
  try {
    walk(tree.rootNode, (n) => {
      const isFn = lang === 'python' ? n.type === 'function_definition' : n.type === 'function_item';
      if (!isFn) return;
      const name = n.childForFieldName('name');
      const kw = childOfType(n, lang === 'python' ? 'def' : 'fn');
      const params = n.childForFieldName('parameters');
      if (!name || !kw || !params) return;
      const paramPositions: number[] = [];
      for (const p of params.namedChildren) {
        if (!p) continue;
        if (p.type === 'keyword_separator' || p.type === 'positional_separator' || p.type === 'comment' || p.type === 'line_comment' || p.type === 'block_comment' || p.type === 'attribute_item') continue;
        const target = lang === 'rust' && p.type === 'parameter' ? (p.childForFieldName('pattern') ?? p) : p;
        const id = firstIdentifier(target);
        paramPositions.push(cp((id ?? target).startIndex));
      }
      out.push({
        language: lang,
        name: name.text,
        keywordPos: cp(kw.startIndex),
        namePos: cp(name.startIndex),
        nameEnd: cp(name.endIndex),
        paramPositions,
        start: cp(n.startIndex),
        end: cp(n.endIndex),
        isTest: lang === 'rust' ? rustIsTest(n) : false,
        calls: calledNames(n.childForFieldName('body'), lang),
      });
    });
  } finally {
    tree.delete();
    parser.delete();
  }
  return out;
}

/** Target positions of a signature in a style (see {@link SignatureStyle}); ascending, unique. */
export function signatureTargets(fn: FunctionSignature, style: SignatureStyle): number[] {
  const pos =
    fn.language === 'rust' && style === 'plip-rs' ? [fn.keywordPos, fn.namePos, fn.nameEnd] : [fn.keywordPos, fn.namePos, ...fn.paramPositions];
  return [...new Set(pos)].sort((a, b) => a - b);
}

/** Names called on the marker's line after the marker (e.g. `add` in `>>> add(2, 3)`). */
function namesCalledOnMarkerLine(code: string, markerPos: number): string[] {
  const u = codePointToUtf16(code, markerPos);
  const end = code.indexOf('\n', u);
  const line = code.slice(u, end < 0 ? code.length : end);
  return [...line.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*\(/g)].map((m) => m[1]!);
}

/** Whether the code point `pos` lies inside a comment or string node (i.e. not in real syntax). */
async function markerContext(code: string, lang: CorpusLanguage, pos: number): Promise<{ inAttribute: Node | null; inComment: boolean; free: () => void }> {
  const parser = await parserFor(lang);
  const tree = parser.parse(code);
  if (!tree) throw new Error(`tree-sitter could not parse the ${lang} code`);
  const u = codePointToUtf16(code, pos);
  let n: Node | null = tree.rootNode.descendantForIndex(u, u);
  let inAttribute: Node | null = null;
  let inComment = false;
  while (n) {
    if (n.type === 'attribute_item' && !inAttribute) inAttribute = n;
    if (n.type === 'line_comment' || n.type === 'block_comment' || n.type === 'comment') inComment = true;
    n = n.parent;
  }
  return { inAttribute, inComment, free: () => (tree.delete(), parser.delete()) };
}

/**
 * Finds the function that the marker at code point `markerPos` refers to and returns its signature targets.
 *
 * Rules, first match wins (the `rule` field says which):
 * 1. `opts.function` given → the first function with that name.
 * 2. Python: the innermost function whose definition contains the marker (a doctest in its docstring, or a
 *    comment/string in its body).
 * 3. Rust, marker inside an attribute (`#[test]`): the function item the attribute is attached to; the first
 *    function it calls that is defined in the code and is not itself a test (the function under test).
 * 4. Rust, marker inside a comment (a doc comment with an example): the next non-test function after it.
 * 5. A function called on the marker's line (e.g. `>>> add(2, 3)` → `add`).
 * 6. The nearest non-test function ending before the marker; else the nearest one starting after it.
 *
 * @param markerPos - code point index of the marker
 * @throws Error when the code has no function definition at all, or `opts.function` is not defined
 */
export async function resolveSignatureTargets(
  code: string,
  lang: CorpusLanguage,
  markerPos: number,
  opts: { function?: string; style?: SignatureStyle } = {},
): Promise<SignatureTargets> {
  const style = opts.style ?? 'plip-rs';
  const fns = await findFunctions(code, lang);
  const done = (fn: FunctionSignature, rule: string): SignatureTargets => ({ targets: signatureTargets(fn, style), fn, rule });
  if (fns.length === 0) throw new Error(`no ${lang} function definition found in the code`);
  if (opts.function) {
    const f = fns.find((x) => x.name === opts.function);
    if (!f) throw new Error(`no function named '${opts.function}' in the code (found: ${fns.map((x) => x.name).join(', ')})`);
    return done(f, `named '${opts.function}'`);
  }
  const byName = (name: string) => fns.find((x) => x.name === name && !x.isTest);
  if (lang === 'python') {
    const enclosing = fns.filter((f) => f.start <= markerPos && markerPos < f.end).sort((a, b) => b.start - a.start)[0];
    if (enclosing) return done(enclosing, 'innermost function containing the marker');
  } else {
    const ctx = await markerContext(code, lang, markerPos);
    try {
      if (ctx.inAttribute) {
        const attrEnd = utf16ToCodePoint(code, ctx.inAttribute.endIndex);
        const item = fns.filter((f) => f.start >= attrEnd).sort((a, b) => a.start - b.start)[0];
        if (item) {
          for (const c of item.calls) {
            const callee = byName(c);
            if (callee && callee !== item) return done(callee, `function called by '${item.name}', the item the marker attribute is attached to`);
          }
        }
      } else if (ctx.inComment) {
        const next = fns.filter((f) => f.start > markerPos && !f.isTest).sort((a, b) => a.start - b.start)[0];
        if (next) return done(next, 'next function after the comment containing the marker');
      }
    } finally {
      ctx.free();
    }
  }
  for (const name of namesCalledOnMarkerLine(code, markerPos)) {
    const f = byName(name);
    if (f) return done(f, `function called on the marker's line ('${name}')`);
  }
  const before = fns.filter((f) => f.end <= markerPos && !f.isTest).sort((a, b) => b.end - a.end)[0];
  if (before) return done(before, 'nearest function before the marker');
  const after = fns.filter((f) => f.start > markerPos && !f.isTest).sort((a, b) => a.start - b.start)[0];
  if (after) return done(after, 'nearest function after the marker');
  throw new Error(`no non-test ${lang} function found to attach the marker at code point ${markerPos} to`);
}
