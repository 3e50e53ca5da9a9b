/**
 * Terminal summary of the transplant experiment: caveats first, then the criteria, then one row per
 * unit × arm (n, the correction and whether α was reachable are always stated).
 *
 * @module
 */
import { foldRepeated, fmt, renderTable } from '../../report/table.ts';
import type { TransplantSummary } from './schema.ts';

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);
const ci = (lo: number | null, hi: number | null) => (lo === null || hi === null ? '—' : `[${pct(lo)}, ${pct(hi)}]`);
const signedPct = (x: number | null) => (x === null ? '—' : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`);
const signed = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(3)}`);

export function renderTransplant(s: TransplantSummary): string {
  const out: string[] = [];
  for (const c of foldRepeated(s.caveats)) out.push(`caveat: ${c}`);
  if (s.skipped.length) out.push(`skipped ${s.skipped.length} prompt(s)/pair(s): ${foldRepeated(s.skipped.map((x) => x.reason)).slice(0, 5).join('; ')}`);
  const mc = s.correction.mcnemar;
  const lp = s.correction.logp;
  out.push(
    `Phase 5 — Python→Rust attention transplant (n = ${s.n} pairs: ${s.pairing.name} by name, ${s.pairing.params} by parameter count; exact two-sided McNemar, Holm over ${mc.tests} tests per family, smallest reachable adjusted p ${fmt(mc.minReachableP)}, α = ${mc.alpha} ${mc.alphaReachable ? 'reachable' : 'NOT reachable'}; log p: paired permutation, Holm over ${lp.tests}, smallest reachable ${fmt(lp.minReachableP)}, α ${lp.alphaReachable ? 'reachable' : 'NOT reachable'})`,
  );
  const b = s.baseline;
  out.push(`baseline (Rust recipients): preserved ${pct(b.preserved.rate)} ${ci(b.preserved.lo, b.preserved.hi)} (${b.preserved.k}/${b.preserved.n}), syntaxOk ${pct(b.syntaxOk.rate)}, executed pass ${pct(b.executedPass.rate)}, mean log p(NAME() ${signed(b.logpCall)} nats (n = ${b.nLogp})`);
  out.push('');
  out.push(
    renderTable(
      ['criterion', 'met', 'unit', 'value', '95% CI', 'p Holm', 'n'],
      s.criteria.map((c) => [c.criterion, c.met ? 'MET' : 'not met', c.unit ?? '—', signed(c.value), c.ci ? `[${signed(c.ci.lo)}, ${signed(c.ci.hi)}]` : '—', c.p, String(c.n)]),
    ),
  );
  for (const c of s.criteria) out.push(`  ${c.criterion}: ${c.note}`);
  out.push('');
  out.push(
    renderTable(
      ['unit', 'arm', 'n', 'preserved', 'Δ vs base', 'lost/gained', 'p base', 'p ctl', 'p shuf', 'syntaxOk', 'exec pass', 'Δlog p base', 'p', 'Δlog p ctl', 'p', 'Δlog p shuf', 'p', 'fn mass'],
      s.comparisons.map((c) => [
        c.unit,
        c.arm,
        String(c.n),
        `${pct(c.preserved.rate)} ${ci(c.preserved.lo, c.preserved.hi)}`,
        signedPct(c.diff),
        `${c.vsBaseline.lost}/${c.vsBaseline.gained}`,
        c.pHolmBaseline,
        c.pHolmControl,
        c.pHolmShuffled,
        pct(c.syntaxOk.rate),
        pct(c.executedPass.rate),
        signed(c.logpVsBaseline.meanDiff),
        c.logpVsBaseline.pHolm,
        signed(c.logpVsControl?.meanDiff),
        c.logpVsControl?.pHolm ?? null,
        signed(c.logpVsShuffled?.meanDiff),
        c.logpVsShuffled?.pHolm ?? null,
        c.fnMass === null ? '—' : `${pct(c.fnMass)} (base ${pct(c.fnMassBaseline)})`,
      ]),
    ),
  );
  out.push('arms: pattern = Python donor rows through the semantic map; resid / attn_out = Python donor activations at the aligned positions; control = pattern transplant from a Rust donor; shuffled = the Python pattern with the function keys sent to matched random keys. Every p is Holm-adjusted in its family. preserved = the test calls the function by name with a fitting argument list; log p in nats; fn mass = last prompt row → function tokens, mean over heads.');
  return out.join('\n');
}
