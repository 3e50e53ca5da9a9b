/**
 * zod schemas of the `plip steer` and `plip patch` results records and summaries (documented in docs/steering.md and
 * docs/patching.md). Strict: an unknown or missing field fails, so the tests that validate real output
 * against them keep code and docs from drifting apart. UNITS: token positions (BOS included), KL and NLL
 * in nats, attention mass in [0, 1].
 *
 * @module
 */
import { z } from 'zod';

const pos = z.int().min(0);
const mass = z.number().min(-1e-6).max(1 + 1e-6);
const unit = z.strictObject({ id: z.string(), mode: z.enum(['per-layer', 'all-layers', 'window']), layers: z.array(pos).min(1) });

const steerCondition = z.strictObject({
  kl: z.number().min(0),
  dLogitTop1: z.number(),
  top1Changed: z.boolean(),
  dMeanNll: z.number().nullable(),
  achievedMass: mass,
  massError: z.number().min(0),
});
const steerControlMean = z.strictObject({
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
    levels: z.array(z.strictObject({ level: mass, steer: steerCondition, control: steerControlMean })).min(1),
    calibrated: z
      .strictObject({ to: z.string(), levels: z.array(z.array(mass)), levelMean: mass, steer: steerCondition, control: steerControlMean })
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

/** One `plip patch` record (a recipient prompt and its name-swap donor). */
export const patchRecordSchema = z.strictObject({
  key: z.string(),
  id: z.string(),
  group: z.string(),
  status: z.enum(['ok', 'excluded', 'no_donor']),
  reason: z.string().optional(),
  nameA: z.string().optional(),
  nameB: z.string().optional(),
  nTokens: pos.optional(),
  classes: z.strictObject({ name: z.array(pos), marker: z.array(pos), other: z.array(pos) }).optional(),
  ldRecipient: z.number().optional(),
  ldDonor: z.number().optional(),
  effects: z.record(z.string(), z.strictObject({ ld: z.number(), effect: z.number() })).optional(),
});

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
      trend: z.strictObject({ n: pos, medianRhoSteer: nnum, medianRhoControl: nnum, p: np, pHolm: np }),
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
});

/** Summary of `plip patch` (src/experiments/patching.ts). */
export const patchSummarySchema = z.strictObject({
  nPairs: pos,
  excluded: z.array(z.strictObject({ id: z.string(), group: z.string(), reason: z.string() })),
  conditions: z.array(
    z.strictObject({
      group: z.string(), condition: z.string(), n: pos, meanEffect: nnum,
      ci: z.strictObject({ lo: nnum, hi: nnum }).nullable(), medianEffect: nnum, p: np, pHolm: np,
    }),
  ),
  correction: z.string(),
});

/** A finished results document of either command: `{header, records, summary}`. */
export const resultsDocSchema = <T extends z.ZodType, S extends z.ZodType>(record: T, summary: S) =>
  z.object({ header: z.object({ experiment: z.string(), schemaVersion: z.int(), seed: z.number().nullable() }).loose(), records: z.array(record), summary });
