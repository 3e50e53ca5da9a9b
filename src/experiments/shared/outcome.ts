/**
 * zod schema of one generated test and its scores, shared by the generation experiments (phases 3–5).
 *
 * @module
 */
import { z } from 'zod';

/** What one generated test is scored on (src/score; docs/scoring.md). */
export const outcomeSchema = z.strictObject({
  completion: z.string(),
  /** Why generation stopped: the test was complete, or a limit. */
  stop: z.enum(['test_end', 'eos', 'max_tokens', 'context', 'stop_sequence']),
  called: z.boolean(),
  arityOk: z.boolean(),
  /** null when the test uses no keyword argument. */
  paramNamesOk: z.boolean().nullable(),
  syntaxOk: z.boolean(),
  /** null when execution was turned off. */
  executed: z.enum(['pass', 'fail', 'error', 'compile_error', 'timeout']).nullable(),
  /** The primary measure: the test calls the function by name with a fitting argument list. */
  preserved: z.boolean(),
});
export type Outcome = z.infer<typeof outcomeSchema>;

