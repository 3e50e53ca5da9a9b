/**
 * The self-contained HTML page of a report: inline CSS, inline SVG figures, tables, success criteria,
 * CircuitsVis-style coloured tokens and provenance. No script, no external resource, no URL.
 *
 * @module
 */
import { inlineSvg, type RenderedFigure } from './figure.ts';
import type { Cell, Criterion, ReportSection, ResultsDoc, Table, TokenAttention } from './types.ts';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Numbers for tables: 4 significant digits; p-values below 1e-3 in scientific notation. */
export function fmt(v: Cell, isP = false): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && !isP) return String(v);
  if (isP && v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(2);
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(2);
  return Number(v.toPrecision(4)).toString();
}

export function tableHtml(t: Table): string {
  const p = new Set(t.pColumns ?? []);
  const head = t.columns.map((c) => `<th>${esc(c)}</th>`).join('');
  const body = t.rows
    .map((r, j) => `<tr>${r.map((c, i) => `<td class="${[typeof c === 'number' ? 'num' : '', t.cellClasses?.[j]?.[i] ?? ''].filter(Boolean).join(' ')}">${esc(fmt(c, p.has(i)))}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table><caption>${esc(t.caption)}</caption><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function criteriaHtml(cs: readonly Criterion[]): string {
  if (cs.length === 0) return '';
  const rows = cs
    .map((c) => {
      const cls = c.met === true ? 'met' : c.met === false ? 'notmet' : 'undecided';
      const word = c.met === true ? 'met' : c.met === false ? 'not met' : 'not decidable here';
      return `<tr><td>${esc(c.name)}</td><td>${esc(c.source)}</td><td class="${cls}">${word}</td><td>${esc(c.detail)}</td></tr>`;
    })
    .join('\n');
  return `<table class="criteria"><caption>Success criteria</caption><thead><tr><th>criterion</th><th>source</th><th>status</th><th>evidence</th></tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

/** CircuitsVis `colored_tokens` look: each token's background is white → blue by value / max value; hover shows the value. */
export function tokenViewHtml(v: TokenAttention): string {
  const max = Math.max(1e-12, ...v.values);
  const hl = new Set(v.highlight);
  const spans = v.tokens
    .map((t, i) => {
      const a = v.values[i] ?? 0;
      const x = Math.min(1, a / max);
      // interpolate white (255,255,255) → rgb(33,102,172)
      const c = (w: number, b: number) => Math.round(w + (b - w) * x);
      const bg = `rgb(${c(255, 33)},${c(255, 102)},${c(255, 172)})`;
      const fg = x > 0.55 ? '#fff' : '#000';
      const cls = ['tok', i === v.query ? 'query' : '', hl.has(i) ? 'target' : ''].filter(Boolean).join(' ');
      const shown = t.replace(/\n/g, '↵\n').replace(/\t/g, '→\t');
      return `<span class="${cls}" style="background:${bg};color:${fg}" title="token ${i}: ${esc(JSON.stringify(t))} attention ${a.toFixed(4)}">${esc(shown)}</span>`;
    })
    .join('');
  return `<figure class="tokens"><figcaption>Sample <code>${esc(v.sampleId)}</code>: attention from token ${v.query} (boxed) — ${esc(v.label)}. Colour ∝ attention / max (${max.toFixed(4)}); underlined = target tokens.</figcaption><div class="tokseq">${spans}</div></figure>`;
}

function provenanceHtml(doc: ResultsDoc): string {
  const h = doc.header;
  const m = h.model ?? {};
  const rows: Array<[string, string]> = [
    ['results file', doc.path],
    ['experiment', `${h.experiment} (schema ${h.schemaVersion ?? '?'})`],
    ['tool', h.tool ? `${h.tool.name} ${h.tool.version}` : '—'],
    ['model', `${m.id ?? '—'}${m.family ? ` (${m.family}, ${m.nLayers} layers × ${m.nHeads} heads, backend ${m.backend})` : ''}`],
    ['model revision', [m.revision, m.commitHash].filter(Boolean).join(' @ ') || '— (local directory)'],
    ['model config sha256', m.configHash ?? '—'],
    ['corpus / prompts', h.corpus ? `${h.corpus.path} (${h.corpus.nSamples} samples)` : '—'],
    ['corpus / prompts sha256', h.corpus?.sha256 ?? '—'],
    ['seed', h.seed === null || h.seed === undefined ? '—' : String(h.seed)],
    ['settings', JSON.stringify(h.settings ?? {})],
    ['command', h.argv ? `plip ${h.argv.join(' ')}` : '—'],
    ['started', h.startedAt ?? '—'],
  ];
  return `<table class="prov"><caption>Provenance</caption><tbody>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td><code>${esc(v)}</code></td></tr>`).join('')}</tbody></table>`;
}

const CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;color:#222}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.8em 0;font-size:12px}caption{text-align:left;font-weight:600;padding:.3em 0}
td,th{border:1px solid #ddd;padding:2px 6px;vertical-align:top}th{background:#f4f4f4;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.met{background:#d9f2d9;font-weight:600}td.notmet{background:#f8d7d7;font-weight:600}td.undecided{background:#eee}
table.prov td code{white-space:pre-wrap;word-break:break-all}
figure{margin:1em 0}figcaption{font-size:12px;color:#444;max-width:900px}
.figure svg{max-width:100%;height:auto}
.tokseq{font:13px/1.9 ui-monospace,monospace;white-space:pre-wrap;border:1px solid #ddd;padding:.5em;margin-top:.3em}
.tok{border-radius:2px;padding:0 1px}.tok.query{outline:2px solid #d62728}.tok.target{text-decoration:underline 2px #ff7f0e}
ul.notes{font-size:12px;color:#555}nav ul{columns:2}
section.page{border-top:3px solid #888;margin-top:2.5em}section.page>h2{border:0;font-size:1.35em}ul.toc ul{columns:1}a.top{font-size:12px;float:right}
@media print{section.page{break-before:page}}
`;

type Part = { doc: ResultsDoc; section: ReportSection; figures: RenderedFigure[] };

/** One results file's section (`<section id=anchor>`): criteria, figures, token views, tables, provenance, notes. */
export function sectionHtml({ doc, section: s, figures }: Part, anchor: string, heading: 'h2' | 'h3' = 'h2'): string {
  const figs = figures
    .map((f) => `<figure class="figure" id="${anchor}-${esc(f.id)}" data-figure="${esc(f.id)}"><h3>${esc(f.title)}</h3>${inlineSvg(f.svg)}<figcaption>${esc(f.caption)}</figcaption></figure>`)
    .join('\n');
  const tokens = s.tokenViews.map(tokenViewHtml).join('\n');
  const notes = s.notes.length ? `<h3>Notes</h3><ul class="notes">${s.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '';
  return `<section id="${anchor}" data-kind="${esc(doc.header.experiment)}"><${heading}>${esc(s.title)}</${heading}><p>${esc(s.intro)}</p>
${criteriaHtml(s.criteria)}
${figs}
${tokens}
${s.tables.map(tableHtml).join('\n')}
${provenanceHtml(doc)}
${notes}</section>`;
}

/** The page around a body: head with inline CSS, title, table of contents. */
export function pageHtml(title: string, navHtml: string, body: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title><style>${CSS}</style></head>
<body><h1 id="top">${esc(title)}</h1><nav>${navHtml}</nav>
${body}
<footer><small>Generated by plip report. Self-contained: figures are inline SVG rendered by Vega-Lite/vega; no scripts, no external resources.</small></footer></body></html>
`;
}

/** The report page for the rendered sections (one per results file, in the order given). */
export function reportHtml(parts: ReadonlyArray<Part>, title = 'PLIP report'): string {
  const anchor = (i: number) => `r${i + 1}`;
  const nav = parts.map((p, i) => `<li><a href="#${anchor(i)}">${esc(p.section.title)}</a> <small>(${esc(p.doc.path)})</small></li>`).join('');
  return pageHtml(title, `<ul>${nav}</ul>`, parts.map((p, i) => sectionHtml(p, anchor(i))).join('\n'));
}
