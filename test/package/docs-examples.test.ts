/**
 * The ```ts examples of docs/guide/library.md and the README run as written (with `plip-ts` pointing at
 * the sources), so the library docs cannot drift from the API.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const INDEX = pathToFileURL(resolve('src/index.ts')).href;
const tsBlocks = (page: string) => [...readFileSync(page, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const guide = tsBlocks('docs/guide/library.md');
const readme = tsBlocks('README.md').filter((b) => b.includes("from 'plip-ts'"));

test("the library guide's and the README's examples import from 'plip-ts'", () => {
  assert.ok(guide.length >= 4, `${guide.length} examples`);
  for (const b of guide) assert.match(b, /from 'plip-ts'/);
  assert.equal(readme.length, 1);
  assert.ok(!readFileSync('README.md', 'utf8').includes("from './src/"), 'README imports the package, not its sources');
});

const blocks = [...guide.map((code, i) => ({ code, name: `docs/guide/library.md example ${i + 1}` })), ...readme.map((code) => ({ code: `${code}\nconsole.log('ok');\n`, name: 'README library example' }))];
blocks.forEach(({ code, name }, i) => {
  test(`${name} runs`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'plip-doc-'));
    try {
      const f = join(dir, `example-${i + 1}.mts`);
      writeFileSync(f, code.replaceAll("from 'plip-ts'", `from '${INDEX}'`));
      const r = spawnSync(process.execPath, ['--import', 'tsx', f], { encoding: 'utf8', env: { ...process.env, PLIP_NO_PROGRESS: '1' } });
      assert.equal(r.status, 0, `${name}:\n${r.stdout}\n${r.stderr}`);
      assert.ok(r.stdout.trim().length > 0, 'prints something');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
