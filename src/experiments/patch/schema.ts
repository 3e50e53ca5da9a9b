/**
 * zod schemas of the `plip patch` results records and summary (documented in docs/experiments/patch.md), the only
 * source of their TypeScript types. Strict; LD and effects in nats / unitless.
 *
 * @module
 */
import { z } from 'zod';
import { resultsDocSchema } from '../shared/results-doc.ts';

export { resultsDocSchema };

export const PATCH_SCHEMA_VERSION = 1;

const pos = z.int().min(0);
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
  /** Per group: the smallest Holm-adjusted p the design can reach and whether α = 0.05 is reachable (absent in older files). */
  reach: z.array(z.strictObject({ group: z.string(), n: pos, tests: pos, alpha: z.number(), minP: z.number(), reachable: z.boolean() })).optional(),
});

export const patchResultsSchema = resultsDocSchema(patchRecordSchema, patchSummarySchema);

export type PatchRecord = z.infer<typeof patchRecordSchema>;
export type PatchSummary = z.infer<typeof patchSummarySchema>;
export type PatchConditionStats = PatchSummary['conditions'][number];
