/**
 * Builds a self-contained HTML report from results files: reads each file (`.json` document or `.jsonl`
 * header/records/summary lines), looks its renderer up by `header.experiment`, validates it against the
 * kind's schema, renders the figures to SVG and assembles the page. Also exports figures (`--figures`).
 *
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderFigures, type RenderedFigure } from './figure.ts';
import { reportHtml } from './page.ts';
import { rendererFor } from './registry.ts';
import { decideReplication } from './replication.ts';
import type { RenderContext, ReportSection, ResultsDoc } from './types.ts';
import './kinds/index.ts';
import { buildStudyReport, STUDY_KIND, studyDoc } from './kinds/study.ts';

/** Largest results file read (bytes); bigger files are refused with a clear error rather than exhausting memory. */
export const MAX_RESULTS_BYTES = 256 * 1024 * 1024;

/** Parses a results file's text (`.json` or `.jsonl`); errors name the file and the line. */
export function parseResults(text: string, path: string): ResultsDoc {
  const trimmed = text.trimStart();
  if (trimmed === '') throw new Error(`${path}: empty file (expected a plip results file)`);
  if (path.endsWith('.jsonl') || (trimmed.startsWith('{"type":"header"') && trimmed.includes('\n'))) {
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    let header: ResultsDoc['header'] | null = null;
    let summary: unknown = undefined;
    const records: unknown[] = [];
    lines.forEach((l, i) => {
      let o: { type?: string } & Record<string, unknown>;
      try {
        o = JSON.parse(l);
      } catch (e) {
        throw new Error(`${path}:${i + 1}: malformed JSON (${(e as Error).message})`);
      }
      const { type, ...rest } = o;
      if (type === 'header') header = rest as ResultsDoc['header'];
      else if (type === 'record') records.push(rest);
      else if (type === 'summary') summary = rest;
      else throw new Error(`${path}:${i + 1}: line has no "type" header/record/summary`);
    });
    if (!header) throw new Error(`${path}: no header line`);
    if (summary === undefined) throw new Error(`${path}: no summary line — the run is unfinished (a .progress.jsonl?); finish or resume it first`);
    return check({ path, header, records, summary }, path);
  }
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: malformed JSON (${(e as Error).message})`);
  }
  return check(o, path);
}

function check(o: unknown, path: string): ResultsDoc {
  const d = o as Partial<ResultsDoc>;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error(`${path}: expected a results document {header, records, summary}`);
  if ((o as { kind?: unknown }).kind === STUDY_KIND) return studyDoc(o as object, path);
  if (typeof d.header !== 'object' || d.header === null) throw new Error(`${path}: missing 'header' (not a plip results file)`);
  if (typeof d.header.experiment !== 'string') throw new Error(`${path}: header.experiment is missing (not a plip results file)`);
  if (!Array.isArray(d.records)) throw new Error(`${path}: 'records' must be an array`);
  if (d.summary === undefined || d.summary === null) throw new Error(`${path}: missing 'summary' — the run is unfinished; finish or resume it first`);
  return { path, header: d.header, records: d.records, summary: d.summary } as ResultsDoc;
}

export function readResults(path: string): ResultsDoc {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${path}: ${code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory, expected a results file' : `cannot read (${code})`}`);
  }
  if (buf.length > MAX_RESULTS_BYTES) throw new Error(`${path}: ${buf.length} bytes, larger than the ${MAX_RESULTS_BYTES}-byte limit of plip report`);
  return parseResults(buf.toString('utf8'), path);
}

export interface BuiltReport {
  html: string;
  parts: Array<{ doc: ResultsDoc; section: ReportSection; figures: RenderedFigure[] }>;
  /** Study reports: phase files that could not be read or rendered (named in the page too). */
  notShown?: string[];
}

/** Renders the documents (already read) into one report page. */
export async function buildReport(docs: readonly ResultsDoc[], ctx: RenderContext = {}, title?: string): Promise<BuiltReport> {
  if (docs.length === 0) throw new Error('plip report: no results files given');
  const studies = docs.filter((d) => d.header.experiment === STUDY_KIND);
  if (studies.length > 1) throw new Error(`plip report: ${studies.map((d) => d.path).join(', ')}: one study summary per report`);
  // a study summary makes the report the study's: its phase files are read from study.json, one part per model
  if (studies.length === 1) return buildStudyReport(studies[0]!, docs.filter((d) => d !== studies[0]), readResults, ctx, title);
  const parts: BuiltReport['parts'] = [];
  for (const doc of docs) {
    const r = rendererFor(doc.header.experiment, doc.path);
    r.validate(doc);
    const section = await r.render(doc, ctx);
    parts.push({ doc, section, figures: await renderFigures(section.figures) });
  }
  decideReplication(parts);
  const t = title ?? (parts.length === 1 ? `PLIP report: ${parts[0]!.section.title}` : `PLIP report (${parts.length} results)`);
  return { html: reportHtml(parts, t), parts };
}

/** What {@link exportFigures} wrote. */
export interface ExportedFigures {
  svg: string[];
  png: string[];
  /** Why no PNG was written, when none was. */
  pngSkipped?: string;
}

/**
 * Writes each figure as `DIR/<n>-<figure id>.svg` (standalone, with the SVG namespace) and, when
 * `png` is given, as PNG via `png(svg) → bytes` (the CLI passes a headless-Chromium rasteriser).
 */
export async function exportFigures(report: BuiltReport, dir: string, png?: (svg: string) => Promise<Buffer>): Promise<ExportedFigures> {
  mkdirSync(dir, { recursive: true });
  const out: ExportedFigures = { svg: [], png: [] };
  for (const [i, p] of report.parts.entries()) {
    for (const f of p.figures) {
      const base = join(dir, `${report.parts.length > 1 ? `${i + 1}-` : ''}${f.id}`);
      writeFileSync(`${base}.svg`, f.svg);
      out.svg.push(`${base}.svg`);
      if (png) {
        writeFileSync(`${base}.png`, await png(f.svg));
        out.png.push(`${base}.png`);
      }
    }
  }
  return out;
}
