/**
 * plip view in headless Chromium (Debian chromium via playwright-core; one browser for the file), with
 * the organism models/plip-tiny-code served on an ephemeral port of 127.0.0.1: pick a sample, choose a
 * layer and head, knock out edges from the prediction token to the function-name tokens, and check the
 * prediction table, KL and continuation against the engine (forwardWithIntervention / generate computed
 * here); then bad requests (unknown layer/head, empty, oversized, malformed JSON, a path outside the
 * allowed directory, a flood) — each shown in the page while the server keeps serving; a results file
 * opened as a report. Screenshots go to test-artifacts/ (docs/img/viewer.png is viewer.png).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadModel } from '../../src/model/load.ts';
import type { HookedModel } from '../../src/model/model.ts';
import { loadCopyingPrompts } from '../../src/corpus/prompts.ts';
import { forwardWithIntervention } from '../../src/interventions/forward.ts';
import { attentionEdit } from '../../src/interventions/attention.ts';
import { generate } from '../../src/generate/generate.ts';
import { startViewer, type Viewer } from '../../src/view/server.ts';

const CHROMIUM = process.env.PLIP_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = resolve('test-artifacts');
let browser: Browser;
let model: HookedModel;
let viewer: Viewer;
const prompts = loadCopyingPrompts('training/eval/eval_prompts.json').slice(0, 12);

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  model = await loadModel('models/plip-tiny-code');
  viewer = await startViewer({ model, samples: prompts.map((p) => ({ id: p.id, group: p.group, text: p.prompt })), resultsDir: 'training/logs', port: 0, maxQueue: 1, maxChars: 4000 });
  browser = await chromium.launch({ executablePath: CHROMIUM });
});
after(async () => {
  await browser?.close();
  await viewer?.close();
});

/** Tokens of the first occurrence of the function name in the prompt (its definition). */
function nameTokens(text: string, name: string): number[] {
  const enc = model.tokenizer!.encodeWithOffsets(text);
  const at = [...text].findIndex((_, i) => [...text].slice(i, i + name.length).join('') === name);
  return enc.offsets.flatMap(([s, e], i) => (!enc.special[i] && s < at + name.length && e > at ? [i] : []));
}

async function tableRows(page: Page) {
  return page.locator('#predictions tr[data-rank]').evaluateAll((rows) =>
    rows.map((r) => ({
      baseId: Number(r.querySelector('[data-col="base-id"]')!.textContent),
      baseP: r.querySelector('[data-col="base-p"]')!.textContent,
      editId: Number(r.querySelector('[data-col="edit-id"]')!.textContent),
      editP: r.querySelector('[data-col="edit-p"]')!.textContent,
    })),
  );
}

