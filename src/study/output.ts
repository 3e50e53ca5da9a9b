/**
 * What a finished study leaves in its folder besides the phase files: `study.json` (the criteria and
 * replication, validated against its schema) and `report.html` — `plip report DIR/study.json`: one part
 * per model with its phase reports and one cross-model part (criteria matrix, replication), through
 * `plip report`'s renderers.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildReport, readResults } from '../report/html/build.ts';
import { studySummarySchema, type StudySummary } from './criteria.ts';

/** Writes study.json and report.html; returns their paths and the phase files the report could not show (each named, with why). */
export async function writeStudyOutputs(out: string, summary: StudySummary): Promise<{ json: string; report: string; notShown: string[] }> {
  const json = join(out, 'study.json');
  writeFileSync(json, JSON.stringify(studySummarySchema.parse(summary), null, 1) + '\n');
  const report = join(out, 'report.html');
  const built = await buildReport([readResults(json)], {}, `PLIP study: ${summary.name}`);
  writeFileSync(report, built.html);
  return { json, report, notShown: built.notShown ?? [] };
}
