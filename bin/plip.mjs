#!/usr/bin/env node
// Entry point of the `plip` CLI.
// - Installed package: runs the built JavaScript (dist/cli/main.js); no TypeScript tooling at run time.
// - Clone of the repository (src/ present and the dev dependency tsx installed): runs the TypeScript
//   sources through tsx, so an edit needs no build. PLIP_USE_DIST=1 forces dist/ (after `npm run build`).
import { existsSync } from 'node:fs';

const src = new URL('../src/cli/main.ts', import.meta.url);
const dist = new URL('../dist/cli/main.js', import.meta.url);

async function tsxAvailable() {
  try {
    const { register } = await import('tsx/esm/api');
    register();
    return true;
  } catch {
    return false;
  }
}

if (existsSync(src) && process.env.PLIP_USE_DIST !== '1' && (await tsxAvailable())) {
  await import(src.href);
} else if (existsSync(dist)) {
  await import(dist.href);
} else {
  process.stderr.write('error: plip is not built: run `npm run build` (or `npm ci` to install tsx for running the sources)\n');
  process.exit(1);
}
