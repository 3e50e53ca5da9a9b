/**
 * The study report (real small study of both organisms, fixtures/study): one part per model holding that
 * model's phase reports, one cross-model part whose criteria matrix equals study.json's criteria cell for
 * cell (and follows an edit of them), the replication table, a heatmap figure with marks; study.json is
 * validated (field named); a missing phase file is named, not fatal; `writeStudyOutputs` and
 * `plip report study.json [phase.json …]` build it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildReport, parseResults, readResults } from '../../src/report/html/build.ts';
import { fmt } from '../../src/report/html/page.ts';
import type { StudySummary } from '../../src/study/criteria.ts';
import { writeStudyOutputs } from '../../src/study/output.ts';
import { EXTERNAL_URL, RESULTS, STUDY } from './fixtures.ts';

const study = (): StudySummary => JSON.parse(readFileSync(STUDY, 'utf8'));
const strip = (s: string) => s.replace(/<[^>]+>/g, '').replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The cross-model criteria matrix parsed from the page: [criterion, language] → model → {text, cls}. */
function parseMatrix(html: string, models: string[]): Map<string, Map<string, { text: string; cls: string }>> {
  const cross = html.slice(html.indexOf('<section class="page" id="cross-model"'), html.indexOf('<section class="page" id="model-1"'));
  const table = cross.match(/<table><caption>Criteria matrix[\s\S]*?<\/table>/)![0];
  const head = [...table.match(/<thead>([\s\S]*?)<\/thead>/)![1]!.matchAll(/<th>([\s\S]*?)<\/th>/g)].map((m) => strip(m[1]!));
  assert.deepEqual(head, ['roadmap phase', 'criterion', 'language', ...models]);
  const out = new Map<string, Map<string, { text: string; cls: string }>>();
  for (const tr of table.match(/<tbody>([\s\S]*?)<\/tbody>/)![1]!.matchAll(/<tr>([\s\S]*?)<\/tr>/g)) {
    const tds = [...tr[1]!.matchAll(/<td class="([^"]*)">([\s\S]*?)<\/td>/g)].map((m) => ({ cls: m[1]!, text: strip(m[2]!) }));
    const key = JSON.stringify([tds[1]!.text, tds[2]!.text]);
    assert.ok(!out.has(key), `one row per criterion × language: ${key}`);
    out.set(key, new Map(models.map((m, i) => [m, tds[3 + i]!])));
  }
  return out;
}

/** What study.json says each cell must show (independent of the renderer's grouping). */
function expectMatrix(s: StudySummary): Map<string, Map<string, { text: string; cls: string }>> {
  const out = new Map<string, Map<string, { text: string; cls: string }>>();
  for (const c of s.criteria) {
    const key = JSON.stringify([c.criterion, c.language]);
    if (!out.has(key)) out.set(key, new Map(s.models.map((m) => [m, { text: 'not evaluated', cls: 'undecided' }])));
    out.get(key)!.set(c.model, { text: `${c.met ? 'met' : 'not met'} · value ${fmt(c.value)} · p ${fmt(c.p, true)} · n ${c.n}`, cls: c.met ? 'met' : 'notmet' });
  }
  return out;
}

