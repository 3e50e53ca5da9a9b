/**
 * The study's verdicts: each roadmap criterion of each phase on each model, and whether it replicates
 * across models ("Success must replicate across 2+ models": met — i.e. significant after the phase's
 * correction — in at least two models, with the same direction).
 *
 * Phase 2's per-language criteria are the knockout summary's per-language verdicts (Holm over units ×
 * languages); for files written before those existed, they are computed here from its per-language
 * Wilcoxon p-values with the same correction.
 *
 * @module
 */
import { z } from 'zod';
import { holm } from '../stats/correct.ts';
import type { LoadedStudy, PhaseName } from './schema.ts';
import { PHASE_NUMBER } from './schema.ts';

const ci = z.strictObject({ lo: z.number(), hi: z.number() }).nullable();

export const studyCriterionSchema = z.strictObject({
  model: z.string(),
  phase: z.string(),
  roadmapPhase: z.int(),
  criterion: z.string(),
  language: z.enum(['python', 'rust', 'pooled']),
  met: z.boolean(),
  value: z.number().nullable(),
  ci,
  p: z.number().nullable(),
  n: z.int().min(0),
  note: z.string(),
});
export type StudyCriterion = z.infer<typeof studyCriterionSchema>;

export const studySummarySchema = z.strictObject({
  kind: z.literal('plip-study'),
  name: z.string(),
  hash: z.string(),
  models: z.array(z.string()),
  phases: z.array(z.strictObject({ model: z.string(), phase: z.string(), path: z.string() })),
  criteria: z.array(studyCriterionSchema),
  replication: z.array(
    z.strictObject({
      phase: z.string(),
      criterion: z.string(),
      language: z.enum(['python', 'rust', 'pooled']),
      /** Models where the criterion is met. */
      models: z.array(z.string()),
      /** Models tested. */
      tested: z.int().min(0),
      replicates: z.boolean(),
      note: z.string(),
    }),
  ),
});
export type StudySummary = z.infer<typeof studySummarySchema>;

interface LanguageStats {
  n: number;
  medianDiffKl: number | null;
  wilcoxonP: number | null;
  wilcoxonPHolm?: number | null;
  permutationPHolm?: number | null;
  met?: boolean;
}
interface KnockoutLike {
  alpha: number;
  units: { unit: { id: string }; n: number; met: boolean; meanDiffKl: number | null; meanDiffCI: { lo: number; hi: number } | null; permutation: { pHolm: number | null }; byLanguage: Record<'python' | 'rust', LanguageStats> }[];
  verdict: { met: boolean; units: string[]; statement: string };
  verdictByLanguage?: Record<'python' | 'rust', { met: boolean; units: string[]; statement: string }>;
}

interface CriteriaLike {
  criteria: { criterion: string; language: 'python' | 'rust'; met: boolean; value: number | null; ci: { lo: number; hi: number } | null; p: number | null; n: number; note: string; unit?: string | null }[];
}

function knockoutCriteria(model: string, s: KnockoutLike, minKl: number): StudyCriterion[] {
  const crit = `knockout shows a significant logit change of at least ${minKl} nats (KL vs matched controls)`;
  /** Significant AND large enough: the effect-size floor of the study file (phases.knockout.minKl). */
  const floor = (met: boolean, value: number | null | undefined, statement: string): { met: boolean; note: string } =>
    met && !((value ?? -Infinity) >= minKl)
      ? { met: false, note: `${statement}; but the KL excess ${value === null || value === undefined ? 'n/a' : value.toPrecision(3)} nats is below the study's floor of ${minKl} nats: significant but negligible` }
      : { met, note: statement };
  // shown: the largest effect among the significant units (among all when none is significant)
  const sig = s.units.filter((u) => s.verdict.units.includes(u.unit.id));
  const pool = sig.length ? sig : s.units;
  const best = pool.reduce((a, b) => ((b.meanDiffKl ?? -Infinity) > (a.meanDiffKl ?? -Infinity) ? b : a), pool[0]!);
  const out: StudyCriterion[] = [
    { model, phase: 'knockout', roadmapPhase: 2, criterion: crit, language: 'pooled', ...floor(s.verdict.met, best?.meanDiffKl, s.verdict.statement), value: best?.meanDiffKl ?? null, ci: best?.meanDiffCI ? { lo: best.meanDiffCI.lo, hi: best.meanDiffCI.hi } : null, p: best?.permutation.pHolm ?? null, n: best?.n ?? 0 },
  ];
  const rows = s.units.flatMap((u) => (['python', 'rust'] as const).map((lang) => ({ u, lang, st: u.byLanguage[lang] })));
  if (s.verdictByLanguage) {
    // the experiment's own per-language verdicts (Holm over units × languages, src/experiments/knockout/stats.ts)
    for (const lang of ['python', 'rust'] as const) {
      const v = s.verdictByLanguage[lang];
      const mine = rows.filter((r) => r.lang === lang && r.st.n > 0);
      if (mine.length === 0) continue;
      const p = (r: (typeof mine)[number]) => Math.max(r.st.wilcoxonPHolm ?? 1, r.st.permutationPHolm ?? 0);
      const big = (a: (typeof mine)[number], b: (typeof mine)[number]) => (b.st.medianDiffKl ?? -Infinity) - (a.st.medianDiffKl ?? -Infinity);
      const pick = mine.filter((r) => v.units.includes(r.u.unit.id)).sort(big)[0] ?? mine.sort((a, b) => p(a) - p(b))[0]!;
      out.push({ model, phase: 'knockout', roadmapPhase: 2, criterion: crit, language: lang, ...floor(v.met, pick.st.medianDiffKl, `${v.statement}; shown: ${pick.u.unit.id}; value = median KL difference (nats)`), value: pick.st.medianDiffKl, ci: null, p: p(pick), n: pick.st.n });
    }
    return out;
  }
  const adj = holm(rows.map((r) => r.st.wilcoxonP));
  for (const lang of ['python', 'rust'] as const) {
    const mine = rows.map((r, i) => ({ ...r, pHolm: adj[i] ?? null })).filter((r) => r.lang === lang && r.st.n > 0);
    if (mine.length === 0) continue;
    const ok = mine.filter((r) => r.pHolm !== null && r.pHolm < s.alpha && (r.st.medianDiffKl ?? 0) > 0);
    const pick = ok.length ? ok.reduce((a, b) => ((b.st.medianDiffKl ?? -Infinity) > (a.st.medianDiffKl ?? -Infinity) ? b : a)) : mine.reduce((a, b) => ((b.pHolm ?? 1) < (a.pHolm ?? 1) ? b : a));
    out.push({
      model,
      phase: 'knockout',
      roadmapPhase: 2,
      criterion: crit,
      language: lang,
      ...floor(ok.length > 0, pick.st.medianDiffKl, `${ok.length} unit(s) significant (one-sided Wilcoxon, Holm over ${rows.length} unit × language tests); shown: ${pick.u.unit.id}; value = median KL difference (nats)`),
      value: pick.st.medianDiffKl,
      ci: null,
      p: pick.pHolm,
      n: pick.st.n,
    });
  }
  return out;
}

