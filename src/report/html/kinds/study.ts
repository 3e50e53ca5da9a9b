/**
 * Report of a study (`plip study run` → `DIR/study.json`, kind 'plip-study'): one self-contained page
 * with a table of contents and, navigated by anchors (no script), one part per model holding that model's
 * criteria and its phase reports, and one cross-model part: the criteria matrix (criterion × language
 * rows, model columns; met / not met with value and p) as a table and as a Vega-Lite heatmap, and the
 * replication table (met in ≥ 2 models, same direction, significant after correction in each).
 *
 * study.json is not a `{header, records, summary}` results file: {@link studyDoc} wraps it (header
 * `experiment: 'plip-study'`, summary = the study summary, records = its criteria) and the renderer
 * validates the summary with `studySummarySchema`.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { studySummarySchema, type StudyCriterion, type StudySummary } from '../../../study/criteria.ts';
import { renderFigures, type RenderedFigure } from '../figure.ts';
import { esc, fmt, pageHtml, sectionHtml, tableHtml } from '../page.ts';
import { rendererFor } from '../registry.ts';
import { REPLICATION } from '../replication.ts';
import type { Cell, KindRenderer, RenderContext, ReportSection, ResultsDoc, Table } from '../types.ts';

export const STUDY_KIND = 'plip-study';

/** Wraps a parsed study.json as a results document (the renderer validates it). */
export function studyDoc(o: { name?: unknown; hash?: unknown; models?: unknown; criteria?: unknown }, path: string): ResultsDoc {
  return { path, header: { experiment: STUDY_KIND, settings: { name: o.name, hash: o.hash, models: o.models } }, records: Array.isArray(o.criteria) ? o.criteria : [], summary: o };
}

function validate(doc: ResultsDoc): void {
  const r = studySummarySchema.safeParse(doc.summary);
  if (r.success) return;
  const issues = r.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  const more = r.error.issues.length > 5 ? ` (+${r.error.issues.length - 5} more)` : '';
  throw new Error(`${doc.path}: not a valid study summary (plip study run's study.json) — ${issues.join('; ')}${more}`);
}

/** A row of the criteria matrix: one roadmap criterion in one language (or pooled). */
export interface MatrixRow {
  roadmapPhase: number;
  phase: string;
  criterion: string;
  language: string;
  /** Per model (study order): the criterion entry, or null when it was not evaluated on that model. */
  cells: Array<StudyCriterion | null>;
}

/** The criteria matrix: rows in order of first appearance in study.json, columns = `s.models`. */
export function criteriaMatrix(s: StudySummary): MatrixRow[] {
  const rows = new Map<string, MatrixRow>();
  for (const c of s.criteria) {
    const key = JSON.stringify([c.phase, c.criterion, c.language]);
    if (!rows.has(key)) rows.set(key, { roadmapPhase: c.roadmapPhase, phase: c.phase, criterion: c.criterion, language: c.language, cells: s.models.map(() => null) });
    const col = s.models.indexOf(c.model);
    if (col < 0) throw new Error(`criterion '${c.criterion}' names model '${c.model}', which is not in the study's models (${s.models.join(', ')})`);
    rows.get(key)!.cells[col] = c;
  }
  return [...rows.values()];
}

/** The text of one matrix cell: "met · value 0.123 · p 1.2e-3", "not met · …", or "not evaluated". */
export function cellText(c: StudyCriterion | null): string {
  if (!c) return 'not evaluated';
  return `${c.met ? 'met' : 'not met'} · value ${fmt(c.value)} · p ${fmt(c.p, true)} · n ${c.n}`;
}

const rowLabel = (r: MatrixRow) => `P${r.roadmapPhase} [${r.language}] ${r.criterion}`;

function matrixFigure(s: StudySummary, rows: MatrixRow[]): TopLevelSpec {
  const values = rows.flatMap((r) =>
    r.cells.map((c, i) => ({ criterion: rowLabel(r), model: s.models[i]!, status: c ? (c.met ? 'met' : 'not met') : 'not evaluated', text: c ? `${c.met ? 'met' : 'not met'}${c.p === null ? '' : ` p ${fmt(c.p, true)}`}` : '—', note: c?.note ?? '' })),
  );
  const enc = { x: { field: 'model', type: 'nominal', title: 'model', sort: s.models, axis: { labelAngle: 0 } }, y: { field: 'criterion', type: 'nominal', title: null, sort: rows.map(rowLabel), axis: { labelLimit: 520 } } };
  return {
    data: { values },
    width: Math.max(160, 120 * s.models.length),
    height: Math.max(60, 22 * rows.length),
    encoding: enc,
    layer: [
      { mark: { type: 'rect', stroke: '#fff' }, encoding: { color: { field: 'status', type: 'nominal', title: 'criterion', scale: { domain: ['met', 'not met', 'not evaluated'], range: ['#5cb85c', '#e8908c', '#dddddd'] } }, tooltip: [{ field: 'criterion' }, { field: 'model' }, { field: 'text' }, { field: 'note' }] } },
      { mark: { type: 'text', fontSize: 10 }, encoding: { text: { field: 'text' } } },
    ],
  } as TopLevelSpec;
}