test('study report: a part per model with its phase reports, a cross-model part, matrix = study.json criteria', async () => {
  const s = study();
  assert.ok(s.models.length >= 2 && s.criteria.length > 10, 'the fixture is a real two-model study');
  const r = await buildReport([readResults(STUDY)]);
  assert.deepEqual(r.notShown, []);
  assert.equal(EXTERNAL_URL.exec(r.html), null);
  // table of contents: anchors to the cross-model part, each model and each of its phases
  assert.match(r.html, /<nav><ul class="toc"><li><a href="#cross-model">/);
  const pages = [...r.html.matchAll(/<section class="page" id="([^"]+)" data-page="([^"]+)"(?: data-model="([^"]+)")?>/g)].map((m) => [m[1], m[2], m[3]]);
  assert.deepEqual(pages, [['cross-model', 'cross-model', undefined], ...s.models.map((m, i) => [`model-${i + 1}`, 'model', m])]);
  for (const [i, m] of s.models.entries()) {
    assert.ok(r.html.includes(`href="#model-${i + 1}"`));
    const start = r.html.indexOf(`<section class="page" id="model-${i + 1}"`);
    const end = r.html.indexOf('<section class="page"', start + 10);
    const page = r.html.slice(start, end < 0 ? undefined : end);
    const mine = s.phases.filter((p) => p.model === m);
    const kinds = mine.map((p) => JSON.parse(readFileSync(p.path, 'utf8')).header.experiment);
    assert.deepEqual([...page.matchAll(/<section id="model-\d+-p\d+" data-kind="([^"]+)"/g)].map((x) => x[1]), kinds, m);
    assert.ok((page.match(/<figure class="figure"/g) ?? []).length >= 2 * mine.length, `${m}: the phases' figures`);
    for (const p of mine) assert.ok(page.includes(p.path), `${m}: provenance names ${p.path}`);
  }
  assert.deepEqual(parseMatrix(r.html, s.models), expectMatrix(s));
  // replication table: one row per entry, replicates yes/no with the note
  const rep = r.html.match(/<table><caption>Replication[\s\S]*?<\/table>/)![0];
  const rows = [...rep.matchAll(/<tr>(<td[\s\S]*?)<\/tr>/g)].map((m) => [...m[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((x) => strip(x[1]!)));
  assert.deepEqual(rows.map((x) => [x[1], x[2], x[5], x[6]]), s.replication.map((x) => [x.criterion, x.language, x.replicates ? 'yes' : 'no', x.note]));
  // the matrix figure: one rect per criterion × model
  const fig = r.parts[0]!.figures.find((f) => f.id === 'study-criteria-matrix')!;
  assert.ok((fig.svg.match(/<path/g) ?? []).length >= expectMatrix(s).size * s.models.length);
  const cells = (r.parts[0]!.section.figures[0]!.spec as { data: { values: Array<{ criterion: string; model: string; status: string }> } }).data.values;
  assert.equal(cells.length, expectMatrix(s).size * s.models.length);
  for (const c of s.criteria) {
    const hit = cells.filter((x) => x.model === c.model && x.criterion === `P${c.roadmapPhase} [${c.language}] ${c.criterion}`);
    assert.deepEqual(hit.map((x) => x.status), [c.met ? 'met' : 'not met'], `${c.model} ${c.criterion} ${c.language}`);
  }
});

test('study report: the matrix follows study.json (an edited criterion changes its cell)', async () => {
  const s = study();
  const c = s.criteria.find((x) => x.model === s.models[1])!;
  c.met = !c.met;
  c.p = 0.000123;
  const r = await buildReport([parseResults(JSON.stringify(s), STUDY)]);
  const got = parseMatrix(r.html, s.models);
  assert.deepEqual(got, expectMatrix(s));
  assert.equal(got.get(JSON.stringify([c.criterion, c.language]))!.get(c.model)!.text.split(' · ')[0], c.met ? 'met' : 'not met');
  assert.match(got.get(JSON.stringify([c.criterion, c.language]))!.get(c.model)!.text, /p 1\.23e-4/);
  // a criterion evaluated on one model only: the other column says so
  const only = { ...s, criteria: s.criteria.filter((x) => !(x.model === s.models[0] && x.phase === 'transplant')) };
  const m = parseMatrix((await buildReport([parseResults(JSON.stringify(only), STUDY)])).html, s.models);
  const t = s.criteria.find((x) => x.phase === 'transplant')!;
  assert.equal(m.get(JSON.stringify([t.criterion, t.language]))!.get(s.models[0]!)!.text, 'not evaluated');
});

test('study report: bad study.json names the field; a missing phase file is named, not fatal', async () => {
  const s = study();
  (s.criteria[2] as { met: unknown }).met = 'yes';
  await assert.rejects(buildReport([parseResults(JSON.stringify(s), 'bad-study.json')]), /bad-study\.json: not a valid study summary .*criteria\.2\.met/);
  const t = study();
  delete (t as Partial<StudySummary>).replication;
  await assert.rejects(buildReport([parseResults(JSON.stringify(t), 'bad2.json')]), /bad2\.json: .*replication/);
  await assert.rejects(buildReport([readResults(STUDY), readResults(STUDY)]), /one study summary per report/);
  const u = study();
  u.phases[1]!.path = 'no/such/organism/preservation.json';
  const r = await buildReport([parseResults(JSON.stringify(u), 'moved/study.json')]);
  assert.equal(r.notShown!.length, 1);
  assert.match(r.notShown![0]!, /no\/such\/organism\/preservation\.json \(.*file not found\)/);
  assert.match(r.html, /<h2>preservation: not shown<\/h2>/);
});

test('writeStudyOutputs and plip report study.json [phase.json …]: the same study report', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'plip-study-report-'));
  const w = await writeStudyOutputs(dir, study());
  assert.deepEqual(w.notShown, []);
  const html = readFileSync(w.report, 'utf8');
  assert.deepEqual(parseMatrix(html, study().models), expectMatrix(study()));
  assert.match(html, /<title>PLIP study: report-fixture<\/title>/);

  const s = study();
  const out = join(dir, 'cli.html');
  const cli = spawnSync(process.execPath, ['bin/plip.mjs', 'report', STUDY, s.phases[0]!.path, RESULTS.steer, '-o', out], { encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  const h = readFileSync(out, 'utf8');
  assert.deepEqual(parseMatrix(h, s.models), expectMatrix(s));
  // the phase file given again is not shown twice; a result outside the study gets its own part
  assert.equal((h.match(/<section id="model-\d+-p\d+"/g) ?? []).length, s.phases.length);
  assert.match(h, /<section class="page" id="other-results" data-page="other">[\s\S]*data-kind="steer"/);
});
