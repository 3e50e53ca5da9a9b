/**
 * The one grammar for index lists (`--layers`, `--heads`, …) in every command.
 *
 * | form     | meaning                                   |
 * |----------|-------------------------------------------|
 * | `all`, `*` | every index `0..count`                  |
 * | `3`      | one index                                 |
 * | `a..b`   | `a, a+1, …, b−1` (end EXCLUDED, as in Rust) |
 * | `a..=b`  | `a, …, b` (end included)                  |
 * | `a..`    | `a, …, count−1`                           |
 * | `..b`    | `0, …, b−1`; `..=b` = `0, …, b`           |
 * | `0..2,5` | comma list of any of the above            |
 *
 * The result is sorted and without duplicates. Errors are {@link IndexListError}s naming the `field`
 * (e.g. `layers`); the CLI maps the field to its flag.
 *
 * @module
 */
import { PlipOptionError } from '../io/errors.ts';

/** Invalid index list; `field` is the library-level name of the option (`layers`, `heads`). */
export class IndexListError extends PlipOptionError {
  constructor(field: string, detail: string) {
    super(field, detail);
    this.name = 'IndexListError';
  }
}

/** Human description of the grammar, for help texts. */
export const INDEX_LIST_HELP = 'all | 3 | 0,2,5 | 1..4 (end excluded) | 1..=3 | 2.. | ..2';

const ITEM_RE = /^(\d+)?\.\.(=)?(\d+)?$/;

/**
 * Parses an index list against `count` indices (`0..count`).
 *
 * @param spec - the list, e.g. `0..2,5` (whitespace around items is ignored)
 * @param count - number of valid indices (e.g. the model's layer count); indices must be `< count`
 * @param field - name used in error messages, e.g. `layers`
 * @returns sorted unique indices, never empty
 * @throws IndexListError naming `field` on a syntax error, an empty range or an out-of-range index
 */
export function parseIndexList(spec: string, count: number, field: string): number[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`parseIndexList: count must be a non-negative integer (got ${count})`);
  const s = spec.trim();
  if (s === '') throw new IndexListError(field, `empty list (use e.g. ${INDEX_LIST_HELP})`);
  const range = count > 0 ? `0..${count} (i.e. 0..=${count - 1})` : 'none';
  const check = (v: number, item: string): number => {
    if (v >= count) throw new IndexListError(field, `index ${v} in '${item}' is out of range (valid: ${range})`);
    return v;
  };
  const out = new Set<number>();
  for (const raw of s.split(',')) {
    const item = raw.trim();
    if (item === 'all' || item === '*') {
      if (count === 0) throw new IndexListError(field, `'${item}' selects nothing (there are no indices)`);
      for (let i = 0; i < count; i++) out.add(i);
      continue;
    }
    if (/^\d+$/.test(item)) {
      out.add(check(Number(item), item));
      continue;
    }
    const m = ITEM_RE.exec(item);
    if (!m || (m[2] === '=' && m[3] === undefined)) {
      throw new IndexListError(field, `cannot parse '${item}' (use ${INDEX_LIST_HELP})`);
    }
    const lo = m[1] !== undefined ? Number(m[1]) : 0;
    const inclusive = m[2] === '=';
    let hiExcl: number;
    if (m[3] === undefined) hiExcl = count;
    else {
      const b = Number(m[3]);
      hiExcl = inclusive ? b + 1 : b;
      // the exclusive end may be `count` itself (`0..4` on 4 layers); an inclusive one must be an index
      if (inclusive) check(b, item);
      else if (b > count) throw new IndexListError(field, `end ${b} in '${item}' is out of range (valid: ${range})`);
    }
    check(lo, item);
    if (lo >= hiExcl) {
      throw new IndexListError(field, `range '${item}' is empty (${inclusive ? 'start > end' : `start ≥ end; the end is excluded: write ${lo}..=${m[3]} to include ${m[3]}`})`);
    }
    for (let i = lo; i < hiExcl; i++) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * Like {@link parseIndexList}, but `all` / `*` alone returns `'all'` (callers that treat "every index"
 * specially, e.g. an intervention on every head).
 */
/**
 * Syntax check only (no range check): for validating a flag before the model, and so the count, is
 * known. Throws the same {@link IndexListError}s as {@link parseIndexList} for malformed items.
 */
export function checkIndexListSyntax(spec: string, field: string): void {
  // a count no index reaches makes every range check pass; open ends are never expanded
  const s = spec.trim();
  if (s === '') throw new IndexListError(field, `empty list (use e.g. ${INDEX_LIST_HELP})`);
  for (const raw of s.split(',')) {
    const item = raw.trim();
    if (item === 'all' || item === '*' || /^\d+$/.test(item)) continue;
    const m = ITEM_RE.exec(item);
    if (!m || (m[2] === '=' && m[3] === undefined)) throw new IndexListError(field, `cannot parse '${item}' (use ${INDEX_LIST_HELP})`);
    if (m[1] !== undefined && m[3] !== undefined) {
      const lo = Number(m[1]);
      const b = Number(m[3]);
      if (m[2] === '=' ? lo > b : lo >= b) throw new IndexListError(field, `range '${item}' is empty (${m[2] === '=' ? 'start > end' : `start ≥ end; the end is excluded: write ${lo}..=${b} to include ${b}`})`);
    }
  }
}

export function parseIndexSelection(spec: string, count: number, field: string): number[] | 'all' {
  const s = spec.trim();
  if (s === 'all' || s === '*') return 'all';
  return parseIndexList(s, count, field);
}
