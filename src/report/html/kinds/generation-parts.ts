/**
 * Pieces the generation-experiment report kinds (preservation, steer-generation, transplant) share: how a
 * criterion's statistic reads, and which layer the token view shows.
 *
 * @module
 */
import { fmt } from '../page.ts';

/** A listed criterion as the generation experiments' summaries store it. */
export interface ListedCriterion {
  unit?: string | null;
  value: number | null;
  ci: { lo: number; hi: number } | null;
  p: number | null;
  n: number;
  note: string;
}

/** "unit U: value v [lo, hi], Holm p P, n = N. note"; `show` formats the value and the CI bounds. */
export function criterionDetail(c: ListedCriterion, show: { label?: string; value?: (v: number | null) => string; bound?: (v: number) => string } = {}): string {
  const { label = 'value', value = (v: number | null) => fmt(v), bound = (v: number) => v.toFixed(3) } = show;
  return `${c.unit ? `unit ${c.unit}: ` : ''}${label} ${value(c.value)}${c.ci ? ` [${bound(c.ci.lo)}, ${bound(c.ci.hi)}]` : ''}, Holm p ${fmt(c.p, true)}, n = ${c.n}. ${c.note}`;
}

/** The token view's layer: the deepest single-layer unit (else the last layer of the first unit). */
export function tokenViewLayer(units: readonly { unit: { layers: number[] } }[]): number {
  return units.filter((u) => u.unit.layers.length === 1).at(-1)?.unit.layers[0] ?? units[0]!.unit.layers.at(-1)!;
}
