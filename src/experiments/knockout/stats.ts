/**
 * Statistics of the knockout experiment, computed from the records (so a resumed run gives the same
 * summary as an uninterrupted one).
 *
 * Per analysis unit, over the applicable samples of the PRIMARY groups (default: every group whose name
 * does not end in `_baseline`, i.e. python_doctest + rust_test):
 *   d_i = KL_knockout,i − mean_draws KL_control,i          (nats, next-token distribution at the marker)
 * - Wilcoxon signed-rank on d (one-sided, H1: knockout > control; exact for n ≤ 50 without ties/zeros)
 * - paired sign-flip permutation test on mean(d) (one-sided; exact for n ≤ 16, else Monte Carlo B draws)
 * - effect sizes: mean d with bootstrap CI, Cohen's d_z with bootstrap CI (pairs resampled), matched-pairs
 *   rank-biserial correlation
 * - Python vs Rust: two-sided Mann–Whitney U on d between languages, rank-biserial, Hedges' g with CI
 * - multiple comparisons: Holm (and BH, reported) over ALL units of the run, separately for the Wilcoxon,
 *   the permutation and the Mann–Whitney p-values.
 * Success criterion per unit: Holm-adjusted Wilcoxon p < alpha AND Holm-adjusted permutation p < alpha.
 * The study's criterion is met when at least one unit meets it.
 *
 * Random streams (seeded): `knockout/permutation/<unit>`, `knockout/bootstrap/<unit>/<statistic>`.
 *
 * @module
 */
import {
  benjaminiHochberg,
  bootstrapCI1,
  createRng,
  hedgesG,
  holm,
  mannWhitneyU,
  matchedPairsRankBiserial,
  median,
  pairedEffect,
  pairedPermutationTest,
  rankBiserial,
  wilcoxonSignedRank,
  type BootstrapCI,
} from '../../stats/index.ts';
import type { BootstrapInterval, KnockoutRecord, KnockoutSummary, KnockoutUnit, OkRecord, UnitStats } from './schema.ts';

export interface KnockoutStatsOptions {
  /** Significance level after correction (default 0.05). */
  alpha?: number;
  /** Bootstrap resamples (default 2000). */
  nBoot?: number;
  /** Monte Carlo permutations when n > 16 (default 9999). */
  nPermutations?: number;
  /** Groups in the paired tests (default: groups not ending in `_baseline`). */
  primaryGroups?: readonly string[];
  seed?: number;
  /** The run's marker token (recorded in the summary so the Python-vs-Rust comparison can say what it compares). */
  markerToken?: 'first' | 'last';
}

/**
 * The smallest p each test family can reach after Holm: one-sided exact Wilcoxon 2^−n (normal
 * approximation above n = 50: reported as the exact bound, a lower bound), one-sided sign-flip
 * permutation 2^−n exact for n ≤ 16 else 1/(B+1) (the larger of the two, as a unit needs both); × the
 * number of tests of the family (units for the pooled verdict, units × 2 languages for the per-language
 * verdicts). Computed at the largest n of the family: whether ANY test can reach α.
 */
export function knockoutReach(unitN: readonly number[], langN: readonly number[], nPermutations: number, alpha: number) {
  const one = (n: number) => (n <= 0 ? 1 : Math.max(2 ** -n, n <= 16 ? 2 ** -n : 1 / (nPermutations + 1)));
  const fam = (ns: readonly number[]) => {
    const best = Math.max(0, ...ns);
    const minP = Math.min(1, ns.length * one(best));
    return { tests: ns.length, maxN: best, minP, reachable: minP < alpha };
  };
  return { alpha, pooled: fam(unitN), byLanguage: fam(langN) };
}

const LEVEL = 0.95;

function ci(b: BootstrapCI | undefined): BootstrapInterval | null {
  if (!b) return null;
  return { estimate: b.estimate, lo: b.lo, hi: b.hi, level: b.level, method: b.method, ...(b.note ? { note: b.note } : {}) };
}

/** Runs `fn`; on a thrown error records a note and returns null (degenerate inputs never abort a summary). */
function safe<T>(notes: string[], what: string, fn: () => T): T | null {
  try {
    return fn();
  } catch (e) {
    notes.push(`${what}: ${(e as Error).message}`);
    return null;
  }
}

const meanOf = (xs: readonly number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : null);
const fin = (x: number | null | undefined): number | null => (x === null || x === undefined || !Number.isFinite(x) ? null : x);

