/**
 * `plip report` end to end: HTML written with the figures of every input, --figures exports SVG and PNG
 * (PNG through the system Chromium; PNG signature checked), exit 1 with a message naming the file on a
 * bad input, exit 2 on a usage error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXTERNAL_URL, RESULTS } from './fixtures.ts';

const plip = (...args: string[]) => spawnSync(process.execPath, ['bin/plip.mjs', ...args], { encoding: 'utf8' });

test('plip report: HTML + --figures SVG/PNG; errors exit 1 naming the file; usage errors exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plip-cli-report-'));
  const out = join(dir, 'r.html');
  const figs = join(dir, 'figs');
  const r = plip('report', RESULTS.knockout, RESULTS.steer, '-o', out, '--figures', figs);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote .*r\.html: 2 result\(s\), 5 figure\(s\)/);
  assert.match(r.stdout, /wrote 5 SVG and 5 PNG figure\(s\)/);
  const html = readFileSync(out, 'utf8');
  assert.equal(EXTERNAL_URL.exec(html), null);
  assert.equal((html.match(/<figure class="figure"/g) ?? []).length, 5);
  const files = readdirSync(figs).sort();
  assert.deepEqual(files.filter((f) => f.endsWith('.svg')).map((f) => f.replace('.svg', '')), files.filter((f) => f.endsWith('.png')).map((f) => f.replace('.png', '')));
  for (const f of files.filter((x) => x.endsWith('.png'))) assert.deepEqual([...readFileSync(join(figs, f)).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], f);

  // no browser: SVG only, and the command says why
  const noBrowser = spawnSync(process.execPath, ['bin/plip.mjs', 'report', RESULTS.scan, '-o', out, '--figures', join(dir, 'svg-only')], { encoding: 'utf8', env: { ...process.env, PLIP_CHROMIUM: '/nonexistent/chromium' } });
  assert.equal(noBrowser.status, 0, noBrowser.stderr);
  assert.match(noBrowser.stdout, /wrote 4 SVG and 0 PNG figure\(s\) .*\(no PNG: no Chromium at \$PLIP_CHROMIUM or \/usr\/bin\/chromium/);
  assert.deepEqual(readdirSync(join(dir, 'svg-only')).filter((f) => !f.endsWith('.svg')), []);

  const bad = plip('report', 'no/such.json', '-o', out);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /error: no\/such\.json: file not found/);
  const notResults = plip('report', 'training/logs/plip_copying_dose.json', '-o', out);
  assert.equal(notResults.status, 1);
  assert.match(notResults.stderr, /plip_copying_dose\.json: missing 'header' \(not a plip results file\)/);
  assert.equal(plip('report').status, 2);
});
