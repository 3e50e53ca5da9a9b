/**
 * The viewer's single page: inline style and script (no framework, no external resource). It talks to the
 * API of server.ts; every error response is shown in the red banner (#error) and the page keeps working.
 *
 * Interaction: click a token to make it the QUERY (the row whose attention is shown and edited);
 * shift-click (or "targets" mode) toggles TARGET keys. Apply runs knockout / amplify(f) / scale(f) / set(ℓ) on
 * the edges query → targets at the chosen layer(s) and head(s) and shows the engine's top-k, KL and
 * greedy continuation against the baseline.
 *
 * @module
 */

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;padding:0 1.2em 2em;color:#222}
header{display:flex;gap:1em;align-items:baseline}h1{font-size:1.3em}
#error{display:none;background:#f8d7d7;border:1px solid #d62728;color:#700;padding:.5em;margin:.5em 0;white-space:pre-wrap}
fieldset{border:1px solid #ddd;margin:.5em 0;padding:.4em .8em}legend{font-weight:600}
textarea{width:100%;font:12px ui-monospace,monospace}
.tokseq{font:13px/1.9 ui-monospace,monospace;white-space:pre-wrap;border:1px solid #ddd;padding:.5em;user-select:none}
.tok{cursor:pointer;border-radius:2px;padding:0 1px}.tok.query{outline:2px solid #d62728}.tok.target{box-shadow:inset 0 -3px #ff7f0e}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:2px 6px}td.num{text-align:right;font-variant-numeric:tabular-nums}
.row{display:flex;gap:1.5em;flex-wrap:wrap;align-items:flex-start}.heat{overflow:auto;max-width:100%}
pre.cont{background:#f6f6f6;padding:.3em;margin:.2em 0;white-space:pre-wrap}
iframe{width:100%;height:80vh;border:1px solid #ccc}
`;

const SCRIPT = String.raw`
const $ = (id) => document.getElementById(id);
const state = { info: null, att: null, query: null, targets: new Set() };
function showError(msg) { const e = $('error'); e.textContent = msg; e.style.display = msg ? 'block' : 'none'; }
async function api(path, body) {
  const r = await fetch(path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  let j; try { j = await r.json(); } catch { j = { error: 'HTTP ' + r.status }; }
  if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status));
  return j;
}
function opt(sel, value, text) { const o = document.createElement('option'); o.value = value; o.textContent = text; sel.appendChild(o); }
async function init() {
  try {
    const info = await api('/api/info'); state.info = info;
    $('model').textContent = info.model.id + ' (' + info.model.nLayers + ' layers x ' + info.model.nHeads + ' heads)';
    for (let l = 0; l < info.model.nLayers; l++) opt($('layer'), l, 'layer ' + l);
    opt($('head'), 'mean', 'mean of heads'); for (let h = 0; h < info.model.nHeads; h++) opt($('head'), h, 'head ' + h);
    opt($('sample'), '', '(type your own)'); info.samples.forEach((s, i) => opt($('sample'), i, s.group + ' / ' + s.id));
    info.results.forEach((f) => opt($('results'), f, f));
    if (info.samples.length) { $('sample').value = '0'; $('text').value = info.samples[0].text; }
  } catch (e) { showError(e.message); }
}
function colour(x) { const c = (w, b) => Math.round(w + (b - w) * x); return 'rgb(' + c(255, 33) + ',' + c(255, 102) + ',' + c(255, 172) + ')'; }
function drawTokens() {
  const a = state.att; const box = $('tokens'); box.textContent = '';
  if (!a) return;
  const L = Number($('layer').value), hv = $('head').value;
  const row = hv === 'mean' ? a.fromQuery[L][0].map((_, k) => a.fromQuery[L].reduce((s, r) => s + r[k], 0) / a.fromQuery[L].length) : a.fromQuery[L][Number(hv)];
  const max = Math.max(1e-12, ...row);
  a.tokens.forEach((t, i) => {
    const s = document.createElement('span'); const x = Math.min(1, row[i] / max);
    s.className = 'tok' + (i === state.query ? ' query' : '') + (state.targets.has(i) ? ' target' : '');
    s.style.background = colour(x); s.style.color = x > 0.55 ? '#fff' : '#000';
    s.textContent = t.replace(/\n/g, '\u21b5\n'); s.title = 'token ' + i + ' ' + JSON.stringify(t) + ' attention ' + row[i].toFixed(4);
    s.dataset.i = i;
    s.onclick = (ev) => { if (ev.shiftKey || $('mode-targets').checked) { state.targets.has(i) ? state.targets.delete(i) : state.targets.add(i); drawTokens(); drawEdges(); } else { state.query = i; state.targets.clear(); analyze(); } };
    box.appendChild(s);
  });
  $('attlabel').textContent = 'attention from token ' + a.query + ' at layer ' + L + ', ' + (hv === 'mean' ? 'mean of heads' : 'head ' + hv) + ' (max ' + max.toFixed(4) + ')';
}
function drawEdges() { $('edges').textContent = state.query === null ? 'none' : state.query + ' -> [' + [...state.targets].sort((a, b) => a - b).join(', ') + ']'; }
async function analyze() {
  showError('');
  try {
    const body = { text: $('text').value, layer: Number($('layer').value), head: $('head').value === 'mean' ? 'mean' : Number($('head').value) };
    if (state.query !== null) body.query = state.query;
    const a = await api('/api/attention', body); state.att = a; state.query = a.query;
    drawTokens(); drawEdges();
    $('heat-query').innerHTML = a.heatmapQuery; $('heat-pattern').innerHTML = a.heatmapPattern;
    $('status').textContent = 'analyzed ' + a.tokens.length + ' tokens';
  } catch (e) { showError(e.message); }
}
function predTable(el, base, edit) {
  const rows = ['<tr><th>rank</th><th>baseline token</th><th>id</th><th>p</th><th>intervened token</th><th>id</th><th>p</th></tr>'];
  const esc = (s) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  for (let i = 0; i < base.length; i++) {
    const b = base[i], e = edit[i];
    rows.push('<tr data-rank="' + (i + 1) + '"><td class="num">' + (i + 1) + '</td><td><code>' + esc(JSON.stringify(b.token)) + '</code></td><td class="num" data-col="base-id">' + b.id + '</td><td class="num" data-col="base-p">' + b.prob.toFixed(6) +
      '</td><td><code>' + esc(JSON.stringify(e.token)) + '</code></td><td class="num" data-col="edit-id">' + e.id + '</td><td class="num" data-col="edit-p">' + e.prob.toFixed(6) + '</td></tr>');
  }
  el.innerHTML = rows.join('');
}
async function apply() {
  showError('');
  try {
    if (state.query === null || state.targets.size === 0) throw new Error('select an edge first: click a query token, then shift-click one or more target tokens');
    const kind = $('kind').value; const v = Number($('value').value);
    const L = Number($('layer').value), hv = $('head').value;
    const body = { text: $('text').value, kind, layers: $('scope-layers').value === 'all' ? 'all' : [L], heads: hv === 'mean' || $('scope-heads').value === 'all' ? 'all' : [Number(hv)],
      edges: [{ sources: [state.query], targets: [...state.targets].sort((a, b) => a - b) }], topK: 10, maxNewTokens: 12 };
    if (kind === 'scale' || kind === 'amplify') body.factor = v; if (kind === 'set') body.level = v;
    $('status').textContent = 'running...';
    const r = await api('/api/intervene', body);
    predTable($('predictions'), r.baseline.topk, r.intervened.topk);
    $('kl').textContent = r.kl.toExponential(4); $('top1').textContent = r.top1Changed ? 'yes' : 'no'; $('nedges').textContent = r.edges;
    $('cont-base').textContent = r.baseline.continuation; $('cont-edit').textContent = r.intervened.continuation;
    $('status').textContent = 'applied ' + kind + ' to ' + r.edges + ' edge(s)';
  } catch (e) { showError(e.message); $('status').textContent = 'error'; }
}
async function openReport() {
  showError('');
  try { const r = await api('/api/report?file=' + encodeURIComponent($('results').value)); $('report').srcdoc = r.html; $('report').style.display = 'block'; }
  catch (e) { showError(e.message); }
}
window.addEventListener('DOMContentLoaded', () => {
  $('sample').onchange = () => { const i = $('sample').value; if (i !== '') $('text').value = state.info.samples[Number(i)].text; state.query = null; state.targets.clear(); analyze(); };
  $('analyze').onclick = () => { state.query = null; state.targets.clear(); analyze(); };
  $('layer').onchange = analyze; $('head').onchange = analyze;
  $('apply').onclick = apply; $('open').onclick = openReport;
  $('kind').onchange = () => { const k = $('kind').value; $('value').disabled = k === 'knockout'; $('value').value = k === 'scale' || k === 'amplify' ? '2' : k === 'set' ? '0.5' : ''; };
  init().then(() => { if ($('text').value) analyze(); });
});
`;

/** The page HTML (static; all data comes from the API). */
export function viewerPage(): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>plip view</title><style>${CSS}</style></head><body>
<header><h1>plip view</h1><span id="model"></span><span id="status"></span></header>
<div id="error" role="alert"></div>
<fieldset><legend>Input</legend>
<label>sample <select id="sample"></select></label> <button id="analyze">analyze</button>
<textarea id="text" rows="6" spellcheck="false"></textarea></fieldset>
<fieldset><legend>Attention</legend>
<label>layer <select id="layer"></select></label> <label>head <select id="head"></select></label>
<label><input type="radio" name="mode" id="mode-query" checked> click sets the query</label> <label><input type="radio" name="mode" id="mode-targets"> click toggles targets (or shift-click)</label>
<div><small id="attlabel"></small></div><div class="tokseq" id="tokens"></div>
<div class="row"><div class="heat" id="heat-query"></div><div class="heat" id="heat-pattern"></div></div></fieldset>
<fieldset><legend>Intervention</legend>
edges <code id="edges">none</code>
<label>kind <select id="kind"><option value="knockout">knockout</option><option value="amplify">amplify(f) (logit basis)</option><option value="scale">scale(f) (mass)</option><option value="set">set(ℓ)</option></select></label>
<label>value <input id="value" size="5" disabled></label>
<label>layers <select id="scope-layers"><option value="one">selected layer</option><option value="all">all layers</option></select></label>
<label>heads <select id="scope-heads"><option value="one">selected head</option><option value="all">all heads</option></select></label>
<button id="apply">apply</button>
<p>KL(baseline ‖ intervened) = <b id="kl">—</b> nats · top-1 changed: <b id="top1">—</b> · edges edited: <b id="nedges">—</b></p>
<table id="predictions"></table>
<div>greedy continuation, baseline:<pre class="cont" id="cont-base"></pre>intervened:<pre class="cont" id="cont-edit"></pre></div></fieldset>
<fieldset><legend>Results file</legend><select id="results"></select> <button id="open">open report</button>
<iframe id="report" sandbox="" style="display:none" title="report"></iframe></fieldset>
<script>${SCRIPT}</script></body></html>
`;
}