function unitStats(unit: KnockoutUnit, rows: OkRecord[], o: Required<Pick<KnockoutStatsOptions, 'nBoot' | 'nPermutations' | 'seed'>>): UnitStats {
  const notes: string[] = [];
  const d = rows.map((r) => r.diff.kl);
  const n = d.length;
  const rng = (what: string) => createRng(o.seed, `knockout/${what}/${unit.id}`);
  const boot = (what: string) => ({ rng: createRng(o.seed, `knockout/bootstrap/${unit.id}/${what}`), nBoot: o.nBoot, level: LEVEL });
  const wil = n ? safe(notes, 'Wilcoxon', () => wilcoxonSignedRank(d, { alternative: 'greater' })) : null;
  if (wil?.note) notes.push(`Wilcoxon: ${wil.note}`);
  const perm = n ? safe(notes, 'permutation', () => pairedPermutationTest(d, { alternative: 'greater', rng: rng('permutation'), nPermutations: o.nPermutations })) : null;
  const meanCI = n >= 2 ? safe(notes, 'bootstrap of the mean difference', () => bootstrapCI1(d, (x) => meanOf(x), boot('mean'))) : null;
  const eff = n >= 2 ? safe(notes, 'd_z', () => pairedEffect(d, { ci: boot('dz') })) : null;
  if (eff?.note) notes.push(`d_z: ${eff.note}`);
  const rb = n ? safe(notes, 'rank-biserial', () => matchedPairsRankBiserial(d)) : null;
  if (n === 0) notes.push('no applicable samples in the primary groups');
  else if (n < 5) notes.push(`only ${n} pairs: the smallest attainable one-sided exact Wilcoxon p is 2^-${n} = ${(2 ** -n).toPrecision(3)}`);

  const lang = (l: 'python' | 'rust') => {
    const dl = rows.filter((r) => r.language === l).map((r) => r.diff.kl);
    const w = dl.length ? safe(notes, `Wilcoxon (${l})`, () => wilcoxonSignedRank(dl, { alternative: 'greater' })) : null;
    const pm = dl.length ? safe(notes, `permutation (${l})`, () => pairedPermutationTest(dl, { alternative: 'greater', rng: createRng(o.seed, `knockout/permutation/${unit.id}/${l}`), nPermutations: o.nPermutations })) : null;
    return { n: dl.length, medianDiffKl: fin(median(dl)), wilcoxonP: w?.p ?? null, permutationP: pm?.p ?? null, d: dl };
  };
  const py = lang('python');
  const rs = lang('rust');
  let pvr: UnitStats['pythonVsRust'] = { nPython: py.n, nRust: rs.n, U: null, p: null, pHolm: null, rankBiserial: null, hedgesG: null, gCI: null };
  if (py.n && rs.n) {
    const mw = safe(notes, 'Mann–Whitney', () => mannWhitneyU(py.d, rs.d));
    const g = safe(notes, "Hedges' g", () => hedgesG(py.d, rs.d, { ci: boot('hedges-g') }));
    const r = safe(notes, 'rank-biserial (Python vs Rust)', () => rankBiserial(py.d, rs.d));
    pvr = { nPython: py.n, nRust: rs.n, U: mw?.U ?? null, p: mw?.p ?? null, pHolm: null, rankBiserial: fin(r?.r), hedgesG: fin(g?.g), gCI: ci(g?.ci) };
  } else notes.push('Python vs Rust: needs applicable samples of both languages');

  const frac = (f: (r: OkRecord) => boolean) => (rows.length ? rows.filter(f).length / rows.length : null);
  const contRows = rows.filter((r) => r.knockout.continuation !== null);
  return {
    unit,
    n,
    medianKlKnockout: fin(median(rows.map((r) => r.knockout.kl))),
    medianKlControl: fin(median(rows.map((r) => r.controlMean.kl))),
    meanDiffKl: fin(meanOf(d)),
    meanDiffCI: ci(meanCI ?? undefined),
    dz: fin(eff?.dz),
    dzCI: ci(eff?.ci),
    rankBiserial: fin(rb?.r),
    wilcoxon: { W: fin(wil?.W), p: wil?.p ?? null, method: wil?.method ?? null, pHolm: null, pBH: null },
    permutation: { p: perm?.p ?? null, method: perm?.method ?? null, nPermutations: perm?.nPermutations ?? 0, pHolm: null, pBH: null },
    secondary: {
      top1ChangedKnockout: frac((r) => r.knockout.top1Changed),
      top1ChangedControl: rows.length ? rows.reduce((s, r) => s + r.controlMean.top1ChangedRate, 0) / rows.length : null,
      meanDProbTop1Knockout: fin(meanOf(rows.map((r) => r.knockout.dProbTop1))),
      meanDProbTop1Control: fin(meanOf(rows.map((r) => r.controlMean.dProbTop1))),
      meanDPplKnockout: fin(meanOf(contRows.map((r) => r.knockout.continuation!.dPpl))),
      meanDPplControl: fin(meanOf(contRows.map((r) => r.controlMean.dPpl!))),
    },
    byLanguage: {
      python: { n: py.n, medianDiffKl: py.medianDiffKl, wilcoxonP: py.wilcoxonP, permutationP: py.permutationP, wilcoxonPHolm: null, permutationPHolm: null, met: false },
      rust: { n: rs.n, medianDiffKl: rs.medianDiffKl, wilcoxonP: rs.wilcoxonP, permutationP: rs.permutationP, wilcoxonPHolm: null, permutationPHolm: null, met: false },
    },
    pythonVsRust: pvr,
    met: false,
    notes,
  };
}

/**
 * The summary of a knockout results file: per-unit tests and effect sizes, corrections across units, the
 * not-applicable samples, and the verdict on the study's success criterion.
 */