async function render(doc: ResultsDoc): Promise<ReportSection> {
  const s = doc.summary as StudySummary;
  const rows = criteriaMatrix(s);
  const matrix: Table = {
    caption: 'Criteria matrix: each roadmap criterion per language (rows) on each model (columns) — met / not met, value, p (after the phase\'s correction), n',
    columns: ['roadmap phase', 'criterion', 'language', ...s.models],
    rows: rows.map((r) => [`${r.roadmapPhase} (${r.phase})`, r.criterion, r.language, ...r.cells.map(cellText)]),
    cellClasses: rows.map((r) => [null, null, null, ...r.cells.map((c) => (c ? (c.met ? 'met' : 'notmet') : 'undecided'))]),
  };
  const replication: Table = {
    caption: 'Replication: met in at least 2 models (same direction, significant after correction in each)',
    columns: ['phase', 'criterion', 'language', 'met in', 'models tested', 'replicates across ≥ 2 models', 'note'],
    rows: s.replication.map((r) => [r.phase, r.criterion, r.language, r.models.length ? r.models.join(', ') : 'none', r.tested, r.replicates, r.note]),
    cellClasses: s.replication.map((r) => [null, null, null, null, null, r.replicates ? 'met' : 'notmet', null]),
  };
  const nMet = s.criteria.filter((c) => c.met).length;
  return {
    title: 'Across models',
    intro: `Study '${s.name}' (config hash ${s.hash}): ${s.models.length} model(s) (${s.models.join(', ')}), ${s.phases.length} phase result(s), ${s.criteria.length} criterion entries of which ${nMet} met; ${s.replication.filter((r) => r.replicates).length} of ${s.replication.length} criteria replicate across ≥ 2 models.`,
    figures: rows.length
      ? [{ id: 'study-criteria-matrix', title: 'Criteria matrix: met / not met per model', caption: 'Each cell is one roadmap criterion (row: P = roadmap phase, [language], criterion) on one model (column): green met, red not met, grey not evaluated; the text gives the p-value after the phase\'s correction (study.json). The table below gives value, p and n.', spec: matrixFigure(s, rows) }]
      : [],
    tables: [matrix, replication],
    criteria: s.replication.map((r) => ({ name: `${REPLICATION}: ${r.criterion} (${r.language})`, source: `roadmap, phase ${r.phase} (study.json)`, met: r.replicates, detail: `met in ${r.models.length ? r.models.join(', ') : 'no model'} of ${r.tested} tested. ${r.note}` })),
    tokenViews: [],
    notes: s.models.length < 2 ? ['one model: no criterion can replicate across models'] : [],
  };
}

export const studyRenderer: KindRenderer = { kind: STUDY_KIND, validate, render };

/** Where a study's phase file is: as written (absolute or relative to the working directory), else under the study's folder (DIR/<model>/<phase>.json). */
export function phasePath(studyPath: string, p: string): string {
  if (isAbsolute(p) || existsSync(p)) return p;
  const tail = p.split(/[\\/]/).slice(-2);
  const alt = join(dirname(studyPath), ...tail);
  return existsSync(alt) ? alt : p;
}

type Part = { doc: ResultsDoc; section: ReportSection; figures: RenderedFigure[] };

/** A built study report: the page, the rendered parts (study first), and what could not be shown. */
export interface BuiltStudyReport {
  html: string;
  parts: Part[];
  notShown: string[];
}

/**
 * The study report: the study document, its phase files (read with `read` unless given among `others`
 * by the same path) and any other results given (an extra part). A phase file that cannot be read or
 * rendered is named in the model's part and in `notShown` instead of failing the whole report.
 */
