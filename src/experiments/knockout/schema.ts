/**
 * Schema of the `plip knockout` results file (zod), documented field by field in docs/experiments/knockout.md.
 * Record and summary types are inferred from it, so file, docs and code cannot drift apart silently (the
 * e2e test validates real output against {@link knockoutResultsSchema}).
 *
 * UNITS: token positions are absolute indices into the tokenized sample (BOS included); KL and NLL in
 * NATS; probabilities in [0, 1]; perplexity is exp(mean NLL) (unitless). No field is NaN or ±Infinity
 * (undefined statistics are null with a note).
 *
 * @module
 */
import { z } from 'zod';
import { unitSchema } from '../shared/units.ts';

export { unitSchema };

/** Version of the knockout record schema (bump on an incompatible change). */
export const KNOCKOUT_SCHEMA_VERSION = 1;

const int = z.int();
const pos = z.int().min(0);
const prob = z.number().min(0).max(1);
const nnum = z.number().nullable();
const nprob = prob.nullable();

/** Continuation effect of one condition (scored at positions continuation.from..to−1). */
export const continuationEffectSchema = z.strictObject({
  /** Intervened − baseline mean NLL per continuation token (nats) = log(ppl ratio). */
  dMeanNll: z.number(),
  /** Intervened − baseline perplexity. */
  dPpl: z.number(),
  /** Mean over scored positions of KL(P_baseline ‖ P_intervened) (nats). */
  klMean: z.number().min(0),
  /** Per scored position: intervened − baseline NLL (nats). */
  dNll: z.array(z.number()),
});

/** One condition (knockout, or one control draw) compared with the sample's baseline. */
export const conditionSchema = z.strictObject({
  /** Key token positions whose edge from the marker was knocked out. */
  keys: z.array(pos),
  /** (head, query, key) edges knocked out, summed over the unit's layers. */
  edges: int.min(0),
  /** KL(P_baseline ‖ P_intervened) of the next-token distribution at the marker position (nats). */
  kl: z.number().min(0),
  /** Intervened argmax token at the marker position. */
  top1: pos,
  top1Changed: z.boolean(),
  /** Jaccard overlap of baseline / intervened top-k sets. */
  topkJaccard: prob,
  /** Change of the baseline top-1 token's probability / logit (intervened − baseline). */
  dProbTop1: z.number(),
  dLogitTop1: z.number(),
  continuation: continuationEffectSchema.nullable(),
});

const markerSchema = z.strictObject({
  token: pos,
  charPos: pos,
  pattern: z.string(),
  tokenText: z.string(),
  /** Marker token merged with text outside the marker pattern (from the corpus position mapping). */
  merged: z.boolean(),
});

const sampleFields = {
  /** `${id}|${unit.id}` for measured records, `${id}|not-applicable` otherwise. */
  key: z.string(),
  id: z.string(),
  group: z.string(),
  language: z.enum(['python', 'rust']).nullable(),
  /** Tokens of the whole sample (BOS included). */
  nTokens: int.min(1),
  marker: markerSchema,
  /** Visible target tokens (≤ marker): the knocked-out keys. */
  targets: z.array(pos),
  /** Target tokens after the marker: edges to future tokens, masked by causality — dropped, never applied. */
  futureTargets: z.array(pos),
  notes: z.array(z.string()),
};

/** A measured (sample, unit) record. */
export const okRecordSchema = z.strictObject({
  ...sampleFields,
  status: z.literal('ok'),
  unit: unitSchema,
  /** Tokens run: the sample up to the end of the continuation (≤ nTokens). */
  seqLen: int.min(1),
  /** Teacher-forced continuation: tokens from+1..to scored at positions from..to−1 (from = marker). */
  continuation: z.strictObject({ from: pos, to: pos, text: z.string() }).nullable(),
  baseline: z.strictObject({
    top1: pos,
    top1Text: z.string(),
    probTop1: prob,
    /** Baseline mean NLL (nats) and perplexity of the continuation; null without continuation. */
    meanNll: nnum,
    ppl: nnum,
  }),
  knockout: conditionSchema,
  controls: z.array(conditionSchema),
  /** Means over the control draws. */
  controlMean: z.strictObject({ kl: z.number().min(0), dProbTop1: z.number(), dLogitTop1: z.number(), top1ChangedRate: prob, topkJaccard: prob, dPpl: nnum }),
  /** Knockout − control mean (the paired difference tested). */
  diff: z.strictObject({ kl: z.number(), dPpl: nnum }),
});

/** A sample that cannot be measured (e.g. every target after the marker). One per sample, no unit. */
export const naRecordSchema = z.strictObject({
  ...sampleFields,
  status: z.literal('not_applicable'),
  unit: z.null(),
  reason: z.string(),
});

export const knockoutRecordSchema = z.discriminatedUnion('status', [okRecordSchema, naRecordSchema]);

