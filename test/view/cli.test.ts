/**
 * `plip view` from the command line: starts on an ephemeral port of 127.0.0.1, prints its URL, serves the
 * page and the API with the samples of --prompts; a bad --port is a usage error (exit 2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';

test('plip view: listens on 127.0.0.1, serves the page and /api/info; bad --port exits 2', async () => {
  const child = spawn(process.execPath, ['bin/plip.mjs', 'view', '--model', 'models/plip-tiny-code', '--prompts', 'training/eval/eval_prompts.json', '--results-dir', 'training/logs', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    const url = await new Promise<string>((res, rej) => {
      child.stdout.on('data', (d) => {
        out += d;
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) res(m[1]!);
      });
      child.once('exit', (c) => rej(new Error(`exited ${c}: ${out}`)));
    });
    const page = await (await fetch(url)).text();
    assert.match(page, /<title>plip view<\/title>/);
    assert.doesNotMatch(page, /https?:\/\/|\/\/cdn/, 'the page names no URL');
    const info = (await (await fetch(`${url}api/info`)).json()) as { model: { nLayers: number }; samples: unknown[]; results: string[] };
    assert.equal(info.model.nLayers, 4);
    assert.equal(info.samples.length, 1200);
    assert.ok(info.results.includes('plip_scan.json'));
  } finally {
    child.kill('SIGINT');
  }
  const bad = spawnSync(process.execPath, ['bin/plip.mjs', 'view', '--port', '70000'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--port must be between 0 and 65535/);
});
