#!/usr/bin/env node
// Builds the optional OpenBLAS addon (native/build/Release/plip_blas.node). Run by `npm run build:native`
// and by `postinstall`.
//
// - OpenBLAS missing  -> prints a warning and exits 0 (the pure-TypeScript backend still works),
//                        unless PLIP_REQUIRE_BLAS=1, then exits 1.
// - build failure     -> prints the tail of node-gyp's output; exits 1 only with PLIP_REQUIRE_BLAS=1.
// - PLIP_SKIP_NATIVE=1 -> does nothing.
// Works offline: node-gyp is pointed at the headers of the running Node (--nodedir), never downloads.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const require = createRequire(import.meta.url);
const required = process.env.PLIP_REQUIRE_BLAS === '1';
const tag = '[plip build:native]';

function finish(ok, msg) {
  if (ok) {
    console.log(`${tag} ${msg}`);
    process.exit(0);
  }
  console.warn(`${tag} ${required ? 'ERROR' : 'warning'}: ${msg}`);
  process.exit(required ? 1 : 0);
}

if (process.env.PLIP_SKIP_NATIVE === '1' && !required) finish(true, 'skipped (PLIP_SKIP_NATIVE=1); using the TypeScript backend');

// 1. OpenBLAS present?
const { findOpenblas } = require(join(nativeDir, 'find-openblas.cjs'));
const blas = findOpenblas();
if ('error' in blas) {
  finish(
    false,
    `${blas.error}. The OpenBLAS backend will not be built; the pure-TypeScript backend is used instead ` +
      '(slower). Install it with `sudo apt-get install libopenblas-dev` (Debian/Ubuntu), ' +
      '`dnf install openblas-devel` (Fedora) or `brew install openblas` (macOS), then run `npm run build:native`.',
  );
}

// 2. Node headers of *this* Node, so node-gyp never tries to download them.
function findNodeDir() {
  const candidates = [];
  if (process.env.npm_config_nodedir) candidates.push(process.env.npm_config_nodedir);
  // process.execPath = <prefix>/bin/node  ->  <prefix>/include/node/node_api.h
  candidates.push(resolve(dirname(process.execPath), '..'));
  return candidates.find((d) => existsSync(join(d, 'include', 'node', 'node_api.h')) && existsSync(join(d, 'include', 'node', 'common.gypi')));
}
const nodeDir = findNodeDir();

// 3. node-gyp: the local one, else npx (offline-capable only if cached).
function nodeGypCommand() {
  try {
    const bin = require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
    return { cmd: process.execPath, args: [bin] };
  } catch {
    const local = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'node-gyp.cmd' : 'node-gyp');
    if (existsSync(local)) return { cmd: local, args: [] };
    return { cmd: process.platform === 'win32' ? 'npx.cmd' : 'npx', args: ['--no-install', 'node-gyp'] };
  }
}
const gyp = nodeGypCommand();
const args = [...gyp.args, 'rebuild', '--release'];
if (nodeDir) args.push(`--nodedir=${nodeDir}`);
else console.warn(`${tag} warning: Node headers not found next to ${process.execPath}; node-gyp may try to download them`);

const t0 = Date.now();
const r = spawnSync(gyp.cmd, args, {
  cwd: nativeDir,
  encoding: 'utf8',
  env: nodeDir ? { ...process.env, npm_config_nodedir: nodeDir } : process.env,
  maxBuffer: 64 * 1024 * 1024,
});
const built = join(nativeDir, 'build', 'Release', 'plip_blas.node');
if (r.status !== 0 || !existsSync(built)) {
  const log = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim().split('\n').slice(-25).join('\n');
  console.warn(log);
  finish(false, `node-gyp rebuild failed (exit ${r.status ?? r.error?.message}); falling back to the TypeScript backend`);
}

// 4. Smoke test in a child process through the engine's own loader (src/tensor/select.ts), so the
//    OPENBLAS_CORETYPE policy is the one every run uses (it must be decided before libopenblas loads).
// From a clone: the sources through tsx; in an installed package: the built dist/ (no tsx there).
const fromSrc = existsSync(join(root, 'src', 'tensor', 'select.ts'));
const smokeCode =
  `const s=await import('./${fromSrc ? 'src/tensor/select.ts' : 'dist/tensor/select.js'}');` +
  "const b=s.loadBlasBackend();if(!b)throw new Error(s.blasUnavailableReason());" +
  "const o=new Float32Array(1);b.linear(new Float32Array([1,2]),new Float32Array([3,4]),null,1,2,1,o);if(o[0]!==11)throw new Error('bad result '+o[0]);console.log(s.blasConfig())";
const smoke = spawnSync(process.execPath, [...(fromSrc ? ['--import', 'tsx'] : []), '--input-type=module', '-e', smokeCode], { encoding: 'utf8', cwd: root });
if (smoke.status !== 0) {
  finish(false, `built ${built} but it fails to load: ${(smoke.stderr || '').trim().split('\n').slice(0, 3).join(' ')}`);
}
finish(true, `built native/build/Release/plip_blas.node in ${((Date.now() - t0) / 1000).toFixed(1)}s (${blas.includeDir}, ${smoke.stdout.trim()})`);
