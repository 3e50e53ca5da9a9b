/**
 * The ```ts examples of docs/guide/library.md run as written (with `plip-ts` pointing at the sources),
 * so the library guide cannot drift from the API.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const PAGE = 'docs/guide/library.md';
const INDEX = pathToFileURL(resolve('src/index.ts')).href;
const blocks = [...readFileSync(PAGE, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

test(`${PAGE} has examples that import from 'plip-ts'`, () => {
  assert.ok(blocks.length >= 4, `${blocks.length} examples`);
  for (const b of blocks) assert.match(b, /from 'plip-ts'/);
});

blocks.forEach((code, i) => {
  test(`${PAGE} example ${i + 1} runs`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'plip-doc-'));
    try {
      const f = join(dir, `example-${i + 1}.mts`);
      writeFileSync(f, code.replaceAll("from 'plip-ts'", `from '${INDEX}'`));
      const r = spawnSync(process.execPath, ['--import', 'tsx', f], { encoding: 'utf8', env: { ...process.env, PLIP_NO_PROGRESS: '1' } });
      assert.equal(r.status, 0, `example ${i + 1}:\n${r.stdout}\n${r.stderr}`);
      assert.ok(r.stdout.trim().length > 0, 'prints something');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
