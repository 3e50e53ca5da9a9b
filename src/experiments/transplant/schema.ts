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
 * - `control`: the pattern transplant from a Rust donor (another Rust prompt) through the same kind of map;
 * - `shuffled`: the Python donor's pattern through its map with the function keys sent to matched random
 *   recipient keys (pairs.ts `shuffledMap`): as much moved mass, none of it on the function's tokens.
 */
export const ARMS = ['pattern', 'resid', 'attn_out', 'control', 'shuffled'] as const;
/** The two control arms. */
export const CONTROL_ARMS = ['control', 'shuffled'] as const;
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
  /** `map` with its function-key entries sent to `shuffledKeys` (the shuffled control). */
  shuffledMap: SemanticPositionMapSchema,
  /** The matched random recipient keys of the shuffled control, ascending (images of the function keys, ascending). */
  shuffledKeys: z.array(pos),
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
  /** Vs the Rust-donor control; null for the control arms. */
  vsControl: mcnemar.nullable(),
  /** Vs the shuffled-map control; null for the control arms. */
  vsShuffled: mcnemar.nullable(),
  pHolmBaseline: z.number().min(0).max(1).nullable(),
  pHolmControl: z.number().min(0).max(1).nullable(),
  pHolmShuffled: z.number().min(0).max(1).nullable(),
  logpArm: z.number().nullable(),
  logpVsBaseline: logpTest,
  logpVsControl: logpTest.nullable(),
  logpVsShuffled: logpTest.nullable(),
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
  /**
   * Holm families, each across arms × units: preserved McNemar vs baseline (the largest; vs each control
   * is a family of the 3 non-control arms × units), and the log p permutation tests likewise; `tests` and
   * the smallest reachable adjusted p are those of the vs-baseline family, which bound the others.
   */
  correction: z.strictObject({ mcnemar: correction, logp: correction }),
  skipped: z.array(z.strictObject({ id: z.string(), group: z.string(), reason: z.string() })),
  caveats: z.array(z.string()),
});
export type TransplantSummary = z.infer<typeof transplantSummarySchema>;
