/**
 * Schema checks of results documents for the renderers: a failure names the file, the field path and the
 * zod message, so a hand-edited or truncated results file is a clear error rather than a broken figure.
 *
 * @module
 */
import type { z } from 'zod';
import type { ResultsDoc } from '../types.ts';

export function zodCheck(schema: z.ZodType, doc: ResultsDoc, kind: string): void {
  const r = schema.safeParse({ header: doc.header, records: doc.records, summary: doc.summary });
  if (r.success) return;
  const issues = r.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  const more = r.error.issues.length > 5 ? ` (+${r.error.issues.length - 5} more)` : '';
  throw new Error(`${doc.path}: not a valid ${kind} results file — ${issues.join('; ')}${more}`);
}
