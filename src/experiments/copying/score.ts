/**
 * Scoring of a generated test line: does it call the function by name, with how many arguments.
 *
 * @module
 */

/** Whether a completion calls `name` on its first line, and with how many top-level arguments. */
export interface CallScore {
  called: boolean;
  /** Top-level argument count of the first call (null when not called or unbalanced). */
  nArgs: number | null;
  /** called and nArgs equals the expected arity (null when the arity is unknown). */
  arityOk: boolean | null;
}

export function scoreCall(completion: string, name: string, arity: number | null): CallScore {
  const line = completion.split('\n')[0]!;
  const m = new RegExp(`(?<![A-Za-z0-9_])${name}\\s*(?:::<[^>]*>)?\\(`).exec(line);
  if (!m) return { called: false, nArgs: null, arityOk: arity === null ? null : false };
  let depth = 0;
  let args = 0;
  let any = false;
  let quote: string | null = null;
  for (let i = m.index + m[0].length; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      any = true;
    } else if ('([{'.includes(c)) {
      depth++;
      any = true;
    } else if (')]}'.includes(c)) {
      if (depth === 0) {
        const n = any ? args + 1 : 0;
        return { called: true, nArgs: n, arityOk: arity === null ? null : n === arity };
      }
      depth--;
    } else if (c === ',' && depth === 0) args++;
    else if (!/\s/.test(c)) any = true;
  }
  return { called: true, nArgs: null, arityOk: arity === null ? null : false };
}
