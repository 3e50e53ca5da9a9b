/**
 * Analysis units: the layer sets an intervention experiment (knockout, steer) edits together.
 *
 * @module
 */
import { z } from 'zod';
import { OptionError } from '../contract.ts';

export const UNIT_MODES = ['per-layer', 'all-layers', 'window'] as const;
export type UnitMode = (typeof UNIT_MODES)[number];

/** Layer set of one analysis unit (results schema). */
export const unitSchema = z.strictObject({
  /** 'L3' (per-layer), 'all' (all-layers), 'W1-2' (window of consecutive layers). */
  id: z.string(),
  mode: z.enum(UNIT_MODES),
  layers: z.array(z.int().min(0)).min(1),
});
export type AnalysisUnit = z.infer<typeof unitSchema>;

/**
 * Analysis units: 'per-layer' → one per layer; 'all-layers' → all `layers` together; 'window' → every run
 * of `window` consecutive model layers that lies inside `layers`.
 * @throws OptionError('window') for a bad width, Error when no unit results
 */
export function analysisUnits(layers: readonly number[], modes: readonly UnitMode[], window: number): AnalysisUnit[] {
  const sorted = [...new Set(layers)].sort((a, b) => a - b);
  const set = new Set(sorted);
  const out: AnalysisUnit[] = [];
  for (const mode of modes) {
    if (mode === 'per-layer') for (const l of sorted) out.push({ id: `L${l}`, mode, layers: [l] });
    else if (mode === 'all-layers') out.push({ id: 'all', mode, layers: sorted });
    else {
      if (!Number.isInteger(window) || window < 1) throw new OptionError('window', `must be a positive integer (got ${window})`);
      for (const a of sorted) {
        const w = Array.from({ length: window }, (_, i) => a + i);
        if (w.every((l) => set.has(l))) out.push({ id: `W${a}-${a + window - 1}`, mode, layers: w });
      }
    }
  }
  if (out.length === 0) throw new OptionError('window', `no analysis units: no window of ${window} consecutive layers inside the selected layers [${sorted.join(', ')}]`);
  return out;
}

/** Parses a comma-separated mode list. @throws OptionError('mode') */
/** Units with distinct layer sets (e.g. 'all' over a single layer is that layer's unit), first kept. */
export function distinctUnits(units: readonly AnalysisUnit[]): AnalysisUnit[] {
  const seen = new Set<string>();
  return units.filter((u) => {
    const k = u.layers.join(',');
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function parseModes(text: string): UnitMode[] {
  const out = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const m of out) if (!UNIT_MODES.includes(m as UnitMode)) throw new OptionError('mode', `'${m}' is not a mode (use ${UNIT_MODES.join(', ')}, comma-separated)`);
  if (out.length === 0) throw new OptionError('mode', 'no mode given');
  return [...new Set(out)] as UnitMode[];
}