test('viewer: pick a sample, choose layer and head, knock out edges; the table is what the engine computes', async () => {
  const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
  page.setDefaultTimeout(120_000); // the machine is shared: waits are generous, nothing asserts on time
  const errors: string[] = [];
  const external: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => !r.url().startsWith(viewer.url) && external.push(r.url()));
  await page.goto(viewer.url);
  await page.locator('#tokens .tok').first().waitFor();

  const sampleIdx = 1;
  const p = prompts[sampleIdx]!;
  const ids = model.tokenizer!.encode(p.prompt);
  const last = ids.length - 1;
  const targets = nameTokens(p.prompt, p.name);
  assert.ok(targets.length >= 1, 'name tokens found');
  // the head of layer 3 whose knockout of these edges moves the prediction most (the engine decides)
  const spec = (h: number) => ({ kind: 'knockout' as const, layers: [3], heads: [h], edges: [{ sources: [last], targets }] });
  const kls = [...Array(model.spec.nHeads).keys()].map((h) => forwardWithIntervention(model, ids, spec(h), { topK: 10 }).metrics.kl);
  const head = kls.indexOf(Math.max(...kls));
  assert.ok(kls[head]! > 1e-3, `some head matters (KL ${kls[head]})`);

  await page.selectOption('#sample', String(sampleIdx));
  await page.waitForFunction((n) => document.querySelectorAll('#tokens .tok').length === n, ids.length);
  await page.selectOption('#layer', '3');
  await page.selectOption('#head', String(head));
  await page.locator('#heat-pattern').getByText(`Pattern, layer 3, head ${head}`).waitFor();
  assert.ok((await page.locator('#heat-query svg g.mark-rect path').count()) > 0, 'layer × head heatmap drawn');
  assert.equal(await page.locator('#tokens .tok.query').getAttribute('data-i'), String(last), 'query = prediction token');
  await page.check('#mode-targets');
  for (const t of targets) await page.click(`#tokens .tok[data-i="${t}"]`);
  assert.equal(await page.locator('#edges').textContent(), `${last} -> [${targets.join(', ')}]`);
  await page.click('#apply');
  await page.locator('#status').getByText('applied knockout').waitFor();

  const want = forwardWithIntervention(model, ids, spec(head), { topK: 10 });
  const rows = await tableRows(page);
  assert.deepEqual(
    rows,
    want.metrics.topkBaseline.map((b, i) => ({ baseId: b.id, baseP: b.prob.toFixed(6), editId: want.metrics.topkIntervened[i]!.id, editP: want.metrics.topkIntervened[i]!.prob.toFixed(6) })),
  );
  assert.ok(rows.some((r) => r.baseP !== r.editP || r.baseId !== r.editId), 'the knockout changed the table');
  assert.equal(await page.locator('#kl').textContent(), want.metrics.kl.toExponential(4));
  assert.equal(await page.locator('#top1').textContent(), want.metrics.top1Changed ? 'yes' : 'no');
  const cont = (hooks: ReturnType<typeof attentionEdit>) => model.tokenizer!.decode(generate(model, ids, { maxTokens: 12, hooks }).ids, { skipSpecialTokens: true });
  assert.equal(await page.locator('#cont-base').textContent(), cont([]));
  assert.equal(await page.locator('#cont-edit').textContent(), cont(attentionEdit(want.edits)));
  assert.equal(await page.locator('#error').isVisible(), false);
  await page.screenshot({ path: join(ARTIFACTS, 'viewer.png'), fullPage: true });
  assert.deepEqual(errors, []);
  assert.deepEqual(external, []);

  // amplify ×4 of the same edges, then set(0.9): the table follows the engine again
  for (const [kind, v, extra] of [['amplify', '4', { factor: 4 }], ['set', '0.9', { level: 0.9 }]] as const) {
    await page.selectOption('#kind', kind);
    await page.fill('#value', v);
    await page.click('#apply');
    await page.locator('#status').getByText(`applied ${kind}`).waitFor();
    const w = forwardWithIntervention(model, ids, { ...spec(head), kind, ...extra }, { topK: 10 });
    assert.deepEqual(
      await tableRows(page),
      w.metrics.topkBaseline.map((b, i) => ({ baseId: b.id, baseP: b.prob.toFixed(6), editId: w.metrics.topkIntervened[i]!.id, editP: w.metrics.topkIntervened[i]!.prob.toFixed(6) })),
      kind,
    );
    assert.equal(await page.locator('#kl').textContent(), w.metrics.kl.toExponential(4), kind);
  }

  // a results file opened in the page: its report, rendered in the iframe
  await page.selectOption('#results', 'plip_knockout.json');
  await page.click('#open');
  const frame = page.frameLocator('#report');
  await frame.locator('figure.figure svg').first().waitFor();
  assert.ok((await frame.locator('figure.figure svg g.mark-symbol path').count()) > 10);
  await page.close();
});

