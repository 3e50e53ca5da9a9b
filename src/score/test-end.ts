/**
 * Where a generated test ends, so that generation can stop there and scoring looks at the test only.
 *
 * - Python (the prompt ends right after a `>>>` marker, the completion is the example): the example line
 *   (plus any `... ` continuation lines), then its expected-output line. The test ends after the newline
 *   that closes the expected-output line. If the line after the example is blank, another `>>>` example
 *   or the docstring's closing quotes, the example expects no output and the test ends after the example.
 * - Rust (the prompt ends inside the test function's body, `openBraces` braces deep): the test ends right
 *   after the `}` that closes the test function. Braces inside string/char literals and comments are
 *   skipped.
 *
 * All indices are UTF-16 code unit indices into the completion (JavaScript string indices): the test is
 * `completion.slice(0, end)`.
 *
 * @module
 */
import type { ScoreLanguage } from './syntax.ts';

interface Line {
  text: string;
  /** Index one past the line's terminating newline. */
  end: number;
}

/** Complete lines only (each terminated by `\n`). */
function completeLines(text: string): Line[] {
  const out: Line[] = [];
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', start)) {
    out.push({ text: text.slice(start, i), end: i + 1 });
    start = i + 1;
  }
  return out;
}

function pythonTestEnd(text: string): number | null {
  const lines = completeLines(text);
  if (lines.length === 0) return null;
  let i = 1;
  while (i < lines.length && /^\s*\.\.\.( |$)/.test(lines[i]!.text)) i++;
  if (i >= lines.length) {
    // The next line is still being written; a continuation or an end marker can't be told apart yet.
    return null;
  }
  const next = lines[i]!.text.trim();
  if (next === '' || next.startsWith('>>>') || next.startsWith('"""') || next.startsWith("'''")) return lines[i - 1]!.end;
  return lines[i]!.end;
}

/** Index one past the `}` that closes the test function, or null. */
function rustTestEnd(text: string, openBraces: number): number | null {
  const masked = maskRust(text);
  let depth = openBraces;
  for (let i = 0; i < masked.length; i++) {
    const c = masked[i];
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
  }
  return null;
}

/**
 * Index (UTF-16 units into `text`) one past the end of the generated test, or null while it is not
 * complete. `text` is the completion (what the model wrote after the prompt). `openBraces` (Rust only)
 * is how many `{` are open at the end of the prompt, 1 for a prompt that ends inside a top-level
 * `#[test] fn test_NAME() {` (see {@link promptOpenBraces}).
 */
export function testEnd(language: ScoreLanguage, text: string, openBraces = 1): number | null {
  if (language === 'python') return pythonTestEnd(text);
  if (!Number.isInteger(openBraces) || openBraces < 1) throw new Error(`testEnd: openBraces must be an integer >= 1, got ${openBraces}`);
  return rustTestEnd(text, openBraces);
}

/** Braces left open at the end of a Rust prompt (same literal/comment rules as {@link testEnd}). */
export function promptOpenBraces(prompt: string): number {
  let bal = 0;
  for (const c of maskRust(prompt)) {
    if (c === '{') bal++;
    else if (c === '}') bal--;
  }
  return bal;
}

/** Replaces string/char literal and comment contents by spaces (same lengths). */
function maskRust(src: string): string {
  const out = src.split('');
  let i = 0;
  const n = src.length;
  const blank = (a: number, b: number) => {
    for (let k = a; k < b && k < n; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  while (i < n) {
    const c = src[i]!;
    const d = src[i + 1];
    if (c === '/' && d === '/') {
      const nl = src.indexOf('\n', i);
      const e = nl < 0 ? n : nl;
      blank(i, e);
      i = e;
    } else if (c === '/' && d === '*') {
      let nest = 1;
      let j = i + 2;
      while (j < n && nest > 0) {
        if (src[j] === '/' && src[j + 1] === '*') (nest++, (j += 2));
        else if (src[j] === '*' && src[j + 1] === '/') (nest--, (j += 2));
        else j++;
      }
      blank(i, j);
      i = j;
    } else if (c === 'r' && (d === '"' || d === '#') && !/[A-Za-z0-9_]/.test(src[i - 1] ?? '')) {
      const m = /^r(#*)"/.exec(src.slice(i));
      if (!m) {
        i++;
        continue;
      }
      const close = '"' + m[1];
      const e = src.indexOf(close, i + m[0].length);
      const j = e < 0 ? n : e + close.length;
      blank(i, j);
      i = j;
    } else if (c === '"') {
      let j = i + 1;
      while (j < n && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      blank(i, j + 1);
      i = j + 1;
    } else if (c === "'") {
      const m = /^'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'/u.exec(src.slice(i));
      if (m) blank(i, i + m[0].length);
      i += m ? m[0].length : 1;
    } else i++;
  }
  return out.join('');
}
