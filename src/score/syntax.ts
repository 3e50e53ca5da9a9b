/**
 * Tree-sitter views of a completion for scoring: does the source parse cleanly, which calls name the
 * function, with how many and which arguments, and what the reference's parameter list accepts.
 * Uses `web-tree-sitter` with the grammars vendored in `src/corpus/grammars/` (see SOURCES.md there).
 *
 * What counts as a call of `NAME` (documented in docs/scoring.md):
 * - Python: `NAME(...)` with a bare identifier as the callee. `self.NAME(`, `x.NAME(`, `math.NAME(` are
 *   attribute calls on another object and do not count.
 * - Rust: `NAME(...)`, `NAME::<T>(...)`, and module paths to the same free function `crate::NAME(`,
 *   `super::NAME(`, `self::NAME(`. Method calls `x.NAME(` and other paths `Foo::NAME(`, `m::NAME(` do not
 *   count. Calls inside macro arguments (`assert_eq!(NAME(2, 3), 5)`) count: tree-sitter keeps a macro's
 *   arguments as an opaque token tree, so they are parsed again as an argument list.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Language, Parser, type Node, type Tree } from 'web-tree-sitter';

/** The languages scored. */
export type ScoreLanguage = 'python' | 'rust';

const GRAMMARS: Record<ScoreLanguage, string> = { python: 'tree-sitter-python.wasm', rust: 'tree-sitter-rust.wasm' };

let init: Promise<void> | null = null;
const parsers = new Map<ScoreLanguage, Promise<Parser>>();

async function makeParser(lang: ScoreLanguage): Promise<Parser> {
  init ??= Parser.init();
  await init;
  const path = fileURLToPath(new URL(`../corpus/grammars/${GRAMMARS[lang]}`, import.meta.url));
  if (!existsSync(path)) throw new Error(`tree-sitter grammar for ${lang} not found at ${path}`);
  const p = new Parser();
  p.setLanguage(await Language.load(readFileSync(path)));
  return p;
}

/** Parses source text (one parser per language, reused). */
export async function parse(lang: ScoreLanguage, source: string): Promise<Tree> {
  let p = parsers.get(lang);
  if (!p) {
    p = makeParser(lang);
    parsers.set(lang, p);
  }
  const tree = (await p).parse(source);
  if (!tree) throw new Error(`tree-sitter returned no tree for ${lang} source`);
  return tree;
}

function walk(n: Node, visit: (n: Node) => void): void {
  visit(n);
  for (const c of n.children) if (c) walk(c, visit);
}

/** True when the source parses with no ERROR and no MISSING node anywhere. */
export async function parsesCleanly(lang: ScoreLanguage, source: string): Promise<boolean> {
  const tree = await parse(lang, source);
  try {
    let bad = false;
    walk(tree.rootNode, (n) => {
      if (n.type === 'ERROR' || n.isError || n.isMissing) bad = true;
    });
    return !bad && !tree.rootNode.hasError;
  } finally {
    tree.delete();
  }
}

/** One call of the function found in a completion. */
export interface FoundCall {
  /** Number of positional arguments (Rust: all arguments). */
  positional: number;
  /** Keyword argument names, in order (Python only). */
  keywords: string[];
  /** The call uses `*args` / `**kwargs` unpacking (Python), so its arity is not fixed by the text. */
  unpacking: boolean;
  /** Source text of the call. */
  text: string;
}

const COMMENTS = new Set(['comment', 'line_comment', 'block_comment']);

function pythonCall(n: Node, name: string): FoundCall | null {
  const fn = n.childForFieldName('function');
  if (!fn || fn.type !== 'identifier' || fn.text !== name) return null;
  const args = n.childForFieldName('arguments');
  const call: FoundCall = { positional: 0, keywords: [], unpacking: false, text: n.text };
  if (!args) return call;
  if (args.type === 'generator_expression') {
    call.positional = 1;
    return call;
  }
  for (const a of args.namedChildren) {
    if (!a || COMMENTS.has(a.type)) continue;
    if (a.type === 'keyword_argument') call.keywords.push(a.childForFieldName('name')?.text ?? '');
    else if (a.type === 'list_splat' || a.type === 'dictionary_splat') call.unpacking = true;
    else call.positional++;
  }
  return call;
}

const RUST_SAME_FN_PATHS = new Set(['crate', 'super', 'self']);

function rustCallee(fn: Node, name: string): boolean {
  if (fn.type === 'identifier') return fn.text === name;
  if (fn.type === 'generic_function') {
    const inner = fn.childForFieldName('function');
    return !!inner && rustCallee(inner, name);
  }
  if (fn.type === 'scoped_identifier') {
    const path = fn.childForFieldName('path');
    const nm = fn.childForFieldName('name');
    return !!path && !!nm && nm.text === name && RUST_SAME_FN_PATHS.has(path.text);
  }
  return false;
}

const WRAP = '__plip_macro_args';

