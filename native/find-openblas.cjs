#!/usr/bin/env node
'use strict';
/**
 * Locates OpenBLAS's cblas.h and libopenblas for the native addon.
 *
 * Used two ways:
 *   - by scripts/build-native.mjs:   require('./find-openblas.cjs').findOpenblas()
 *   - by binding.gyp (command expansion):  node find-openblas.cjs include|libdir|rpath
 *
 * Search order: $PLIP_OPENBLAS_INCLUDE / $PLIP_OPENBLAS_LIB (exclusive when set), `pkg-config openblas`, then well-known
 * locations (Debian/Ubuntu multiarch, Fedora, /usr/local, /opt/OpenBLAS, Homebrew).
 * A cblas.h only counts if it declares `openblas_get_config` (netlib's cblas.h does not).
 */
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const SYSTEM_LIB_DIRS = new Set(['/usr/lib', '/usr/lib64', '/lib', '/lib64', '/usr/local/lib']);

function multiarch() {
  const fromGcc = tryExec('gcc', ['-print-multiarch']);
  if (fromGcc) return fromGcc;
  const arch = { x64: 'x86_64', arm64: 'aarch64', ppc64: 'powerpc64le', s390x: 's390x', riscv64: 'riscv64' }[process.arch];
  return arch ? `${arch}-linux-gnu` : undefined;
}

function tryExec(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function isOpenblasHeader(dir) {
  const h = path.join(dir, 'cblas.h');
  try {
    return fs.readFileSync(h, 'utf8').includes('openblas_get_config');
  } catch {
    return false;
  }
}

function hasLib(dir) {
  for (const f of ['libopenblas.so', 'libopenblas.dylib', 'libopenblas.a']) {
    if (fs.existsSync(path.join(dir, f))) return true;
  }
  return false;
}

function fromPkgConfig() {
  const cflags = tryExec('pkg-config', ['--cflags-only-I', 'openblas']);
  const libs = tryExec('pkg-config', ['--libs-only-L', 'openblas']);
  if (cflags === undefined) return {};
  const inc = cflags.split(/\s+/).filter((s) => s.startsWith('-I')).map((s) => s.slice(2).replace(/\/+$/, ''));
  const lib = (libs ?? '').split(/\s+/).filter((s) => s.startsWith('-L')).map((s) => s.slice(2).replace(/\/+$/, ''));
  return { inc, lib };
}

/** @returns {{ includeDir: string, libDir: string, rpath: string, source: string } | { error: string }} */
function findOpenblas() {
  const ma = multiarch();
  const envInc = process.env.PLIP_OPENBLAS_INCLUDE;
  const envLib = process.env.PLIP_OPENBLAS_LIB;
  const pc = fromPkgConfig();

  // An explicit override is used exclusively (so a wrong path fails instead of silently falling back).
  const incCandidates = envInc ? [envInc] : [
    ...(pc.inc ?? []),
    ...(ma ? [`/usr/include/${ma}/openblas-pthread`, `/usr/include/${ma}/openblas-openmp`, `/usr/include/${ma}/openblas-serial`, `/usr/include/${ma}`] : []),
    '/usr/include/openblas',
    '/usr/include',
    '/usr/local/include/openblas',
    '/usr/local/include',
    '/opt/OpenBLAS/include',
    '/opt/homebrew/opt/openblas/include',
    '/usr/local/opt/openblas/include',
  ];
  // Prefer the generic multiarch dir on Debian: libopenblas.so there is an `alternatives` link, so the
  // addon follows `update-alternatives` (pthread / openmp / serial) at run time.
  const libCandidates = envLib ? [envLib] : [
    ...(ma ? [`/usr/lib/${ma}`] : []),
    ...(pc.lib ?? []),
    ...(ma ? [`/usr/lib/${ma}/openblas-pthread`, `/usr/lib/${ma}/openblas-openmp`, `/usr/lib/${ma}/openblas-serial`] : []),
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
    '/opt/OpenBLAS/lib',
    '/opt/homebrew/opt/openblas/lib',
    '/usr/local/opt/openblas/lib',
  ];

  const includeDir = incCandidates.find(isOpenblasHeader);
  const libDir = libCandidates.find(hasLib);
  if (!includeDir || !libDir) {
    const missing = [!includeDir && 'OpenBLAS cblas.h', !libDir && 'libopenblas'].filter(Boolean).join(' and ');
    const where = envInc || envLib
      ? `in ${[envInc && `PLIP_OPENBLAS_INCLUDE=${envInc}`, envLib && `PLIP_OPENBLAS_LIB=${envLib}`].filter(Boolean).join(", ")} (override), else pkg-config and standard locations`
      : 'via pkg-config or in standard locations; set PLIP_OPENBLAS_INCLUDE / PLIP_OPENBLAS_LIB to override';
    return { error: `${missing} not found (looked ${where})` };
  }
  const isSystem = SYSTEM_LIB_DIRS.has(libDir) || (ma !== undefined && libDir === `/usr/lib/${ma}`);
  return {
    includeDir,
    libDir,
    rpath: isSystem ? '' : libDir,
    source: envInc || envLib ? 'env' : pc.inc?.includes(includeDir) ? 'pkg-config' : 'search',
  };
}

module.exports = { findOpenblas };

if (require.main === module) {
  const what = process.argv[2];
  const r = findOpenblas();
  if ('error' in r) {
    if (what) {
      // binding.gyp expansion: fail loudly so node-gyp stops with the reason.
      process.stderr.write(`find-openblas: ${r.error}\n`);
      process.exit(1);
    }
    console.log(JSON.stringify(r));
    process.exit(1);
  }
  if (what === 'include') console.log(r.includeDir);
  else if (what === 'libdir') console.log(r.libDir);
  else if (what === 'ldflags') console.log([`-L${r.libDir}`, ...(r.rpath ? [`-Wl,-rpath,${r.rpath}`] : [])].join(' '));
  else console.log(JSON.stringify(r));
}
