/**
 * zod schemas of the `plip copying` results records and summary (documented in docs/experiments/copying.md), the only
 * source of their TypeScript types. Strict: an unknown or missing field fails. UNITS: token positions
 * (BOS included); log-probabilities in nats; rates in [0, 1].
 *
 * @module
 */
import { z } from 'zod';
import { resultsDocSchema } from '../shared/results-doc.ts';

/**
 * 2: records and stats name the edited condition; McNemar and permutation p are two-sided with the
 * direction reported (version 1 files: one-sided for a decrease, no condition — read them with that in mind).
 */
export const COPYING_SCHEMA_VERSION = 2;

/** "knockout", "set(ℓ)" or "scale(f)". */
const conditionSchema = z.string().regex(/^(knockout|set\([0-9.e+-]+\)|scale\([0-9.e+-]+\))$/);
const direction = z.enum(['lower', 'higher', 'none']);

const pos = z.int().min(0);
const prob = z.number().min(0).max(1);
const pval = prob;
const nnum = z.number().nullable();

/** One generated completion under one condition. */
export const genOutcomeSchema = z.strictObject({
  completion: z.string(),
  /** The first completion line calls `NAME(`. */
  called: z.boolean(),
  /** Top-level argument count of the first call (null when not called or unbalanced). */
  nArgs: pos.nullable(),
  /** called and nArgs equals the expected arity (null when the arity is unknown). */
  arityOk: z.boolean().nullable(),
  /**
   * Teacher-forced log-probability (nats, ≤ 0) of the true call `NAME(` right after the prompt, summed over
   * its tokens, under the same condition; null when `prompt + NAME(` does not tokenize as prompt tokens + more.
   */
  callLogprob: z.number().max(0).nullable(),
});

/** One prompt under baseline, knockout and control conditions for every unit. */
export const copyingRecordSchema = z.strictObject({
  /** = id. */
  key: z.string(),
  id: z.string(),
  group: z.string(),
  /** The function the test should call. */
  name: z.string(),
  /** The edited condition that ran (the `knockout` fields hold its outcomes). Absent in version 1 files: see header.settings.edit. */
  condition: conditionSchema.optional(),
  /** Token index of the marker (first token of the last marker occurrence). */
  marker: pos,
  /** Name tokens edited (see header.settings.targets). */
  nameTokens: z.array(pos).min(1),
  baseline: genOutcomeSchema,
  /** Per unit (`L3`, `L0+1+2+3`): the edited condition (field `knockout` whatever `condition` is) and the control draws. */
  units: z.record(
    z.string(),
    z.strictObject({
      layers: z.array(pos).min(1),
      knockout: genOutcomeSchema,
      controls: z.array(genOutcomeSchema),
      /** controlKeys[d]: the control keys of draw d (ascending). */
      controlKeys: z.array(z.array(pos)),
    }),
  ),
});

/** Statistics of one group × unit. */
export const unitGroupStatsSchema = z.strictObject({
  group: z.string(),
  unit: z.string(),
  /** The edited condition (absent in version 1 files). */
  condition: conditionSchema.optional(),
  n: pos,
  rateBaseline: prob,
  rateKnockout: prob,
  /** Mean over prompts of the share of control draws that copied. */
  rateControl: prob,
  /** Prompts copied at baseline but not under knockout (lost), and the reverse (gained). */
  discordant: z.strictObject({ lost: pos, gained: pos }),
  /** Exact McNemar p, two-sided (version 1: one-sided "copies less"): edited vs baseline / vs the first control draw. */
  pMcNemarBaseline: pval,
  pMcNemarControl: pval,
  /** Paired permutation p of (control rate − edited) per prompt, two-sided (version 1: one-sided). */
  pPermControl: pval,
  /** Which way the edited copying rate differs from baseline / from the control rate (absent in version 1 files). */
  directionBaseline: direction.optional(),
  directionControl: direction.optional(),
  /** Holm across the group's units: of pMcNemarBaseline, and of max(pMcNemarControl, pPermControl). */
  pHolmBaseline: pval,
  pHolmControl: pval,
  /** The edit changes copying vs baseline AND vs control in the same direction (both Holm p < 0.05; version 1: lowers). */
  effect: z.boolean(),
  /** Prompts with a teacher-forced call log-probability. */
  nLogprob: pos,
  /** Mean log p(NAME( | prompt) in nats: baseline, knockout, control (mean over draws). */
  logprobBaseline: nnum,
  logprobKnockout: nnum,
  logprobControl: nnum,
  /** Paired permutation p of control vs edited log-prob, two-sided (version 1: one-sided control > knockout); Holm across units. */
  pLogprobControl: pval.nullable(),
  /** Which way the edited log-prob differs from the control's (absent in version 1 files). */
  directionLogprob: direction.nullable().optional(),
  pHolmLogprob: pval.nullable(),
});

export const copyingSummarySchema = z.strictObject({
  stats: z.array(unitGroupStatsSchema),
  /**
   * Prompts that could not be used (e.g. the function name does not occur before the marker), with the
   * reason; they are not in the records. Absent in files written before it existed (nothing was skipped:
   * those runs stopped at the first unusable prompt).
   */
  skipped: z.array(z.strictObject({ id: z.string(), group: z.string(), reason: z.string() })).default([]),
  /**
   * Per group: the smallest Holm-adjusted p the design can reach (n prompts, `tests` units per family) for
   * each family, and whether α is reachable at all (absent in version 1 files).
   */
  reach: z
    .array(z.strictObject({ group: z.string(), n: pos, tests: pos, alpha: prob, minHolmBaseline: pval, minHolmControl: pval, minHolmLogprob: pval, reachable: z.boolean() }))
    .optional(),
});

export const copyingResultsSchema = resultsDocSchema(copyingRecordSchema, copyingSummarySchema);

export type GenOutcome = z.infer<typeof genOutcomeSchema>;
export type CopyingRecord = z.infer<typeof copyingRecordSchema>;
export type UnitGroupStats = z.infer<typeof unitGroupStatsSchema>;
export type CopyingSummary = z.infer<typeof copyingSummarySchema>;
