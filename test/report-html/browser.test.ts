/**
 * Reports in headless Chromium (Debian chromium via playwright-core; one browser for the file): the
 * report of each committed organism result kind loads from file://, every figure is an SVG with drawn
 * marks, there are no console errors, no request leaves the page, and a screenshot is saved to
 * test-artifacts/report-<kind>.png (docs/img/report.png is the scan one). The study report (fixtures/study):
 * every figure of every part drawn, the contents' anchors bring each part to the top, no console errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { buildReport, readResults } from '../../src/report/html/build.ts';
import { loadModel } from '../../src/model/load.ts';
import { EXTERNAL_URL, KINDS, RESULTS, STUDY } from './fixtures.ts';

const CHROMIUM = process.env.PLIP_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = resolve('test-artifacts');
let browser: Browser;

/** A page that records console errors/warnings, page errors and every request that is not a file:// URL. */
async function watchedPage() {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.setDefaultTimeout(120_000);
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => {
    if (!r.url().startsWith('file://')) requests.push(r.url());
  });
  return { page, errors, requests };
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM });
});
after(async () => {
  await browser?.close();
});

test('each kind: figures render in Chromium, no console errors, no network, screenshot saved', async () => {
  const model = await loadModel('models/plip-tiny-code');
  const dir = mkdtempSync(join(tmpdir(), 'plip-report-'));
  const { page, errors, requests } = await watchedPage();
  for (const kind of KINDS) {
    const r = await buildReport([readResults(RESULTS[kind])], { model });
    assert.equal(EXTERNAL_URL.exec(r.html), null, kind);
    const file = join(dir, `${kind}.html`);
    writeFileSync(file, r.html);
    await page.goto(`file://${file}`);
    const figures = page.locator('figure.figure');
    const n = await figures.count();
    assert.equal(n, r.parts[0]!.figures.length, kind);
    for (let i = 0; i < n; i++) {
      const f = figures.nth(i);
      const id = await f.getAttribute('data-figure');
      // the HTML parser put vega's SVG into the SVG namespace (no xmlns attribute in the report)
      const ns = await f.locator('svg').first().evaluate((e) => e.namespaceURI);
      assert.equal(ns, 'http://www.w3.org/2000/svg', `${kind}/${id}`);
      const box = await f.locator('svg').first().boundingBox();
      assert.ok(box && box.width > 100 && box.height > 100, `${kind}/${id} has a size`);
      const marks = await f.locator('svg g.mark-rect path, svg g.mark-symbol path, svg g.mark-line path, svg g.mark-area path, svg g.mark-rule line, svg g.mark-rect rect').count();
      assert.ok(marks >= 5, `${kind}/${id}: ${marks} marks drawn`);
    }
    assert.ok((await page.locator('.tokseq .tok').count()) > 5, `${kind}: token view drawn`);
    assert.equal(await page.locator('.tokseq .tok.query').count(), 1, `${kind}: one query token marked`);
    await page.screenshot({ path: join(ARTIFACTS, `report-${kind}-full.png`), fullPage: true });
    await page.locator('figure.figure h3').first().evaluate((e) => e.scrollIntoView());
    await page.screenshot({ path: join(ARTIFACTS, `report-${kind}.png`) });
  }
  assert.deepEqual(errors, []);
  assert.deepEqual(requests, []);
  await page.close();
});

test('study report: every part\'s figures render, contents anchors navigate, no console errors, no network', async () => {
  const r = await buildReport([readResults(STUDY)]);
  assert.equal(EXTERNAL_URL.exec(r.html), null);
  const file = join(mkdtempSync(join(tmpdir(), 'plip-study-report-')), 'study.html');
  writeFileSync(file, r.html);
  const { page, errors, requests } = await watchedPage();
  await page.goto(`file://${file}`);
  const figures = page.locator('figure.figure');
  const n = await figures.count();
  assert.equal(n, r.parts.reduce((a, p) => a + p.figures.length, 0));
  for (let i = 0; i < n; i++) {
    const f = figures.nth(i);
    const marks = await f.locator('svg g.mark-rect path, svg g.mark-symbol path, svg g.mark-line path, svg g.mark-area path, svg g.mark-rule line, svg g.mark-text text').count();
    assert.ok(marks >= 5, `${await f.getAttribute('id')}: ${marks} marks drawn`);
  }
  await page.screenshot({ path: join(ARTIFACTS, 'report-study.png') });
  const anchors = await page.locator('nav a').evaluateAll((as) => as.map((a) => a.getAttribute('href')!));
  assert.ok(anchors.includes('#cross-model') && anchors.includes('#model-2'), anchors.join(' '));
  for (const a of anchors) {
    await page.locator(`nav a[href="${a}"]`).first().click();
    const top = await page.evaluate((id) => document.getElementById(id)!.getBoundingClientRect().top, a.slice(1));
    assert.ok(Math.abs(top) < 2 || (await page.evaluate(() => window.innerHeight + window.scrollY >= document.body.scrollHeight - 2)), `${a}: part at the top (${top})`);
  }
  await page.goto(`file://${file}#model-2`);
  await page.screenshot({ path: join(ARTIFACTS, 'report-study-model-2.png') });
  assert.deepEqual(errors, []);
  assert.deepEqual(requests, []);
  await page.close();
});
