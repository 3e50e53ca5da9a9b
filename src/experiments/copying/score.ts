/**
 * Scoring of a generated test line: does it call the function by name as a FREE function, with how many
 * arguments.
 *
 * What counts as a call of `NAME` is the rule of src/score/syntax.ts `findCalls` (the phase-3 scorer), here
 * as a synchronous scan of the first line so that the copying experiment stays synchronous (tested against
 * `findCalls` on the same strings in test/experiments/copying.test.ts):
 * - `NAME(…)` and Rust `NAME::<T>(…)` count; so do the paths `crate::NAME(`, `super::NAME(`, `self::NAME(`;
 * - method and attribute calls on another object (`self.NAME(`, `x.NAME(`, `math.NAME(`) and other paths
 *   (`Foo::NAME(`, `m::NAME(`) do not;
 * - occurrences inside string literals do not.
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

const FREE_PATH = new Set(['crate', 'super', 'self']);

/** Code-unit flags of `line`: true inside a string literal (quotes included). */
function inStrings(line: string): boolean[] {
  const flags = new Array<boolean>(line.length).fill(false);
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      flags[i] = true;
      if (c === '\\') flags[++i] = true;
      else if (c === quote) quote = null;
    } else if (c === '"' || (c === "'" && line.indexOf("'", i + 1) > i)) {
      // a lone ' (a Rust lifetime / label such as 'a) opens no string
      quote = c;
      flags[i] = true;
    }
  }
  return flags;
}

/** True when the identifier starting at `at` is a free use: no `.` receiver, and any `::` path is crate/super/self. */
function isFree(line: string, at: number): boolean {
  let prefix = line.slice(0, at).replace(/\s+$/, '');
  if (prefix.endsWith('.')) return false;
  if (!prefix.endsWith('::')) return true;
  // one path segment, and only crate/super/self (as findCalls: `a::crate::NAME(` is not the free function)
  const m = /(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(prefix.slice(0, -2));
  if (!m || !FREE_PATH.has(m[1]!)) return false;
  const before = prefix.slice(0, m.index).replace(/\s+$/, '');
  return !before.endsWith('.') && !before.endsWith('::');
}

export function scoreCall(completion: string, name: string, arity: number | null): CallScore {
  const line = completion.split('\n')[0]!;
  const str = inStrings(line);
  const re = new RegExp(`(?<![A-Za-z0-9_])${name}\\s*(?:::\\s*<[^>]*>\\s*)?\\(`, 'g');
  let m: RegExpExecArray | null = null;
  for (const x of line.matchAll(re)) {
    if (!str[x.index] && isFree(line, x.index)) {
      m = x;
      break;
    }
  }
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
