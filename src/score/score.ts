/**
 * Scoring one completion of a prompt record (docs/scoring.md): `called`, `arityOk`, `paramNamesOk`,
 * `syntaxOk`, `executed`. This is the scorer of `plip score` and of the generation experiments.
 *
 * The completion is cut at {@link testEnd} first (text after the test is ignored; an unfinished test is
 * scored as written).
 *
 * @module
 */
import { executePython, executeRust, type Execution, type ExecuteLimits } from './execute.ts';
import type { PromptRecord } from './prompts-schema.ts';
import { arityFits, findCalls, keywordsFit, paramSpec, parsesCleanly, type ParamSpec } from './syntax.ts';
import { promptOpenBraces, testEnd } from './test-end.ts';

/** The scores of one completion (the record `plip score` writes, plus `detail`). */
export interface CompletionScore {
  id: string;
  /** The test calls the function by name as a free function (see src/score/syntax.ts for what counts). */
  called: boolean;
  /** Every such call's positional + keyword argument count fits the parameter list; null when not called. */
  arityOk: boolean | null;
  /** Every keyword argument names a parameter; null when no call uses keywords. */
  paramNamesOk: boolean | null;
  /** The reference function plus the generated test parse with no ERROR/MISSING node. */
  syntaxOk: boolean;
  /** Python: pass | fail | error | timeout; Rust: pass | fail | compile_error | timeout. */
  executed: Execution;
  /** Why `executed` came out as it did (one line). */
  detail: string;
}

export interface ScoreOptions {
  limits?: ExecuteLimits;
}

const specs = new WeakMap<PromptRecord, Promise<ParamSpec>>();

function specOf(p: PromptRecord): Promise<ParamSpec> {
  let s = specs.get(p);
  if (!s) {
    s = paramSpec(p.language, p.reference, p.name).then((x) => {
      if (!x) throw new Error(`prompt ${p.id}: the reference does not define a function named ${p.name}`);
      return x;
    });
    specs.set(p, s);
  }
  return s;
}

/** Where the prompt's Rust test section starts (`#[cfg(test)]` or the first `#[test]` at a line start). */
function rustTestStart(prompt: string): number {
  const m = /^#\[cfg\(test\)\]|^#\[test\]/m.exec(prompt);
  if (!m) throw new Error('a Rust prompt must contain a #[test] function');
  return m.index;
}

/**
 * End of the generated test in `completion` for this prompt (UTF-16 index one past it), or null while
 * it is incomplete — the stopping rule for generation.
 */
export function testEndFor(p: PromptRecord, completion: string): number | null {
  return p.language === 'python' ? testEnd('python', completion) : testEnd('rust', completion, promptOpenBraces(p.prompt));
}

/** The generated test: the completion cut at its end (the whole completion when unfinished). */
export function testText(p: PromptRecord, completion: string): string {
  return completion.slice(0, testEndFor(p, completion) ?? completion.length);
}

/** Python: the `>>>` line of the prompt plus the test, as a doctest (docstring indentation kept). */
export function pythonDocText(p: PromptRecord, test: string): string {
  return p.prompt.slice(p.prompt.lastIndexOf('\n') + 1) + test;
}

/** Python: the example's source (first line plus `...` continuation lines, prompts stripped). */
export function pythonExampleSource(test: string): string {
  const lines = test.split('\n');
  const src = [lines[0]!];
  for (const l of lines.slice(1)) {
    const m = /^\s*\.\.\.(?: (.*)|$)/.exec(l);
    if (!m) break;
    src.push(m[1] ?? '');
  }
  return src.join('\n').replace(/^ /, '');
}

/** Rust: the whole program compiled, reference + the prompt's test section + the test (+ closers). */
export function rustProgram(p: PromptRecord, completion: string): string {
  const end = testEndFor(p, completion);
  const head = p.prompt.slice(rustTestStart(p.prompt));
  const closers = end === null ? '' : '\n' + '}'.repeat(promptOpenBraces(p.prompt) - 1);
  return `${p.reference.trimEnd()}\n\n${head}${completion.slice(0, end ?? completion.length)}${closers}\n`;
}

/** The scores that need no execution (tree-sitter only). */
export type StaticScore = Pick<CompletionScore, 'called' | 'arityOk' | 'paramNamesOk' | 'syntaxOk'>;

/** `called`, `arityOk`, `paramNamesOk`, `syntaxOk` of one completion, without running anything. */
export async function staticScore(p: PromptRecord, completion: string): Promise<StaticScore> {
  const spec = await specOf(p);
  const test = testText(p, completion);
  let callSite: string;
  let program: string;
  if (p.language === 'python') {
    callSite = pythonExampleSource(test);
    program = `${p.reference.trimEnd()}\n\n${callSite}\n`;
  } else {
    program = rustProgram(p, completion);
    // only the test section: the reference may call itself
    callSite = program.slice(p.reference.trimEnd().length);
  }
  const calls = await findCalls(p.language, callSite, p.name);
  const called = calls.length > 0;
  const kw = calls.map((c) => keywordsFit(c, spec)).filter((x): x is boolean => x !== null);
  return {
    called,
    arityOk: called ? calls.every((c) => arityFits(c, spec)) : null,
    paramNamesOk: kw.length ? kw.every(Boolean) : null,
    syntaxOk: await parsesCleanly(p.language, program),
  };
}

/** Scores one completion (what the model wrote after `p.prompt`): static scores, then the sandboxed run. */
export async function scoreCompletion(p: PromptRecord, completion: string, o: ScoreOptions = {}): Promise<CompletionScore> {
  const st = await staticScore(p, completion);
  const test = testText(p, completion);
  const ex = p.language === 'python' ? await executePython(p.reference, pythonDocText(p, test), o.limits) : await executeRust(rustProgram(p, completion), o.limits);
  return { id: p.id, ...st, executed: ex.executed, detail: ex.detail };
}
