/**
 * Layer selections and analysis units of a study phase, through the same rules as the experiments
 * (the CLI's index-list grammar; per-layer / all-layers / window units).
 *
 * @module
 */
import { parseIndexList } from '../cli/indices.ts';
import { analysisUnits, distinctUnits, type AnalysisUnit, type UnitMode } from '../experiments/shared/units.ts';

export { analysisUnits, distinctUnits, type AnalysisUnit, type UnitMode };

/** A phase's `layers` (index-list string or explicit list) → sorted layer indices, range-checked. */
export function resolveLayers(spec: string | readonly number[], nLayers: number, field: string): number[] {
  if (typeof spec !== 'string') {
    for (const l of spec) if (!Number.isInteger(l) || l < 0 || l >= nLayers) throw new Error(`${field}: layer ${l} is out of range 0..${nLayers - 1}`);
    return [...new Set(spec)].sort((a, b) => a - b);
  }
  return parseIndexList(spec, nLayers, field);
}
