/**
 * The shape every finished results file has: `{header, records, summary}` (src/report/results.ts).
 *
 * @module
 */
import { z } from 'zod';

/** A finished results document with the given record and summary schemas. */
export const resultsDocSchema = <T extends z.ZodType, S extends z.ZodType>(record: T, summary: S) =>
  z.object({ header: z.object({ experiment: z.string(), schemaVersion: z.int(), seed: z.number().nullable() }).loose(), records: z.array(record), summary });
