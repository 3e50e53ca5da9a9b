/**
 * Terminal rendering of a study plan.
 *
 * @module
 */
import { renderTable } from '../report/table.ts';
import type { StudyPlan } from './plan.ts';

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
const gib = (b: number): string => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GiB` : mib(b));
/** An estimated duration as the plan prints it: seconds, minutes or hours. */
export const dur = (s: number): string => (s < 90 ? `${s.toFixed(0)} s` : s < 5400 ? `${(s / 60).toFixed(0)} min` : `${(s / 3600).toFixed(1)} h`);

/** The plan as text: data, models, per-phase items/passes/time, problems and warnings. */
export function renderPlan(p: StudyPlan): string {
  const out: string[] = [];
  out.push(`study '${p.study}' (config hash ${p.hash.slice(0, 12)})`);
  const groups = Object.entries(p.data.corpus.groups).map(([g, n]) => `${g} ${n}`).join(', ');
  out.push(`corpus: ${p.data.corpus.samples} samples${groups ? ` (${groups})` : ''}; prompts: ${p.data.prompts.python} Python, ${p.data.prompts.rust} Rust`);
  out.push('');
  out.push(
    renderTable(
      ['model', 'family', 'layers', 'params', 'weights', 'source', 'tokenizer', 'est. peak RSS', 'est. time'],
      p.models.map((m) => [
        m.model.id,
        m.model.family,
        String(m.model.nLayers),
        `${(m.model.parameters / 1e6).toFixed(1)} M`,
        `${gib(m.model.weightBytes)} ${m.model.weightDtype}${m.model.weightsPresent ? '' : ' (absent)'}${m.model.compute === 'bf16' ? ', compute bf16' : ''}`,
        m.model.source,
        m.model.tokenizer ? 'yes' : 'absent',
        gib(m.estPeakBytes),
        dur(m.estSeconds),
      ]),
    ),
  );
  out.push('');
  out.push(
    renderTable(
      ['model', 'phase', 'items', 'prefill passes', 'decode steps', 'est. time', 'what'],
      p.models.flatMap((m) => m.phases.map((ph) => [m.model.id, `${ph.roadmapPhase} ${ph.phase}`, String(ph.items), String(ph.prefillPasses), String(ph.decodeSteps), dur(ph.estSeconds), ph.detail])),
    ),
  );
  out.push(`times and memory are estimates from the cost model (${p.cost.source}), not measurements`);
  for (const m of p.models) {
    for (const w of m.warnings) out.push(`warning: ${m.model.id}: ${w}`);
    for (const x of m.problems) out.push(`problem: ${m.model.id}: ${x}`);
  }
  out.push(p.ok ? 'plan: ok' : 'plan: NOT runnable as it stands (see problems above)');
  return out.join('\n');
}
