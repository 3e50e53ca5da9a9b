/**
 * zod schemas of the phase-3 preservation results (records and summary), the only source of their types.
 * UNITS: token positions (BOS included); rates in [0, 1]; relative changes as fractions of the baseline rate.
 *
 * @module
 */
import { z } from 'zod';
import { unitSchema } from '../shared/units.ts';
import { outcomeSchema } from '../shared/outcome.ts';

export { outcomeSchema, type Outcome } from '../shared/outcome.ts';

const pos = z.int().min(0);
const rate = z.number().min(0).max(1);

export const CONDITIONS = ['knockout', 'amplify'] as const;

/** One edited condition of a unit: the treatment on the function tokens and the same edit on matched random keys. */
const armSchema = z.strictObject({
  /** 'knockout', 'amplify' (×2), or 'amplify×f' for an extra level f. */
  condition: z.string(),
  /** Amplification factor on the unnormalised weight (null for knockout). */
  factor: z.number().positive().nullable(),
  treated: outcomeSchema,
  controls: z.array(outcomeSchema),
});

export const preservationRecordSchema = z.strictObject({
  key: z.string(),
  id: z.string(),
  language: z.enum(['python', 'rust']),
  name: z.string(),
  category: z.string(),
  /** First and last token of the marker span (`>>>`, `#[test]`); edits apply to queries from `first` on. */
  marker: z.strictObject({ first: pos, last: pos, text: z.string() }),
  /** Function tokens edited: the whole identifier spans of def/fn, the name and each parameter. */
  targets: z.array(pos).min(1),
  /** Matched random keys of each control draw (same count and distance profile as `targets`). */
  controlKeys: z.array(z.array(pos)),
  promptTokens: pos,
  baseline: outcomeSchema,
  units: z.array(z.strictObject({ unit: unitSchema, arms: z.array(armSchema).min(1) })).min(1),
});
export type PreservationRecord = z.infer<typeof preservationRecordSchema>;

const proportion = z.strictObject({ k: z.int().min(0), n: z.int().min(0), rate: rate.nullable(), lo: rate.nullable(), hi: rate.nullable() });
const mcnemar = z.strictObject({ lost: z.int().min(0), gained: z.int().min(0), p: z.number().min(0).max(1), direction: z.enum(['decrease', 'increase', 'none']) });

/** One (language, unit, condition, criterion) comparison. */
export const comparisonSchema = z.strictObject({
  language: z.enum(['python', 'rust']),
  unit: z.string(),
  condition: z.string(),
  criterion: z.enum(['preserved', 'called', 'arityOk', 'syntaxOk', 'executedPass']),
  n: z.int().min(0),
  baseline: proportion,
  treated: proportion,
  /** Pooled over control draws (k counts draw outcomes). */
  control: proportion,
  /** Relative change of the rate vs baseline, (treated − baseline) / baseline, with a paired bootstrap 95% CI. */
  relChange: z.number().nullable(),
  relChangeCi: z.strictObject({ lo: z.number(), hi: z.number() }).nullable(),
  vsBaseline: mcnemar,
  /** Against the first control draw (paired by prompt). */
  vsControl: mcnemar,
  /** Holm-adjusted p (primary criterion only: Holm across languages × units × conditions within the model). */
  pHolmBaseline: z.number().min(0).max(1).nullable(),
  pHolmControl: z.number().min(0).max(1).nullable(),
});
export type Comparison = z.infer<typeof comparisonSchema>;

/** A roadmap success criterion evaluated on this model. */
export const criterionSchema = z.strictObject({
  criterion: z.string(),
  language: z.enum(['python', 'rust']),
  met: z.boolean(),
  /** The unit the verdict rests on (the best qualifying one; null when none qualifies). */
  unit: z.string().nullable(),
  value: z.number().nullable(),
  ci: z.strictObject({ lo: z.number(), hi: z.number() }).nullable(),
  p: z.number().nullable(),
  n: z.int().min(0),
  note: z.string(),
});
export type Criterion = z.infer<typeof criterionSchema>;

export const preservationSummarySchema = z.strictObject({
  n: z.strictObject({ python: z.int().min(0), rust: z.int().min(0) }),
  baseline: z.strictObject({ python: proportion.nullable(), rust: proportion.nullable() }),
  comparisons: z.array(comparisonSchema),
  criteria: z.array(criterionSchema),
  /** Tests in the Holm family, and the smallest adjusted p the design can reach (all n pairs discordant). */
  correction: z.strictObject({ method: z.literal('holm'), tests: z.int().min(0), minReachableP: z.number(), alpha: z.number(), alphaReachable: z.boolean() }),
  skipped: z.array(z.strictObject({ id: z.string(), group: z.string(), reason: z.string() })),
  caveats: z.array(z.string()),
});
export type PreservationSummary = z.infer<typeof preservationSummarySchema>;
