/**
 * zod schemas of the `plip copying` results records and summary (documented in docs/experiments/copying.md), the only
 * source of their TypeScript types. Strict: an unknown or missing field fails. UNITS: token positions
 * (BOS included); log-probabilities in nats; rates in [0, 1].
 *
 * @module
 */
import { z } from 'zod';
import { resultsDocSchema } from '../shared/results-doc.ts';

export const COPYING_SCHEMA_VERSION = 1;

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
  /** Token index of the marker (first token of the last marker occurrence). */
  marker: pos,
  /** Name tokens edited (see header.settings.targets). */
  nameTokens: z.array(pos).min(1),
  baseline: genOutcomeSchema,
  /** Per unit (`L3`, `L0+1+2+3`): the edited condition ("knockout", also under --level/--factor) and the control draws. */
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
  n: pos,
  rateBaseline: prob,
  rateKnockout: prob,
  /** Mean over prompts of the share of control draws that copied. */
  rateControl: prob,
  /** Prompts copied at baseline but not under knockout (lost), and the reverse (gained). */
  discordant: z.strictObject({ lost: pos, gained: pos }),
  /** One-sided exact McNemar p: knockout copies less than baseline / than the first control draw. */
  pMcNemarBaseline: pval,
  pMcNemarControl: pval,
  /** One-sided paired permutation p of (control rate − knockout) per prompt. */
  pPermControl: pval,
  /** Holm across the group's units: of pMcNemarBaseline, and of max(pMcNemarControl, pPermControl). */
  pHolmBaseline: pval,
  pHolmControl: pval,
  /** Knockout lowers copying vs baseline AND vs control (both Holm p < 0.05). */
  effect: z.boolean(),
  /** Prompts with a teacher-forced call log-probability. */
  nLogprob: pos,
  /** Mean log p(NAME( | prompt) in nats: baseline, knockout, control (mean over draws). */
  logprobBaseline: nnum,
  logprobKnockout: nnum,
  logprobControl: nnum,
  /** One-sided paired permutation p: control log-prob > knockout log-prob; Holm across units. */
  pLogprobControl: pval.nullable(),
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
});

export const copyingResultsSchema = resultsDocSchema(copyingRecordSchema, copyingSummarySchema);

export type GenOutcome = z.infer<typeof genOutcomeSchema>;
export type CopyingRecord = z.infer<typeof copyingRecordSchema>;
export type UnitGroupStats = z.infer<typeof unitGroupStatsSchema>;
export type CopyingSummary = z.infer<typeof copyingSummarySchema>;
