/**
 * Registry of report renderers keyed by `header.experiment`. New result kinds (transplant, preservation,
 * the study summary) plug in with {@link registerRenderer}; `plip report` and the viewer look kinds up here.
 *
 * @module
 */
import type { KindRenderer } from './types.ts';

const RENDERERS = new Map<string, KindRenderer>();

/** Adds (or replaces) the renderer of `r.kind`. */
export function registerRenderer(r: KindRenderer): void {
  RENDERERS.set(r.kind, r);
}

/** The renderer of `experiment`; throws naming the known kinds when there is none. */
export function rendererFor(experiment: string, path: string): KindRenderer {
  const r = RENDERERS.get(experiment);
  if (!r) throw new Error(`${path}: no report renderer for experiment '${experiment}' (known: ${knownKinds().join(', ')})`);
  return r;
}

export function knownKinds(): string[] {
  return [...RENDERERS.keys()].sort();
}
