/**
 * What a finished study leaves in its folder besides the phase files: `study.json` (the criteria and
 * replication, validated against its schema) and `report.html` (every phase's report plus the study's
 * criteria, through `plip report`'s renderers).
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import '../report/html/kinds/index.ts';
import { buildReport, readResults } from '../report/html/build.ts';
import { knownKinds } from '../report/html/registry.ts';
import type { ResultsDoc } from '../report/html/types.ts';
import { studySummarySchema, type StudySummary } from './criteria.ts';

/** Writes study.json and report.html; returns their paths and the phase files the report could not show. */
export async function writeStudyOutputs(out: string, summary: StudySummary): Promise<{ json: string; report: string; notShown: string[] }> {
  const json = join(out, 'study.json');
  writeFileSync(json, JSON.stringify(studySummarySchema.parse(summary), null, 1) + '\n');
  const kinds = new Set(knownKinds());
  const docs: ResultsDoc[] = [];
  const notShown: string[] = [];
  if (kinds.has('plip-study')) docs.push(readResults(json));
  for (const p of summary.phases) {
    const doc = readResults(p.path);
    if (kinds.has(doc.header.experiment)) docs.push(doc);
    else notShown.push(`${p.path} (no report renderer for '${doc.header.experiment}')`);
  }
  const report = join(out, 'report.html');
  const built = await buildReport(docs, {}, `PLIP study: ${summary.name}`);
  writeFileSync(report, built.html);
  return { json, report, notShown };
}