test('viewer: bad requests show an error in the page and the server keeps serving', async () => {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  page.setDefaultTimeout(120_000);
  await page.goto(viewer.url);
  await page.locator('#tokens .tok').first().waitFor();
  const shown = async (call: string) => {
    await page.evaluate(`api(${call}).then(() => showError('NO ERROR'), (e) => showError(e.message))`);
    await page.locator('#error').waitFor({ state: 'visible' });
    return page.locator('#error').textContent();
  };
  const text = JSON.stringify(prompts[0]!.prompt);
  assert.match((await shown(`'/api/attention', { text: ${text}, layer: 4, head: 0 }`))!, /layer: unknown layer 4 \(the model has layers 0\.\.3\)/);
  assert.match((await shown(`'/api/attention', { text: ${text}, layer: 0, head: 6 }`))!, /head: unknown head 6 \(the model has heads 0\.\.5\)/);
  assert.match((await shown(`'/api/intervene', { text: ${text}, kind: 'knockout', layers: [0], heads: [9], edges: [{ sources: [3], targets: [1] }] }`))!, /head: unknown head 9/);
  assert.match((await shown(`'/api/intervene', { text: ${text}, kind: 'knockout', layers: [0], heads: 'all', edges: [{ sources: [2], targets: [5] }] }`))!, /future|masked|after/i);
  assert.match((await shown(`'/api/attention', '{"text": "def f(',`))!, /malformed JSON body/);
  assert.match((await shown(`'/api/attention', { text: 'x'.repeat(5000), layer: 0, head: 0 }`))!, /5000 characters, more than the viewer's limit of 4000/);
  assert.match((await shown(`'/api/report?file=' + encodeURIComponent('../../package.json')`))!, /outside the allowed results directory/);
  assert.match((await shown(`'/api/report?file=' + encodeURIComponent('/etc/passwd')`))!, /outside the allowed results directory|not found/);
  // empty input through the UI
  await page.selectOption('#sample', '');
  await page.fill('#text', '   ');
  await page.click('#analyze');
  await page.locator('#error').getByText('empty input').waitFor();

  // a flood from the browser (another process: it keeps sending while the server computes): 12 concurrent
  // requests against a queue of 1 (+1 running) — some refused with 429 and a message, none lost or garbled
  const body = JSON.stringify({ text: prompts[0]!.prompt, kind: 'knockout', layers: 'all', heads: 'all', edges: [{ sources: [10], targets: [2, 3] }], maxNewTokens: 8 });
  const res = (await page.evaluate(
    (b) => Promise.all([...Array(12)].map(() => fetch('/api/intervene', { method: 'POST', headers: { 'content-type': 'application/json' }, body: b }).then(async (r) => ({ status: r.status, body: await r.json() })))),
    body,
  )) as Array<{ status: number; body: { error?: string; kl?: number } }>;
  const refused = res.filter((r) => r.status === 429);
  assert.ok(refused.length > 0, `some requests refused: ${JSON.stringify(res.map((r) => r.status))}`);
  assert.ok(refused.every((r) => /busy/.test(r.body.error!)));
  assert.ok(res.every((r) => r.status === 200 || r.status === 429), JSON.stringify(res.map((r) => r.status)));
  const kls = new Set(res.filter((r) => r.status === 200).map((r) => r.body.kl));
  assert.equal(kls.size, 1, 'every served request got the same answer');

  // still serving, and the page still works
  await page.selectOption('#sample', '0');
  await page.waitForFunction(() => document.getElementById('error')!.style.display === 'none' && document.querySelectorAll('#tokens .tok').length > 5);
  const info = await fetch(`${viewer.url}api/info`);
  assert.equal(info.status, 200);
  await page.screenshot({ path: join(ARTIFACTS, 'viewer-error.png') });
  await page.close();
});

test('viewer: bound to 127.0.0.1 only; a foreign Host header or a non-JSON POST is refused', async () => {
  const a = viewer.server.address();
  assert.ok(a && typeof a === 'object' && a.address === '127.0.0.1', JSON.stringify(a));
  const raw = (headers: Record<string, string>, method = 'GET', body = '') =>
    new Promise<{ status: number; body: string }>((res, rej) => {
      const req = request({ host: '127.0.0.1', port: viewer.port, path: method === 'GET' ? '/api/info' : '/api/attention', method, headers }, (r) => {
        let b = '';
        r.on('data', (d) => (b += d));
        r.on('end', () => res({ status: r.statusCode!, body: b }));
      });
      req.on('error', rej);
      req.end(body);
    });
  const rebound = await raw({ host: `attacker.example:${viewer.port}` });
  assert.equal(rebound.status, 403);
  assert.match(rebound.body, /Host 'attacker\.example:\d+' refused/);
  const form = await raw({ host: `127.0.0.1:${viewer.port}`, 'content-type': 'text/plain' }, 'POST', JSON.stringify({ text: 'x', layer: 0, head: 0 }));
  assert.equal(form.status, 415);
  assert.equal((await raw({ host: `localhost:${viewer.port}` })).status, 200);
});