function listedCriteria(model: string, phase: PhaseName, s: CriteriaLike): StudyCriterion[] {
  return s.criteria.map((c) => ({ model, phase, roadmapPhase: PHASE_NUMBER[phase], criterion: c.criterion, language: c.language, met: c.met, value: c.value, ci: c.ci, p: c.p, n: c.n, note: c.unit ? `${c.note} (unit ${c.unit})` : c.note }));
}

/** The study summary from the phases' summaries. */
export function studyCriteria(loaded: LoadedStudy, phases: readonly { model: string; phase: PhaseName; path: string; summary: unknown }[]): StudySummary {
  const criteria: StudyCriterion[] = [];
  for (const p of phases) {
    if (!p.summary) continue;
    if (p.phase === 'knockout') criteria.push(...knockoutCriteria(p.model, p.summary as KnockoutLike, loaded.study.phases.knockout?.minKl ?? 0));
    else criteria.push(...listedCriteria(p.model, p.phase, p.summary as CriteriaLike));
  }
  const models = loaded.study.models.map((m) => m.id);
  const groups = new Map<string, StudyCriterion[]>();
  for (const c of criteria) {
    const k = `${c.phase}\u0000${c.criterion}\u0000${c.language}`;
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  const replication: StudySummary['replication'] = [...groups.values()].map((cs) => {
    const met = cs.filter((c) => c.met);
    const signs = new Set(met.map((c) => Math.sign(c.value ?? 0)));
    const replicates = met.length >= 2 && signs.size === 1;
    return {
      phase: cs[0]!.phase,
      criterion: cs[0]!.criterion,
      language: cs[0]!.language,
      models: met.map((c) => c.model),
      tested: cs.length,
      replicates,
      note: cs.length < 2 ? 'tested on fewer than 2 models: replication cannot be assessed' : replicates ? `met in ${met.length} of ${cs.length} models, same direction` : met.length >= 2 ? 'met in several models but in opposite directions' : `met in ${met.length} of ${cs.length} models`,
    };
  });
  return { kind: 'plip-study', name: loaded.study.name, hash: loaded.hash, models, phases: phases.map((p) => ({ model: p.model, phase: p.phase, path: p.path })), criteria, replication };
}

/** The criteria table as text. */
export function renderStudyCriteria(s: StudySummary): string {
  const pct = (x: number | null) => (x === null ? '—' : Math.abs(x) < 10 ? x.toFixed(3) : x.toFixed(1));
  const lines = [`study '${s.name}': ${s.criteria.filter((c) => c.met).length} of ${s.criteria.length} criteria met`];
  const w = Math.max(...s.criteria.map((c) => c.criterion.length), 9);
  lines.push(`${'model'.padEnd(16)} ${'phase'.padEnd(14)} ${'criterion'.padEnd(w)} ${'language'.padEnd(8)} ${'met'.padEnd(7)} ${'value'.padStart(8)} ${'p'.padStart(8)} ${'n'.padStart(4)}`);
  for (const c of s.criteria) lines.push(`${c.model.padEnd(16)} ${`${c.roadmapPhase} ${c.phase}`.padEnd(14)} ${c.criterion.padEnd(w)} ${c.language.padEnd(8)} ${(c.met ? 'MET' : 'not met').padEnd(7)} ${pct(c.value).padStart(8)} ${(c.p === null ? '—' : c.p.toPrecision(2)).padStart(8)} ${String(c.n).padStart(4)}`);
  lines.push('');
  lines.push('replication across models:');
  for (const r of s.replication) lines.push(`  ${r.replicates ? 'REPLICATES' : 'does not replicate'}: ${r.phase} / ${r.criterion} / ${r.language} — ${r.note}${r.models.length ? ` (${r.models.join(', ')})` : ''}`);
  return lines.join('\n');
}