export function summarizeKnockout(records: readonly KnockoutRecord[], units: readonly KnockoutUnit[], nSamples: number, opts: KnockoutStatsOptions = {}): KnockoutSummary {
  const alpha = opts.alpha ?? 0.05;
  const o = { nBoot: opts.nBoot ?? 2000, nPermutations: opts.nPermutations ?? 9999, seed: opts.seed ?? 0 };
  const groups = [...new Set(records.map((r) => r.group))];
  const primary = opts.primaryGroups ? [...opts.primaryGroups] : groups.filter((g) => !g.endsWith('_baseline'));
  const ok = records.filter((r): r is OkRecord => r.status === 'ok' && primary.includes(r.group));
  const stats = units.map((u) => unitStats(u, ok.filter((r) => r.unit.id === u.id), o));

  const wh = holm(stats.map((s) => s.wilcoxon.p));
  const wb = benjaminiHochberg(stats.map((s) => s.wilcoxon.p));
  const ph = holm(stats.map((s) => s.permutation.p));
  const pb = benjaminiHochberg(stats.map((s) => s.permutation.p));
  const mh = holm(stats.map((s) => s.pythonVsRust.p));
  stats.forEach((s, i) => {
    s.wilcoxon.pHolm = wh[i]!;
    s.wilcoxon.pBH = wb[i]!;
    s.permutation.pHolm = ph[i]!;
    s.permutation.pBH = pb[i]!;
    s.pythonVsRust.pHolm = mh[i]!;
    s.met = s.wilcoxon.pHolm !== null && s.permutation.pHolm !== null && s.wilcoxon.pHolm < alpha && s.permutation.pHolm < alpha;
  });
  const metUnits = stats.filter((s) => s.met).map((s) => s.unit.id);
  // per-language verdicts: Holm over units × languages (one family per test)
  const LANGS = ['python', 'rust'] as const;
  const cells = stats.flatMap((s) => LANGS.map((l) => s.byLanguage[l]));
  const lwh = holm(cells.map((c) => c.wilcoxonP));
  const lph = holm(cells.map((c) => c.permutationP ?? null));
  cells.forEach((c, i) => {
    c.wilcoxonPHolm = lwh[i]!;
    c.permutationPHolm = lph[i]!;
    c.met = c.wilcoxonPHolm !== null && c.permutationPHolm !== null && c.wilcoxonPHolm < alpha && c.permutationPHolm < alpha;
  });
  const reach = knockoutReach(stats.map((s) => s.n), cells.map((c) => c.n), o.nPermutations, alpha);
  const byLanguage = Object.fromEntries(
    LANGS.map((l) => {
      const met = stats.filter((s) => s.byLanguage[l].met).map((s) => s.unit.id);
      const best = stats.filter((s) => s.byLanguage[l].wilcoxonPHolm !== null).sort((a, b) => a.byLanguage[l].wilcoxonPHolm! - b.byLanguage[l].wilcoxonPHolm!)[0];
      const statement = met.length
        ? `${l}: MET in ${met.join(', ')} (one-sided Wilcoxon and permutation, Holm over ${stats.length} unit(s) × 2 languages, p < ${alpha})`
        : `${l}: NOT MET` + (best ? ` (smallest corrected Wilcoxon p = ${best.byLanguage[l].wilcoxonPHolm!.toPrecision(3)} at ${best.unit.id}, n = ${best.byLanguage[l].n})` : ' (no testable unit)');
      return [l, { met: met.length > 0, units: met, statement }];
    }),
  ) as KnockoutSummary['verdictByLanguage'];
  const na = records.filter((r) => r.status === 'not_applicable');
  let statement: string;
  if (metUnits.length) {
    statement =
      `MET: removing marker→target attention changes the next-token distribution significantly more than matched controls ` +
      `(one-sided Wilcoxon and permutation, Holm-corrected over ${stats.length} unit(s), p < ${alpha}) in: ${metUnits.join(', ')}`;
  } else {
    const best = stats.filter((s) => s.wilcoxon.pHolm !== null).sort((a, b) => a.wilcoxon.pHolm! - b.wilcoxon.pHolm!)[0];
    statement =
      `NOT MET: no unit has Holm-corrected one-sided Wilcoxon and permutation p < ${alpha}` +
      (best ? ` (smallest corrected Wilcoxon p = ${best.wilcoxon.pHolm!.toPrecision(3)} at ${best.unit.id}, n = ${best.n})` : ' (no testable unit)');
  }
  return {
    alpha,
    alternative: 'greater',
    primaryGroups: primary,
    correction: `Holm (FWER) over all ${stats.length} unit(s), separately for Wilcoxon, permutation and Mann–Whitney p-values; BH reported`,
    nSamples,
    nApplicable: new Set(records.filter((r) => r.status === 'ok').map((r) => r.id)).size,
    notApplicable: na.map((r) => ({ id: r.id, group: r.group, reason: (r as { reason: string }).reason })),
    bootstrap: { nBoot: o.nBoot, level: LEVEL },
    units: stats,
    verdict: { met: metUnits.length > 0, units: metUnits, statement },
    verdictByLanguage: byLanguage,
    reach,
    markerToken: opts.markerToken ?? null,
  };
}