const ciSchema = z.strictObject({ estimate: nnum, lo: nnum, hi: nnum, level: prob, method: z.enum(['percentile', 'bca']), note: z.string().optional() });

/**
 * One language's paired tests (one-sided, knockout KL > control KL). The permutation p, the Holm-adjusted
 * p-values (over units × languages) and `met` are absent in files written before per-language verdicts.
 */
const languageStatsSchema = z.strictObject({
  n: int.min(0),
  medianDiffKl: nnum,
  wilcoxonP: nprob,
  permutationP: nprob.optional(),
  wilcoxonPHolm: nprob.optional(),
  permutationPHolm: nprob.optional(),
  met: z.boolean().optional(),
});

const verdictSchema = z.strictObject({ met: z.boolean(), units: z.array(z.string()), statement: z.string() });
const familySchema = z.strictObject({ tests: int.min(0), maxN: int.min(0), minP: prob, reachable: z.boolean() });

export const unitStatsSchema = z.strictObject({
  unit: unitSchema,
  /** Paired samples (primary groups, applicable, finite). */
  n: int.min(0),
  medianKlKnockout: nnum,
  medianKlControl: nnum,
  /** Mean of knockout − control KL (nats) with bootstrap CI. */
  meanDiffKl: nnum,
  meanDiffCI: ciSchema.nullable(),
  /** Cohen's d_z of the paired differences with bootstrap CI. */
  dz: nnum,
  dzCI: ciSchema.nullable(),
  /** Matched-pairs rank-biserial correlation (Wilcoxon effect size). */
  rankBiserial: nnum,
  wilcoxon: z.strictObject({ W: nnum, p: nprob, method: z.enum(['exact', 'normal']).nullable(), pHolm: nprob, pBH: nprob }),
  permutation: z.strictObject({ p: nprob, method: z.enum(['exact', 'monte-carlo']).nullable(), nPermutations: int.min(0), pHolm: nprob, pBH: nprob }),
  /** Secondary metrics: knockout vs control means. */
  secondary: z.strictObject({
    top1ChangedKnockout: nprob,
    top1ChangedControl: nprob,
    meanDProbTop1Knockout: nnum,
    meanDProbTop1Control: nnum,
    meanDPplKnockout: nnum,
    meanDPplControl: nnum,
  }),
  byLanguage: z.strictObject({ python: languageStatsSchema, rust: languageStatsSchema }),
  /** Python vs Rust on the per-sample KL difference (two-sided Mann–Whitney; Hedges' g with bootstrap CI). */
  pythonVsRust: z.strictObject({ nPython: int.min(0), nRust: int.min(0), U: nnum, p: nprob, pHolm: nprob, rankBiserial: nnum, hedgesG: nnum, gCI: ciSchema.nullable() }),
  /** Success criterion met for this unit (both corrected one-sided p < alpha). */
  met: z.boolean(),
  notes: z.array(z.string()),
});

export const knockoutSummarySchema = z.strictObject({
  alpha: prob,
  /** Alternative of the paired tests: knockout KL greater than control KL. */
  alternative: z.literal('greater'),
  primaryGroups: z.array(z.string()),
  correction: z.string(),
  nSamples: int.min(0),
  nApplicable: int.min(0),
  notApplicable: z.array(z.strictObject({ id: z.string(), group: z.string(), reason: z.string() })),
  bootstrap: z.strictObject({ nBoot: int.min(1), level: prob }),
  units: z.array(unitStatsSchema),
  verdict: verdictSchema,
  /** Per-language verdicts, Holm over units × languages (absent in files written before them). */
  verdictByLanguage: z.strictObject({ python: verdictSchema, rust: verdictSchema }).optional(),
  /** Smallest Holm-adjusted p each family can reach, and whether α is reachable (absent in older files). */
  reach: z.strictObject({ alpha: prob, pooled: familySchema, byLanguage: familySchema }).optional(),
  /** Marker token of the run ('first' measures the prediction of `test]` for `#[test]`); absent in older files. */
  markerToken: z.enum(['first', 'last']).nullable().optional(),
});

export const knockoutResultsSchema = z.strictObject({
  header: z.looseObject({ experiment: z.literal('knockout'), schemaVersion: z.literal(KNOCKOUT_SCHEMA_VERSION) }),
  records: z.array(knockoutRecordSchema),
  summary: knockoutSummarySchema,
});

export type KnockoutUnit = z.infer<typeof unitSchema>;
export type ConditionResult = z.infer<typeof conditionSchema>;
export type OkRecord = z.infer<typeof okRecordSchema>;
export type NaRecord = z.infer<typeof naRecordSchema>;
export type KnockoutRecord = z.infer<typeof knockoutRecordSchema>;
export type UnitStats = z.infer<typeof unitStatsSchema>;
export type KnockoutSummary = z.infer<typeof knockoutSummarySchema>;
export type BootstrapInterval = z.infer<typeof ciSchema>;
