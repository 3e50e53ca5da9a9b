#!/usr/bin/env node
// Builds the published JavaScript: tsc (tsconfig.build.json) → dist/, plus the assets the code finds
// next to itself (the tree-sitter grammars in dist/corpus/grammars). Run by `npm run build` and `prepack`.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc', { paths: [root] });
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: ['ignore', 2, 2], cwd: root });
if (r.status !== 0) {
  console.error('[plip build] tsc failed; dist/ is incomplete');
  process.exit(r.status ?? 1);
}
cpSync(join(root, 'src', 'corpus', 'grammars'), join(dist, 'corpus', 'grammars'), { recursive: true });
if (!existsSync(join(dist, 'index.js')) || !existsSync(join(dist, 'cli', 'main.js'))) {
  console.error('[plip build] dist/index.js or dist/cli/main.js missing after tsc');
  process.exit(1);
}
console.error('[plip build] dist/ built'); // stderr: keeps `npm pack --json` parseable
