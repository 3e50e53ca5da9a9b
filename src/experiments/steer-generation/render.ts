/**
 * Terminal summary of phase 4: caveats, calibration, criteria, then the dose table.
 *
 * @module
 */
import { foldRepeated, renderTable } from '../../report/table.ts';
import type { SteerGenSummary } from './schema.ts';

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);

export function renderSteerGen(s: SteerGenSummary): string {
  const out: string[] = [];
  for (const c of foldRepeated(s.caveats)) out.push(`caveat: ${c}`);
  out.push(`Phase 4 — steering Rust tests to the Python level (n = ${s.n} Rust prompts; calibration: Python ${pct(s.calibration.pythonMean)} vs Rust ${pct(s.calibration.rustMean)} mean mass from test rows to function tokens${s.calibration.ratio ? `, ×${s.calibration.ratio.toFixed(2)}` : ''})`);
  out.push(`baseline: preserved ${pct(s.baseline.preserved.rate)} [${pct(s.baseline.preserved.lo)}, ${pct(s.baseline.preserved.hi)}], test passes ${s.baseline.executedPass ? pct(s.baseline.executedPass.rate) : 'not executed'}`);
  out.push(`McNemar two-sided, Holm over ${s.correction.tests} tests (smallest reachable p ${s.correction.minReachableP.toPrecision(3)}; α = ${s.correction.alpha} ${s.correction.alphaReachable ? 'reachable' : 'NOT reachable'}); trend: within-prompt permutation test, Holm over units`);
  out.push('');
  out.push(renderTable(['criterion', 'met', 'unit', 'value', '95% CI', 'p Holm', 'n', 'note'], s.criteria.map((c) => [c.criterion, c.met ? 'MET' : 'not met', c.unit ?? '—', c.value, c.ci ? `[${c.ci.lo.toFixed(3)}, ${c.ci.hi.toFixed(3)}]` : '—', c.p, String(c.n), c.note])));
  out.push('');
  out.push(renderTable(['unit', 'dose', 'preserved', 'passes', 'control', 'lost/gained', 'p vs base (Holm)', 'p vs control (Holm)'], s.doses.map((d) => [d.unit, d.label, `${pct(d.preserved.rate)} [${pct(d.preserved.lo)}, ${pct(d.preserved.hi)}]`, d.executedPass ? pct(d.executedPass.rate) : '—', pct(d.control.rate), `${d.vsBaseline.lost}/${d.vsBaseline.gained}`, d.pHolmBaseline, d.pHolmControl])));
  out.push('');
  out.push(renderTable(['unit', 'trend', 'p', 'p Holm', 'ceiling'], s.trends.map((t) => [t.unit, t.direction, t.p, t.pHolm, t.ceilingMultiple === null ? '—' : `×${t.ceilingMultiple} (${pct(t.ceilingRate)})`])));
  return out.join('\n');
}
