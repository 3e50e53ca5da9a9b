/**
 * Parsing of index sets for `--layers` / `--heads`: `3`, `0,3,5`, `2..5`, `2..=5`, `4..`, `..2`, combinations
 * (`0..2,7`). Ranges are INCLUSIVE at both ends (`2..5` = 2, 3, 4, 5). Result: sorted, without duplicates.
 *
 * @module
 */

/** One item of an index set; `null` ends are open (first / last index). */
export type IndexItem = { lo: number | null; hi: number | null };

/**
 * Syntax check of an index set (no range check; open ends allowed).
 * @param name - option name used in messages, e.g. `--layers`
 * @throws Error with a message naming the option and the bad item
 */
export function parseIndexSpec(spec: string, name: string): IndexItem[] {
  const s = spec.trim();
  if (s === '' || s === 'all') return [{ lo: null, hi: null }];
  return s.split(',').map((raw) => {
    const item = raw.trim();
    const m = /^(\d+)?\s*\.\.=?\s*(\d+)?$/.exec(item);
    if (m) {
      const lo = m[1] !== undefined ? Number(m[1]) : null;
      const hi = m[2] !== undefined ? Number(m[2]) : null;
      if (lo !== null && hi !== null && lo > hi) throw new Error(`${name}: range '${item}' is empty (start > end; ranges are inclusive, e.g. 2..5)`);
      return { lo, hi };
    }
    if (/^\d+$/.test(item)) return { lo: Number(item), hi: Number(item) };
    throw new Error(`${name}: cannot parse '${item}' (use e.g. 3, 0,3,5, 2..5 (inclusive), 4.. or all)`);
  });
}

/**
 * Expands an index set for `count` indices (0..count−1).
 * @throws Error naming the option when an index is out of range
 */
export function expandIndexSpec(items: readonly IndexItem[], name: string, count: number, what: string): number[] {
  const out = new Set<number>();
  for (const { lo, hi } of items) {
    const a = lo ?? 0;
    const b = hi ?? count - 1;
    for (const v of [a, b]) {
      if (v >= count) throw new Error(`${name}: ${what} ${v} is out of range (the model has ${what}s 0..${count - 1})`);
    }
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/** {@link parseIndexSpec} + {@link expandIndexSpec}; `undefined` → every index. */
export function parseIndexList(spec: string | undefined, name: string, count: number, what: string): number[] {
  return expandIndexSpec(parseIndexSpec(spec ?? 'all', name), name, count, what);
}