export async function buildStudyReport(study: ResultsDoc, others: readonly ResultsDoc[], read: (path: string) => ResultsDoc, ctx: RenderContext = {}, title?: string): Promise<BuiltStudyReport> {
  validate(study);
  const s = study.summary as StudySummary;
  const studyPart: Part = { doc: study, section: await render(study), figures: [] };
  studyPart.figures = await renderFigures(studyPart.section.figures);
  const given = new Map(others.map((d) => [d.path, d]));
  const used = new Set<ResultsDoc>();
  const notShown: string[] = [];
  const parts: Part[] = [studyPart];
  const byModel = new Map<string, Array<{ phase: string; part?: Part; error?: string }>>(s.models.map((m) => [m, []]));
  for (const p of s.phases) {
    const path = phasePath(study.path, p.path);
    const entry: { phase: string; part?: Part; error?: string } = { phase: p.phase };
    try {
      const doc = given.get(p.path) ?? given.get(path) ?? read(path);
      used.add(doc);
      const r = rendererFor(doc.header.experiment, doc.path);
      r.validate(doc);
      const section = await r.render(doc, ctx);
      // replication is the study's to decide (cross-model part), not one phase file's
      for (const c of section.criteria) if (c.name === REPLICATION) Object.assign(c, { detail: 'decided across the study\'s models: see "Across models"' });
      entry.part = { doc, section, figures: await renderFigures(section.figures) };
      parts.push(entry.part);
    } catch (e) {
      entry.error = (e as Error).message;
      notShown.push(`${p.path} (${entry.error})`);
    }
    if (!byModel.has(p.model)) byModel.set(p.model, []);
    byModel.get(p.model)!.push(entry);
  }
  const extra: Part[] = [];
  for (const d of others) {
    if (used.has(d)) continue;
    const r = rendererFor(d.header.experiment, d.path);
    r.validate(d);
    const section = await r.render(d, ctx);
    extra.push({ doc: d, section, figures: await renderFigures(section.figures) });
  }
  parts.push(...extra);

  const models = [...byModel.keys()];
  const mAnchor = (i: number) => `model-${i + 1}`;
  const toc = [
    `<li><a href="#cross-model">Across models</a> — criteria matrix, replication</li>`,
    ...models.map((m, i) => `<li><a href="#${mAnchor(i)}">Model ${esc(m)}</a><ul>${byModel.get(m)!.map((e, j) => `<li><a href="#${mAnchor(i)}-p${j + 1}">${esc(e.phase)}</a>${e.error ? ' (not shown)' : ''}</li>`).join('')}</ul></li>`),
    ...(extra.length ? [`<li><a href="#other-results">Other results</a></li>`] : []),
  ].join('');
  const top = '<a class="top" href="#top">↑ contents</a>';
  const crossModel = `<section class="page" id="cross-model" data-page="cross-model">${top}${sectionHtml(studyPart, 'cross-model-study')}</section>`;
  const modelPages = models.map((m, i) => {
    const mine = s.criteria.filter((c) => c.model === m);
    const crit: Table = {
      caption: `Criteria on ${m} (study.json)`,
      columns: ['roadmap phase', 'criterion', 'language', 'met', 'value', '95% CI', 'p', 'n', 'note'],
      rows: mine.map((c): Cell[] => [`${c.roadmapPhase} (${c.phase})`, c.criterion, c.language, c.met ? 'met' : 'not met', c.value, c.ci ? `[${fmt(c.ci.lo)}, ${fmt(c.ci.hi)}]` : null, c.p, c.n, c.note]),
      pColumns: [6],
      cellClasses: mine.map((c) => [null, null, null, c.met ? 'met' : 'notmet', null, null, null, null, null]),
    };
    const phases = byModel.get(m)!.map((e, j) => (e.part ? sectionHtml(e.part, `${mAnchor(i)}-p${j + 1}`) : `<section id="${mAnchor(i)}-p${j + 1}" class="error"><h2>${esc(e.phase)}: not shown</h2><p>${esc(e.error!)}</p></section>`));
    return `<section class="page" id="${mAnchor(i)}" data-page="model" data-model="${esc(m)}">${top}<h2>Model ${esc(m)}</h2>${tableHtml(crit)}\n${phases.join('\n')}</section>`;
  });
  const other = extra.length ? `<section class="page" id="other-results" data-page="other">${top}<h2>Other results</h2>${extra.map((p, i) => sectionHtml(p, `other-${i + 1}`)).join('\n')}</section>` : '';
  const html = pageHtml(title ?? `PLIP study: ${s.name}`, `<ul class="toc">${toc}</ul>`, [crossModel, ...modelPages, other].join('\n'));
  return { html, parts, notShown };
}
