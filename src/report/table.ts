/**
 * Plain-text tables for terminal summaries.
 */
export type Cell = string | number | null | undefined;

/** Formats a number compactly: fixed for moderate values, exponent for tiny/huge; null → '—'. */
export function fmt(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a < 1e-3 || a >= 1e6) return x.toExponential(2);
  return x.toFixed(digits);
}

/** Renders rows under a header with right-aligned numeric columns. */
export function renderTable(header: string[], rows: Cell[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c ?? '—')));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map((r) => line(r.map(String)))].join('\n');
}

/**
 * Folds repeated identical lines, keeping the order of first appearance: `['a', 'b', 'a']` →
 * `['a (×2)', 'b']`. For warnings and notes, so one caveat repeated per sample reads once.
 */
export function foldRepeated(lines: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts].map(([l, n]) => (n > 1 ? `${l} (×${n})` : l));
}
