/**
 * Cross-result criterion of the roadmap (Phase 3): "Effect replicates across 2+ models". One results file
 * cannot decide it, so each renderer states it as undecided; when one report holds results of the same
 * kind from two or more models, it is decided here: a model shows the effect when every
 * "knockout reduces preservation … 20%" criterion of its result is met; met = at least two models do.
 *
 * @module
 */
import type { ReportSection, ResultsDoc } from './types.ts';

export const REPLICATION = 'Effect replicates across 2+ models';
const DROP = /reduces preservation.*20%/i;

export function decideReplication(parts: ReadonlyArray<{ doc: ResultsDoc; section: ReportSection }>): void {
  const kinds = new Set(parts.filter((p) => p.section.criteria.some((c) => c.name === REPLICATION)).map((p) => p.doc.header.experiment));
  for (const kind of kinds) {
    const mine = parts.filter((p) => p.doc.header.experiment === kind);
    const byModel = new Map<string, boolean>();
    for (const p of mine) {
      const drops = p.section.criteria.filter((c) => DROP.test(c.name));
      if (drops.length === 0) continue;
      const id = p.doc.header.model?.id ?? p.doc.path;
      byModel.set(id, (byModel.get(id) ?? true) && drops.every((c) => c.met === true));
    }
    if (byModel.size < 2) continue;
    const shown = [...byModel].filter(([, m]) => m).map(([id]) => id);
    const detail = `${kind} results of ${byModel.size} models in this report: ${[...byModel].map(([id, m]) => `${id} ${m ? 'shows' : 'does not show'} the drop`).join('; ')} (a model shows it when every drop criterion of its result is met)`;
    for (const p of mine) for (const c of p.section.criteria) if (c.name === REPLICATION) Object.assign(c, { met: shown.length >= 2, detail });
  }
}
