/**
 * zod schemas of the phase-4 results (steering Rust tests to the Python level during generation).
 * UNITS: token positions (BOS included); attention levels and rates in [0, 1].
 *
 * @module
 */
import { z } from 'zod';
import { outcomeSchema } from '../shared/outcome.ts';
import { unitSchema } from '../shared/units.ts';

const pos = z.int().min(0);
const rate = z.number().min(0).max(1);

export const steerGenRecordSchema = z.strictObject({
  key: z.string(),
  id: z.string(),
  name: z.string(),
  category: z.string(),
  marker: z.strictObject({ first: pos, last: pos, text: z.string() }),
  targets: z.array(pos).min(1),
  controlKeys: z.array(z.array(pos)),
  baseline: outcomeSchema,
  units: z
    .array(
      z.strictObject({
        unit: unitSchema,
        doses: z.array(z.strictObject({ label: z.string(), multiple: z.number().min(0).nullable(), absolute: rate.nullable(), treated: outcomeSchema, controls: z.array(outcomeSchema) })).min(1),
      }),
    )
    .min(1),
});
export type SteerGenRecord = z.infer<typeof steerGenRecordSchema>;

const proportion = z.strictObject({ k: z.int().min(0), n: z.int().min(0), rate: rate.nullable(), lo: rate.nullable(), hi: rate.nullable() });
const mcnemar = z.strictObject({ lost: z.int().min(0), gained: z.int().min(0), p: z.number().min(0).max(1), direction: z.enum(['decrease', 'increase', 'none']) });

export const steerGenSummarySchema = z.strictObject({
  n: z.int().min(0),
  calibration: z.strictObject({ pythonMean: rate, rustMean: rate, ratio: z.number().nullable() }),
  baseline: z.strictObject({ preserved: proportion, executedPass: proportion.nullable() }),
  /** Per unit × dose, the primary (preserved) and the executed-pass rates. */
  doses: z.array(
    z.strictObject({
      unit: z.string(),
      label: z.string(),
      multiple: z.number().nullable(),
      absolute: rate.nullable(),
      preserved: proportion,
      /** null when the tests were not executed. */
      executedPass: proportion.nullable(),
      control: proportion,
      vsBaseline: mcnemar,
      vsControl: mcnemar,
      pHolmBaseline: z.number().min(0).max(1),
      pHolmControl: z.number().min(0).max(1),
    }),
  ),
  /** Per unit: permutation trend test of preservation across the multiples (within-prompt permutations). */
  trends: z.array(
    z.strictObject({
      unit: z.string(),
      statistic: z.number(),
      p: z.number().min(0).max(1),
      pHolm: z.number().min(0).max(1),
      direction: z.enum(['increasing', 'decreasing', 'flat']),
      /** The smallest multiple at which the rate reaches its maximum over the multiples. */
      ceilingMultiple: z.number().nullable(),
      ceilingRate: rate.nullable(),
    }),
  ),
  criteria: z.array(
    z.strictObject({ criterion: z.string(), language: z.literal('rust'), met: z.boolean(), unit: z.string().nullable(), value: z.number().nullable(), ci: z.strictObject({ lo: z.number(), hi: z.number() }).nullable(), p: z.number().nullable(), n: z.int().min(0), note: z.string() }),
  ),
  correction: z.strictObject({ method: z.literal('holm'), tests: z.int().min(0), minReachableP: z.number(), alpha: z.number(), alphaReachable: z.boolean() }),
  skipped: z.array(z.strictObject({ id: z.string(), group: z.string(), reason: z.string() })),
  caveats: z.array(z.string()),
});
export type SteerGenSummary = z.infer<typeof steerGenSummarySchema>;
