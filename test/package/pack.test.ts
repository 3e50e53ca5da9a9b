/**
 * The package as a user gets it: `npm pack` (prepack builds dist/ with tsc), install the tarball into a
 * temporary folder outside the repository from the local npm cache (offline), import it from an .mjs
 * file by its name, run a forward pass with a knockout on the bundled model, and run the installed
 * `plip --help`. No TypeScript tooling (tsx) is installed there: everything runs as built JavaScript.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve('.');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '', all: `${r.stdout ?? ''}\n${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/**
 * A lockfile for the user's folder: the tarball plus the repository's own locked production
 * dependencies (the versions `npm ci` put in the npm cache), so the install needs no registry request
 * (`npm ci --offline`). The repository lock omits `resolved`; npm needs it to install offline.
 */
function userLock(tgz: string, dependencies: Record<string, string>): unknown {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const root = lock.packages['']!;
  const registry = 'https://registry.npmjs.org/';
  const packages: Record<string, unknown> = {
    '': { name: 'plip-user', version: '1.0.0', dependencies },
    'node_modules/plip-ts': { version: root['version'], resolved: `file:../${tgz}`, hasInstallScript: true, dependencies: root['dependencies'], bin: root['bin'], engines: root['engines'] },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry['dev'] || !path.startsWith('node_modules/')) continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    packages[path] = { ...entry, resolved: entry['resolved'] ?? `${registry}${name}/-/${name.split('/').pop()}-${String(entry['version'])}.tgz` };
  }
  return { name: 'plip-user', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

const USE = `
import * as plip from 'plip-ts';
import { loadModel, BUNDLED_MODEL, forwardWithIntervention, MODEL_HOOKS, hookPointsOf, parseIndexList } from 'plip-ts';
const m = await loadModel(BUNDLED_MODEL, { backend: 'ts' });
const ids = m.tokenizer.encode('def add(a, b):\\n    return a + b\\n\\n>>> add(');
const last = ids.length - 1;
const spec = { kind: 'knockout', layers: '*', heads: '*', edges: [{ sources: [last], targets: [2, 3] }] };
const r = forwardWithIntervention(m, ids, [spec], { topK: 5 });
const names = m.hookNames();
const missing = [];
for (const e of ['scan', 'knockout', 'copying', 'steer', 'patch']) {
  if (typeof plip[e + 'Experiment'] !== 'object' && typeof plip[e + 'Experiment'] !== 'function') missing.push(e + 'Experiment');
  if (!plip[e + 'ResultsSchema'] || typeof plip[e + 'ResultsSchema'].parse !== 'function') missing.push(e + 'ResultsSchema');
}
console.log(JSON.stringify({
  kl: r.metrics.kl,
  finite: [...r.baseline.topk, ...r.intervened.topk].every((t) => Number.isFinite(t.prob)),
  hooks: names.length === hookPointsOf(m.spec).length && names.includes(MODEL_HOOKS.hook_logits) && names.includes('blocks.0.attn.hook_pattern'),
  layers: parseIndexList('1..', m.spec.nLayers, 'layers'),
  nLayers: m.spec.nLayers,
  missing,
}));
`;

test('npm pack → offline install outside the repo → import plip-ts, knockout forward, plip --help', { timeout: 600_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'plip-pack-'));
  try {
    const pack = run(npm, ['pack', '--pack-destination', work, '--json'], REPO);
    assert.equal(pack.code, 0, pack.all);
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
    assert.ok(tgz, `no tarball in ${work}: ${pack.all}`);
    const files = (JSON.parse(pack.out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    assert.ok(files.includes('dist/index.js') && files.includes('dist/cli/main.js'), 'built JavaScript is packed');
    assert.ok(files.includes('models/plip-tiny-code/model.safetensors'), 'the default model is packed');
    assert.ok(files.some((f) => f.startsWith('dist/corpus/grammars/') && f.endsWith('.wasm')), 'tree-sitter grammars are packed');
    for (const f of files) assert.ok(!/^(src|test|fixtures|training|studies)\//.test(f) && !f.endsWith('.map'), `not for users: ${f}`);

    const app = join(work, 'app');
    mkdirSync(app);
    const dep = { 'plip-ts': `file:../${tgz}` };
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'plip-user', version: '1.0.0', type: 'module', private: true, dependencies: dep }));
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify(userLock(tgz, dep)));
    const inst = run(npm, ['ci', '--offline', '--no-audit', '--no-fund'], app, { PLIP_SKIP_NATIVE: '1' });
    assert.equal(inst.code, 0, inst.all);
    assert.ok(!existsSync(join(app, 'node_modules', 'tsx')), 'tsx is a dev dependency: not installed for users');
    assert.ok(!existsSync(join(app, 'node_modules', 'plip-ts', 'src')), 'no TypeScript sources in the installed package');

    writeFileSync(join(app, 'use.mjs'), USE);
    const use = run(process.execPath, ['use.mjs'], app);
    assert.equal(use.code, 0, use.all);
    const r = JSON.parse(use.out.trim().split('\n').at(-1)!) as { kl: number; finite: boolean; hooks: boolean; layers: number[]; nLayers: number; missing: string[] };
    assert.ok(r.kl > 0 && Number.isFinite(r.kl), `the knockout changes the next-token distribution (KL ${r.kl})`);
    assert.ok(r.finite);
    assert.ok(r.hooks, 'hook names exported and derived from the spec');
    assert.deepEqual(r.layers, Array.from({ length: r.nLayers - 1 }, (_, i) => i + 1));
    assert.deepEqual(r.missing, [], 'every experiment and its results schema are exported');

    // TypeScript users get the declarations: a typed consumer compiles, a wrong use does not
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: [] }, files: ['use.ts'] }));
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    writeFileSync(join(app, 'use.ts'), "import { loadModel, MODEL_HOOKS, type HookedModel } from 'plip-ts';\nconst m: HookedModel = await loadModel('x');\nexport const n: number = m.spec.nLayers, h: string = MODEL_HOOKS.hook_logits;\n");
    const typed = run(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
    assert.equal(typed.code, 0, typed.all);
    writeFileSync(join(app, 'use.ts'), "import { MODEL_HOOKS } from 'plip-ts';\nexport const h: string = MODEL_HOOKS.no_such_hook;\n");
    const wrong = run(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.all, /no_such_hook/);

    const help = run(join(app, 'node_modules', '.bin', 'plip'), ['--help'], app);
    assert.equal(help.code, 0, help.all);
    for (const c of ['scan', 'knockout', 'copying', 'steer', 'patch']) assert.match(help.out, new RegExp(`\\b${c}\\b`));
    const bad = run(join(app, 'node_modules', '.bin', 'plip'), ['knockout', '--bogus'], app);
    assert.equal(bad.code, 2, bad.all);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
