/**
 * Terminal summary of the preservation experiment: caveats first, then the roadmap's criteria, then the
 * primary comparisons (n, the correction and whether α was reachable are always stated).
 *
 * @module
 */
import { foldRepeated, fmt, renderTable } from '../../report/table.ts';
import type { PreservationSummary } from './schema.ts';

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);
const ci = (lo: number | null, hi: number | null) => (lo === null || hi === null ? '—' : `[${pct(lo)}, ${pct(hi)}]`);
const signed = (x: number | null) => (x === null ? '—' : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`);

export function renderPreservation(s: PreservationSummary): string {
  const out: string[] = [];
  for (const c of foldRepeated(s.caveats)) out.push(`caveat: ${c}`);
  if (s.skipped.length) out.push(`skipped ${s.skipped.length} prompt(s): ${foldRepeated(s.skipped.map((x) => x.reason)).slice(0, 5).join('; ')}`);
  out.push(`Phase 3 — preservation of generated tests (n = ${s.n.python} Python, ${s.n.rust} Rust prompts; exact two-sided McNemar, Holm over ${s.correction.tests} tests; smallest reachable adjusted p ${fmt(s.correction.minReachableP)}, α = ${s.correction.alpha} ${s.correction.alphaReachable ? 'reachable' : 'NOT reachable'})`);
  for (const l of ['python', 'rust'] as const) {
    const b = s.baseline[l];
    if (b) out.push(`baseline preservation, ${l}: ${pct(b.rate)} ${ci(b.lo, b.hi)} (${b.k}/${b.n})`);
  }
  out.push('');
  out.push(
    renderTable(
      ['criterion', 'language', 'met', 'unit', 'relative change', '95% CI', 'p Holm', 'n'],
      s.criteria.map((c) => [c.criterion, c.language, c.met ? 'MET' : 'not met', c.unit ?? '—', signed(c.value), c.ci ? `[${signed(c.ci.lo)}, ${signed(c.ci.hi)}]` : '—', c.p, String(c.n)]),
    ),
  );
  out.push('');
  out.push(
    renderTable(
      ['language', 'unit', 'condition', 'baseline', 'treated', 'control', 'rel. change', 'lost/gained', 'p vs base (Holm)', 'p vs control (Holm)'],
      s.comparisons
        .filter((c) => c.criterion === 'preserved')
        .map((c) => [
          c.language,
          c.unit,
          c.condition,
          pct(c.baseline.rate),
          `${pct(c.treated.rate)} ${ci(c.treated.lo, c.treated.hi)}`,
          pct(c.control.rate),
          signed(c.relChange),
          `${c.vsBaseline.lost}/${c.vsBaseline.gained}`,
          c.pHolmBaseline,
          c.pHolmControl,
        ]),
    ),
  );
  out.push('preserved = the test calls the function by name (free call) with a fitting argument list; other criteria (called, arityOk, syntaxOk, executedPass) are in the results file.');
  return out.join('\n');
}
