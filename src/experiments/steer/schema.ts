/**
 * zod schemas of the `plip steer` results records and summary (documented in docs/experiments/steer.md), the only
 * source of their TypeScript types. Strict: an unknown or missing field fails, so the tests that validate
 * real output against them keep code and docs from drifting apart. UNITS: token positions (BOS included),
 * KL and NLL in nats, attention mass in [0, 1].
 *
 * @module
 */
import { z } from 'zod';
import { resultsDocSchema } from '../shared/results-doc.ts';

export { resultsDocSchema };
import { unitSchema as unit } from '../shared/units.ts';

export const STEER_SCHEMA_VERSION = 1;

const pos = z.int().min(0);
const mass = z.number().min(-1e-6).max(1 + 1e-6);
export const steerConditionSchema = z.strictObject({
  kl: z.number().min(0),
  dLogitTop1: z.number(),
  top1Changed: z.boolean(),
  dMeanNll: z.number().nullable(),
  achievedMass: mass,
  massError: z.number().min(0),
});
export const steerControlMeanSchema = z.strictObject({
  kl: z.number().min(0),
  dLogitTop1: z.number(),
  top1ChangedRate: z.number().min(0).max(1),
  dMeanNll: z.number().nullable(),
  achievedMass: mass,
  massError: z.number().min(0),
  draws: z.int().min(1),
});

/** One `plip steer` record: a sample × unit with every level, or a not-applicable sample. */
export const steerRecordSchema = z.discriminatedUnion('status', [
  z.strictObject({
    key: z.string(),
    status: z.literal('ok'),
    id: z.string(),
    group: z.string(),
    language: z.enum(['python', 'rust']).nullable(),
    unit,
    marker: pos,
    targets: z.array(pos).min(1),
    controlKeys: z.array(z.array(pos)),
    notes: z.array(z.string()),
    baselineMass: z.array(z.array(mass)),
    baselineMassMean: mass,
    controlBaselineMassMean: mass,
    levels: z.array(z.strictObject({ level: mass, steer: steerConditionSchema, control: steerControlMeanSchema })).min(1),
    calibrated: z
      .strictObject({ to: z.string(), levels: z.array(z.array(mass)), levelMean: mass, steer: steerConditionSchema, control: steerControlMeanSchema })
      .nullable(),
  }),
  z.strictObject({
    key: z.string(),
    status: z.literal('not_applicable'),
    id: z.string(),
    group: z.string(),
    language: z.enum(['python', 'rust']).nullable(),
    reason: z.string(),
  }),
]);

const np = z.number().min(0).max(1).nullable();
const nnum = z.number().nullable();

/** Summary of `plip steer` (src/experiments/steer-stats.ts), plus the calibration levels. */
export const steerSummarySchema = z.strictObject({
  primaryGroups: z.array(z.string()),
  nSamples: pos,
  nApplicable: pos,
  notApplicable: z.array(z.strictObject({ id: z.string(), group: z.string(), reason: z.string() })),
  correction: z.string(),
  alpha: z.number(),
  maxMassError: z.number().min(0).nullable(),
  cells: z.array(
    z.strictObject({
      group: z.string(),
      unit,
      n: pos,
      medianNaturalMass: nnum,
      medianNaturalMassControl: nnum,
      levels: z.array(
        z.strictObject({
          level: mass, n: pos, nNll: pos, medianAchievedMass: nnum, medianKlSteer: nnum, medianKlControl: nnum,
          medianDNllSteer: nnum, medianDNllControl: nnum, p: np, pHolm: np, rankBiserial: nnum, top1ChangedSteer: np, top1ChangedControl: np,
        }),
      ),
      trend: z.strictObject({
        n: pos, medianRhoSteer: nnum, medianRhoControl: nnum, p: np, pHolm: np,
        /**
         * PRIMARY: within-sample permutation trend test of ΔNLL(control) − ΔNLL(steer) across levels,
         * two-sided, Holm across units (src/experiments/steer/stats.ts); absent in files written before it.
         */
        permutation: z
          .strictObject({ statistic: z.number(), p: z.number().min(0).max(1), pHolm: np, direction: z.enum(['increasing', 'decreasing', 'flat']), nPermutations: pos })
          .nullable()
          .optional(),
      }),
      calibrated: z
        .strictObject({
          to: z.string(), n: pos, medianLevel: nnum, medianNaturalMass: nnum, medianDNllSteer: nnum, medianDNllControl: nnum,
          pVsBaseline: np, pVsControl: np, pVsBaselineHolm: np, pVsControlHolm: np,
        })
        .nullable(),
      notes: z.array(z.string()),
    }),
  ),
  calibration: z.strictObject({ group: z.string(), n: pos, mass: z.record(z.string(), z.array(mass)) }).nullable(),
  /** Per group: smallest Holm-adjusted p of the primary trend family and of the per-level family (absent in older files). */
  reach: z
    .array(
      z.strictObject({
        group: z.string(), n: pos, alpha: z.number(),
        trend: z.strictObject({ tests: pos, minP: z.number(), reachable: z.boolean() }),
        levels: z.strictObject({ tests: pos, minP: z.number(), reachable: z.boolean() }),
      }),
    )
    .optional(),
});

export const steerResultsSchema = resultsDocSchema(steerRecordSchema, steerSummarySchema);

export type SteerRecord = z.infer<typeof steerRecordSchema>;
export type SteerOkRecord = Extract<SteerRecord, { status: 'ok' }>;
export type SteerNaRecord = Extract<SteerRecord, { status: 'not_applicable' }>;
/** One steered condition compared with the sample's baseline. */
export type SteerCondition = z.infer<typeof steerConditionSchema>;
/** Mean over control draws. */
export type SteerControlMean = z.infer<typeof steerControlMeanSchema>;
export type SteerSummary = z.infer<typeof steerSummarySchema>;
export type SteerCell = SteerSummary['cells'][number];
export type SteerLevelStats = SteerCell['levels'][number];
export type SteerTrendStats = SteerCell['trend'];
export type SteerCalibratedStats = NonNullable<SteerCell['calibrated']>;
export type SteerCalibration = NonNullable<SteerSummary['calibration']>;
