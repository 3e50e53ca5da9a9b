/**
 * zod schemas of the phase-5 transplant results (records and summary), the only source of their types.
 * UNITS: token positions (BOS included); rates in [0, 1]; log-probabilities in nats; attention mass in [0, 1].
 *
 * @module
 */
import { z } from 'zod';
import { SemanticPositionMapSchema } from '../../interventions/position-map.ts';
import { outcomeSchema } from '../shared/outcome.ts';
import { unitSchema } from '../shared/units.ts';
import { criterionSchema } from '../preservation/schema.ts';

export { criterionSchema, type Criterion } from '../preservation/schema.ts';

/**
 * The arms run on each unit, besides the baseline:
 * - `pattern`: the Python donor's attention rows through the semantic map (hooks.ts);
 * - `resid` / `attn_out`: the Python donor's activations at the same aligned positions, at
 *   `blocks.L.hook_resid_pre` / `blocks.L.hook_attn_out` (value transplant);
 * - `control`: the pattern transplant from a Rust donor (another Rust prompt) through the same kind of map.
 */
export const ARMS = ['pattern', 'resid', 'attn_out', 'control'] as const;
export type ArmName = (typeof ARMS)[number];

const pos = z.int().min(0);
const rate = z.number().min(0).max(1);

const donorSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  language: z.enum(['python', 'rust']),
  /** The test the donor wrote itself (greedy, cut at the end of the test): its rows are the ones transplanted onto the recipient's generated rows. */
  completion: z.string(),
  /** Tokens of the donor run whose rows are transplanted (prompt + its own test). */
  tokens: pos,
});

const armResultSchema = z.strictObject({
  arm: z.enum(ARMS),
  outcome: outcomeSchema,
  /** Teacher-forced log p(NAME( | recipient prompt) under the arm (nats); null when `NAME(` does not extend the prompt's tokens. */
  logpCall: z.number().nullable(),
  /** Mean over heads and the unit's layers of the recipient's last prompt row's mass on its function tokens (def/fn, name, parameters) under the arm; null for activation arms. */
  fnMass: rate.nullable(),
});

export const transplantRecordSchema = z.strictObject({
  key: z.string(),
  /** The Rust recipient. */
  id: z.string(),
  name: z.string(),
  category: z.string(),
  /** How the Python donor was chosen: the same function name, or the next unused Python prompt with as many parameters. */
  pairing: z.enum(['name', 'params']),
  donor: donorSchema,
  controlDonor: donorSchema,
  /** Python donor → Rust recipient (the data the pattern and activation arms use). */
  map: SemanticPositionMapSchema,
  /** Rust control donor → the same recipient. */
  controlMap: SemanticPositionMapSchema,
  promptTokens: pos,
  baseline: z.strictObject({ outcome: outcomeSchema, logpCall: z.number().nullable() }),
  units: z.array(
    z.strictObject({
      unit: unitSchema,
      /** Baseline value of `fnMass` at this unit. */
      fnMassBaseline: rate,
      arms: z.array(armResultSchema).min(1),
    }),
  ).min(1),
});
export type TransplantRecord = z.infer<typeof transplantRecordSchema>;

const proportion = z.strictObject({ k: z.int().min(0), n: z.int().min(0), rate: rate.nullable(), lo: rate.nullable(), hi: rate.nullable() });
const mcnemar = z.strictObject({ lost: z.int().min(0), gained: z.int().min(0), p: z.number().min(0).max(1), direction: z.enum(['decrease', 'increase', 'none']) });
const interval = z.strictObject({ lo: z.number(), hi: z.number() });
const logpTest = z.strictObject({
  /** Pairs with both log-probabilities. */
  n: z.int().min(0),
  /** Mean paired difference (arm − reference), nats. */
  meanDiff: z.number().nullable(),
  ci: interval.nullable(),
  /** Two-sided paired sign-flip permutation p. */
  p: z.number().min(0).max(1).nullable(),
  pHolm: z.number().min(0).max(1).nullable(),
});

/** One (unit, arm) comparison on the Rust recipients. */
export const transplantComparisonSchema = z.strictObject({
  unit: z.string(),
  arm: z.enum(ARMS),
  n: z.int().min(0),
  /** preserved = called ∧ arityOk. */
  preserved: proportion,
  syntaxOk: proportion,
  executedPass: proportion,
  /** Preserved rate difference arm − baseline, with a paired bootstrap 95% CI over pairs. */
  diff: z.number().nullable(),
  diffCi: interval.nullable(),
  vsBaseline: mcnemar,
  /** Null for the control arm itself. */
  vsControl: mcnemar.nullable(),
  pHolmBaseline: z.number().min(0).max(1).nullable(),
  pHolmControl: z.number().min(0).max(1).nullable(),
  logpArm: z.number().nullable(),
  logpVsBaseline: logpTest,
  logpVsControl: logpTest.nullable(),
  /** Mean `fnMass` under the arm (pattern arms), and at baseline. */
  fnMass: rate.nullable(),
  fnMassBaseline: rate.nullable(),
});
export type TransplantComparison = z.infer<typeof transplantComparisonSchema>;

const correction = z.strictObject({ method: z.literal('holm'), tests: z.int().min(0), minReachableP: z.number(), alpha: z.number(), alphaReachable: z.boolean() });

export const transplantSummarySchema = z.strictObject({
  /** Pairs (Rust recipients) run. */
  n: z.int().min(0),
  pairing: z.strictObject({ name: z.int().min(0), params: z.int().min(0) }),
  baseline: z.strictObject({ preserved: proportion, syntaxOk: proportion, executedPass: proportion, logpCall: z.number().nullable(), nLogp: z.int().min(0) }),
  comparisons: z.array(transplantComparisonSchema),
  criteria: z.array(criterionSchema),
  /** Holm families (each across arms × units): preserved McNemar, and log p permutation tests; smallest reachable adjusted p of each. */
  correction: z.strictObject({ mcnemar: correction, logp: correction }),
  skipped: z.array(z.strictObject({ id: z.string(), group: z.string(), reason: z.string() })),
  caveats: z.array(z.string()),
});
export type TransplantSummary = z.infer<typeof transplantSummarySchema>;