async function rustCalls(source: string, name: string, depth: number, out: FoundCall[]): Promise<void> {
  const tree = await parse('rust', source);
  const macros: string[] = [];
  try {
    walk(tree.rootNode, (n) => {
      if (n.type === 'call_expression') {
        const fn = n.childForFieldName('function');
        if (fn && rustCallee(fn, name)) {
          const args = n.childForFieldName('arguments');
          const k = args ? args.namedChildren.filter((a) => a && !COMMENTS.has(a.type) && a.type !== 'attribute_item').length : 0;
          out.push({ positional: k, keywords: [], unpacking: false, text: n.text });
        }
      } else if (n.type === 'macro_invocation') {
        const tt = n.namedChildren.find((c) => c?.type === 'token_tree');
        if (tt && tt.text.length >= 2) macros.push(tt.text.slice(1, -1));
      }
    });
  } finally {
    tree.delete();
  }
  if (depth >= 8) return;
  for (const inner of macros) await rustCalls(`fn ${WRAP}() { ${WRAP}(${inner}); }`, name, depth + 1, out);
}

/** Every call of `name` as a free function in `source` (see the module doc for what counts). */
export async function findCalls(lang: ScoreLanguage, source: string, name: string): Promise<FoundCall[]> {
  if (lang === 'rust') {
    const out: FoundCall[] = [];
    await rustCalls(source, name, 0, out);
    return out;
  }
  const tree = await parse('python', source);
  try {
    const out: FoundCall[] = [];
    walk(tree.rootNode, (n) => {
      if (n.type === 'call') {
        const c = pythonCall(n, name);
        if (c) out.push(c);
      }
    });
    return out;
  } finally {
    tree.delete();
  }
}

/** What a function's parameter list accepts. */
export interface ParamSpec {
  /** Parameter names in order (Rust: the pattern text of each parameter; `self` excluded). */
  names: string[];
  /** Parameters that may be given by position (Python: before `*` / `*args`; Rust: all). */
  positional: string[];
  /** Parameters without a default (Python) / all parameters (Rust). */
  required: string[];
  /** Python `*args`. */
  varargs: boolean;
  /** Python `**kwargs`. */
  varkw: boolean;
}

function pythonParams(def: Node): ParamSpec {
  const spec: ParamSpec = { names: [], positional: [], required: [], varargs: false, varkw: false };
  let kwOnly = false;
  for (const p of def.childForFieldName('parameters')?.namedChildren ?? []) {
    if (!p || COMMENTS.has(p.type)) continue;
    if (p.type === 'list_splat_pattern') {
      spec.varargs = true;
      kwOnly = true;
      continue;
    }
    if (p.type === 'keyword_separator') {
      kwOnly = true;
      continue;
    }
    if (p.type === 'dictionary_splat_pattern') {
      spec.varkw = true;
      continue;
    }
    if (p.type === 'positional_separator') continue;
    const id = p.type === 'identifier' ? p : (p.childForFieldName('name') ?? p.namedChildren.find((c) => c?.type === 'identifier'));
    if (!id) continue;
    if (p.type === 'typed_parameter' && p.namedChildren[0]?.type === 'list_splat_pattern') {
      spec.varargs = true;
      kwOnly = true;
      continue;
    }
    if (p.type === 'typed_parameter' && p.namedChildren[0]?.type === 'dictionary_splat_pattern') {
      spec.varkw = true;
      continue;
    }
    spec.names.push(id.text);
    if (!kwOnly) spec.positional.push(id.text);
    if (p.type !== 'default_parameter' && p.type !== 'typed_default_parameter') spec.required.push(id.text);
  }
  return spec;
}

function rustParams(fn: Node): ParamSpec {
  const names: string[] = [];
  for (const p of fn.childForFieldName('parameters')?.namedChildren ?? []) {
    if (!p || p.type !== 'parameter') continue;
    names.push(p.childForFieldName('pattern')?.text ?? p.text);
  }
  return { names, positional: names, required: names, varargs: false, varkw: false };
}

/**
 * The parameter list of the function `name` defined (at any depth) in `source`; null if there is no such
 * definition.
 */
export async function paramSpec(lang: ScoreLanguage, source: string, name: string): Promise<ParamSpec | null> {
  const tree = await parse(lang, source);
  try {
    let found: ParamSpec | null = null;
    const kind = lang === 'python' ? 'function_definition' : 'function_item';
    walk(tree.rootNode, (n) => {
      if (found || n.type !== kind || n.childForFieldName('name')?.text !== name) return;
      found = lang === 'python' ? pythonParams(n) : rustParams(n);
    });
    return found;
  } finally {
    tree.delete();
  }
}

/** Does one call fit the parameter list (count of positional + keyword arguments)? */
export function arityFits(call: FoundCall, spec: ParamSpec): boolean {
  const n = call.positional + call.keywords.length;
  if (call.positional > spec.positional.length && !spec.varargs) return false;
  if (call.unpacking) return true;
  if (n < spec.required.length) return false;
  return spec.varargs || spec.varkw || n <= spec.names.length;
}

/** Are all keyword names parameter names (null when the call uses none)? */
export function keywordsFit(call: FoundCall, spec: ParamSpec): boolean | null {
  if (call.keywords.length === 0) return null;
  const positionalTaken = new Set(spec.positional.slice(0, call.positional));
  return call.keywords.every((k) => (spec.names.includes(k) && !positionalTaken.has(k)) || (spec.varkw && !spec.names.includes(k)));
}
