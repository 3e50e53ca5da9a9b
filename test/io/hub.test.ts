import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PlipFileError, PlipHubError, resolveModel, type ResolveOptions } from '../../src/io/resolve.ts';
import { loadSafetensorsDir, writeSafetensorsFile } from '../../src/io/safetensors.ts';
import { FakeHub } from './fake-hub.ts';

const root = mkdtempSync(join(tmpdir(), 'plip-hub-'));
const hub = new FakeHub();
const SHA = 'a'.repeat(40);
const SHA2 = 'b'.repeat(40);
const ENV_KEYS = ['HF_TOKEN', 'HF_HOME', 'HF_HUB_CACHE', 'HF_ENDPOINT', 'HF_HUB_OFFLINE', 'XDG_CACHE_HOME'] as const;
const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
let cacheNo = 0;

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function st(name: string, tensors: Parameters<typeof writeSafetensorsFile>[1]): Buffer {
  const p = join(root, name);
  writeSafetensorsFile(p, tensors);
  return readFileSync(p);
}

const weights = st('w.safetensors', {
  'model.embed_tokens.weight': { dtype: 'F32', shape: [256, 1024], data: new Float32Array(256 * 1024).map((_, i) => Math.sin(i)) },
  'model.norm.weight': { dtype: 'BF16', shape: [4], data: Float32Array.from([1, 2, 3, 4]) },
});
const shard1 = st('s1.safetensors', { a: { dtype: 'F16', shape: [2], data: Float32Array.from([1, 2]) } });
const shard2 = st('s2.safetensors', { b: { dtype: 'F32', shape: [3], data: Float32Array.from([3, 4, 5]) } });
const config = Buffer.from('{"model_type":"llama"}');
const small = { 'config.json': config, 'tokenizer.json': Buffer.from('{"model":{}}'), 'tokenizer_config.json': Buffer.from('{}') };

before(async () => {
  await hub.start();
});
after(async () => {
  await hub.close();
  for (const k of ENV_KEYS) if (savedEnv[k] === undefined) delete process.env[k];
  else process.env[k] = savedEnv[k];
  rmSync(root, { recursive: true, force: true });
});
beforeEach(() => {
  for (const k of ENV_KEYS) delete process.env[k];
  hub.repos.clear();
  hub.repos.set('org/tiny', { sha: SHA, files: { ...small, 'model.safetensors': weights, 'README.md': Buffer.alloc(10) } });
  hub.repos.set('org/sharded', {
    sha: SHA2,
    files: {
      ...small,
      'model.safetensors.index.json': Buffer.from(JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } })),
      'model-00001-of-00002.safetensors': shard1,
      'model-00002-of-00002.safetensors': shard2,
    },
  });
  hub.repos.set('org/private', { sha: SHA, files: { ...small, 'model.safetensors': weights }, token: 'hf_secret' });
  hub.repos.set('org/binonly', { sha: SHA, files: { 'config.json': config, 'pytorch_model.bin': Buffer.alloc(8) } });
  hub.log.length = 0;
  hub.interrupt.clear();
  hub.ignoreRange.clear();
  hub.corrupt.clear();
  hub.stall.clear();
  hub.fail503 = 0;
  hub.onInterrupt = undefined;
});

const freshCache = (): string => join(root, `cache-${cacheNo++}`);
const opts = (cacheDir: string, extra: ResolveOptions = {}): ResolveOptions => ({ cacheDir, hubUrl: hub.url, retryDelayMs: 2, ...extra });
const weightGets = (): { range: string | undefined }[] =>
  hub.requests((r) => r.method === 'GET' && r.path.endsWith('/model.safetensors')).map((r) => ({ range: r.headers['range'] }));

async function rejectsWith(p: Promise<unknown>, kind: string, re: RegExp): Promise<PlipHubError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof PlipHubError, `expected PlipHubError, got ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, re);
    return e;
  }
  assert.fail('expected rejection');
}

test('fresh download writes the HF cache layout; second resolve is served from cache with zero requests', async () => {
  const cache = freshCache();
  const r = await resolveModel('org/tiny', opts(cache));
  const storage = join(cache, 'models--org--tiny');
  assert.deepEqual(r, { dir: join(storage, 'snapshots', SHA), source: 'download', repoId: 'org/tiny', revision: 'main', commitHash: SHA });
  assert.equal(readFileSync(join(storage, 'refs', 'main'), 'utf8'), SHA);
  const snap = join(storage, 'snapshots', SHA);
  assert.deepEqual(readdirSync(snap).sort(), ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  assert.ok(lstatSync(join(snap, 'model.safetensors')).isSymbolicLink());
  assert.equal(readlinkSync(join(snap, 'model.safetensors')), join('..', '..', 'blobs', sha256(weights)));
  assert.ok(readdirSync(join(storage, 'blobs')).every((b) => /^[0-9a-f]{40,64}$/.test(b)), 'no leftovers in blobs/');
  assert.equal(sha256(readFileSync(join(snap, 'model.safetensors'))), sha256(weights));
  assert.deepEqual(readFileSync(join(snap, 'config.json')), config);
  assert.ok(!hub.log.some((l) => l.path.includes('README')), 'only needed files');
  assert.equal(loadSafetensorsDir(r.dir).get('model.norm.weight')!.data[3], 4);

  const n = hub.log.length;
  const again = await resolveModel('org/tiny', opts(cache));
  assert.equal(again.source, 'cache');
  assert.equal(again.dir, r.dir);
  assert.equal(again.commitHash, SHA);
  assert.equal(hub.log.length, n, 'zero requests on a cache hit');
  // by commit hash, offline
  const byHash = await resolveModel('org/tiny', opts(cache, { revision: SHA, allowDownload: false }));
  assert.equal(byHash.source, 'cache');
});

test('sharded model: index and all shards downloaded, partial snapshot completed', async () => {
  const cache = freshCache();
  const r = await resolveModel('org/sharded', opts(cache));
  assert.equal(r.commitHash, SHA2);
  const m = loadSafetensorsDir(r.dir);
  assert.deepEqual(Array.from(m.get('b')!.data), [3, 4, 5]);
  // delete one shard link: the snapshot is incomplete, a resolve re-fetches only that file
  rmSync(join(r.dir, 'model-00002-of-00002.safetensors'));
  hub.log.length = 0;
  const again = await resolveModel('org/sharded', opts(cache));
  assert.equal(again.source, 'download');
  const gets = hub.requests((l) => l.method === 'GET' && l.path.includes('/resolve/'));
  assert.deepEqual(gets.map((g) => g.path.split('/').pop()), [], 'blob still cached: nothing re-transferred');
  assert.ok(existsSync(join(r.dir, 'model-00002-of-00002.safetensors')));
});

test('token from opts and from HF_TOKEN is sent as Authorization header', async () => {
  const r = await resolveModel('org/private', opts(freshCache(), { token: 'hf_secret' }));
  assert.equal(r.source, 'download');
  assert.ok(hub.log.every((l) => l.headers['authorization'] === 'Bearer hf_secret'));
  hub.log.length = 0;
  process.env['HF_TOKEN'] = 'hf_secret';
  await resolveModel('org/private', opts(freshCache()));
  assert.ok(hub.log.length > 0 && hub.log.every((l) => l.headers['authorization'] === 'Bearer hf_secret'));
});

test('401 without token and 403 with a token lacking access mention HF_TOKEN', async () => {
  const e = await rejectsWith(resolveModel('org/private', opts(freshCache())), 'unauthorized', /HF_TOKEN/);
  assert.equal(e.status, 401);
  assert.match(e.message, /org\/private/);
  await rejectsWith(resolveModel('org/private', opts(freshCache(), { token: 'hf_noaccess' })), 'forbidden', /403.*HF_TOKEN/);
  assert.equal(hub.requests((l) => l.path.startsWith('/api/')).length, 2, '4xx is not retried');
});

test('404: unknown repo and unknown revision name the id and revision', async () => {
  await rejectsWith(resolveModel('org/missing', opts(freshCache())), 'not-found', /org\/missing.*revision main/);
  await rejectsWith(resolveModel('org/tiny', opts(freshCache(), { revision: 'v9' })), 'not-found', /org\/tiny.*revision v9/);
  await rejectsWith(resolveModel('org/binonly', opts(freshCache())), 'no-weights', /only pytorch_model\.bin/);
});

test('interrupted transfer: nothing finished appears in snapshots, the retry resumes with Range', async () => {
  const cache = freshCache();
  const snapFile = join(cache, 'models--org--tiny', 'snapshots', SHA, 'model.safetensors');
  const blob = join(cache, 'models--org--tiny', 'blobs', sha256(weights));
  const seen: boolean[] = [];
  hub.interrupt.set('org/tiny/model.safetensors', 1);
  hub.onInterrupt = () => seen.push(existsSync(snapFile), existsSync(blob));
  const r = await resolveModel('org/tiny', opts(cache));
  assert.deepEqual(seen, [false, false], 'no finished file while the transfer was cut');
  const gets = weightGets();
  assert.equal(gets.length, 2);
  assert.equal(gets[0]!.range, undefined);
  const from = Number(/^bytes=(\d+)-$/.exec(gets[1]!.range ?? '')?.[1]);
  assert.ok(from > 0 && from <= weights.length / 2, `resumed from byte ${from}`);
  assert.equal(sha256(readFileSync(join(r.dir, 'model.safetensors'))), sha256(weights));
  assert.ok(!existsSync(`${blob}.incomplete`));
});

test('retries exhausted: error, no finished file; a later run resumes from the .incomplete file', async () => {
  const cache = freshCache();
  const storage = join(cache, 'models--org--tiny');
  const blob = join(storage, 'blobs', sha256(weights));
  hub.interrupt.set('org/tiny/model.safetensors', 3);
  await rejectsWith(resolveModel('org/tiny', opts(cache, { retries: 2 })), 'network', /model\.safetensors.*run again to resume/);
  assert.equal(weightGets().length, 3, 'bounded: 1 + 2 retries');
  assert.ok(!existsSync(join(storage, 'snapshots', SHA, 'model.safetensors')));
  assert.ok(!existsSync(blob));
  assert.ok(!existsSync(join(storage, 'refs', 'main')), 'ref written only when the snapshot is complete');
  const partial = statSync(`${blob}.incomplete`).size;
  assert.ok(partial > 0 && partial < weights.length);
  await rejectsWith(resolveModel('org/tiny', opts(cache, { allowDownload: false })), 'offline', /local model directory/);

  hub.log.length = 0;
  const r = await resolveModel('org/tiny', opts(cache));
  assert.deepEqual(weightGets(), [{ range: `bytes=${partial}-` }]);
  assert.equal(sha256(readFileSync(join(r.dir, 'model.safetensors'))), sha256(weights));
});

test('a stalled transfer is aborted after stallTimeoutMs and resumed', async () => {
  hub.stall.set('org/tiny/model.safetensors', 1);
  const r = await resolveModel('org/tiny', opts(freshCache(), { stallTimeoutMs: 150 }));
  const gets = weightGets(); // one stalled attempt, one resumed: bounded by count, not by time
  assert.equal(gets.length, 2);
  assert.match(gets[1]!.range ?? '', /^bytes=[1-9]\d*-$/);
  assert.equal(sha256(readFileSync(join(r.dir, 'model.safetensors'))), sha256(weights));
});

test('a server ignoring Range makes the transfer restart cleanly', async () => {
  hub.interrupt.set('org/tiny/model.safetensors', 1);
  hub.ignoreRange.set('org/tiny/model.safetensors', 1);
  const r = await resolveModel('org/tiny', opts(freshCache()));
  const gets = weightGets();
  assert.equal(gets.length, 2);
  assert.match(gets[1]!.range ?? '', /^bytes=\d+-$/);
  assert.equal(sha256(readFileSync(join(r.dir, 'model.safetensors'))), sha256(weights));
});

test('corrupt bytes fail the hash check (LFS sha256 and git sha1) and are re-fetched from scratch', async () => {
  hub.corrupt.set('org/tiny/config.json', 1);
  hub.corrupt.set('org/tiny/model.safetensors', 1);
  const r = await resolveModel('org/tiny', opts(freshCache()));
  assert.deepEqual(weightGets(), [{ range: undefined }, { range: undefined }]);
  assert.equal(sha256(readFileSync(join(r.dir, 'model.safetensors'))), sha256(weights));
  assert.deepEqual(readFileSync(join(r.dir, 'config.json')), config);
  hub.corrupt.set('org/tiny/model.safetensors', 5);
  await rejectsWith(resolveModel('org/tiny', opts(freshCache(), { retries: 1 })), 'integrity', /model\.safetensors of org\/tiny failed its sha256 check/);
});

test('cached blobs: a flipped byte is caught by verify (sha256 = blob name) and re-fetched; a truncated one always is', async () => {
  const cache = freshCache();
  const r = await resolveModel('org/tiny', opts(cache));
  const blob = join(cache, 'models--org--tiny', 'blobs', sha256(weights));
  const flip = (): void => {
    const b = readFileSync(blob);
    b[b.length - 3] ^= 0xff; // in the data region: the header still parses
    writeFileSync(blob, b);
  };
  flip();
  const warnings: string[] = [];
  const w = { onWarning: (m: string) => void warnings.push(m) };
  // without verify the cache is trusted on its cheap check (no request, no warning)
  hub.log.length = 0;
  assert.equal((await resolveModel('org/tiny', opts(cache, w))).source, 'cache');
  assert.equal(hub.log.length, 0);
  // verify: true hashes it, warns, removes it and fetches it again
  const v = await resolveModel('org/tiny', opts(cache, { ...w, verify: true }));
  assert.equal(v.source, 'download');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /cached model\.safetensors of org\/tiny fails its sha256 check.*fetching it again/);
  assert.deepEqual(weightGets(), [{ range: undefined }]);
  assert.equal(sha256(readFileSync(join(r.dir, 'model.safetensors'))), sha256(weights));
  assert.equal((await resolveModel('org/tiny', opts(cache, { ...w, verify: true }))).source, 'cache', 'intact now: served from the cache');
  // a truncated blob is re-fetched even without verify
  writeFileSync(blob, readFileSync(blob).subarray(0, 5000));
  hub.log.length = 0;
  warnings.length = 0;
  const t = await resolveModel('org/tiny', opts(cache, w));
  assert.equal(t.source, 'download');
  assert.match(warnings[0]!, /cached model\.safetensors of org\/tiny is damaged or truncated/);
  assert.equal(sha256(readFileSync(join(t.dir, 'model.safetensors'))), sha256(weights));
  // offline: a damaged cache is an integrity error, not a silent load
  flip();
  await rejectsWith(resolveModel('org/tiny', opts(cache, { ...w, verify: true, allowDownload: false })), 'integrity', /damaged: model\.safetensors fails its sha256 check.*downloading is disabled/);
  // the download path verifies reused blobs too (a partial snapshot sharing a damaged blob)
  rmSync(join(r.dir, 'config.json'));
  warnings.length = 0;
  await resolveModel('org/tiny', opts(cache, { ...w, verify: true }));
  assert.ok(warnings.some((m) => /model\.safetensors .*sha256/.test(m)), warnings.join('\n'));
  assert.equal(sha256(readFileSync(join(r.dir, 'model.safetensors'))), sha256(weights));
  // a local directory is checked with verify, never re-fetched
  flip();
  await assert.rejects(resolveModel(r.dir, { verify: true }), (e) => e instanceof PlipFileError && /model\.safetensors fails its sha256 check.*never re-fetched/.test(e.message));
});

test('HF_HUB_CACHE and HF_HOME are honoured; HF_HUB_OFFLINE disables downloads', async () => {
  const hubCache = freshCache();
  process.env['HF_HUB_CACHE'] = hubCache;
  process.env['HF_ENDPOINT'] = hub.url;
  const a = await resolveModel('org/tiny', { retryDelayMs: 2 });
  assert.equal(a.dir, join(hubCache, 'models--org--tiny', 'snapshots', SHA));
  delete process.env['HF_HUB_CACHE'];
  const home = freshCache();
  process.env['HF_HOME'] = home;
  const b = await resolveModel('org/tiny', { retryDelayMs: 2 });
  assert.equal(b.dir, join(home, 'hub', 'models--org--tiny', 'snapshots', SHA));
  assert.equal((await resolveModel('org/tiny')).source, 'cache');
  process.env['HF_HUB_OFFLINE'] = '1';
  await rejectsWith(resolveModel('org/sharded'), 'offline', /HF_HUB_OFFLINE.*local model directory/);
});

test('HTTP 503 from the API and file endpoints is retried; persistent 503 is a server error', async () => {
  hub.fail503 = 2; // the first two model-info calls fail
  const r = await resolveModel('org/tiny', opts(freshCache()));
  assert.equal(r.source, 'download');
  assert.equal(hub.requests((l) => l.path.includes('/revision/')).length, 3);
  hub.fail503 = 100;
  await rejectsWith(resolveModel('org/tiny', opts(freshCache(), { retries: 2 })), 'server', /HTTP 503.*org\/tiny.*Try again later/);
  hub.fail503 = 0;
});

test('network failure gives a clear error after bounded retries', async () => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  let calls = 0;
  const counting: typeof fetch = (input, init) => {
    calls++;
    return fetch(input, init);
  };
  await rejectsWith(
    resolveModel('org/tiny', { cacheDir: freshCache(), hubUrl: `http://127.0.0.1:${port}`, retries: 2, retryDelayMs: 2, fetch: counting }),
    'network',
    /Could not reach the Hugging Face Hub at http:\/\/127\.0\.0\.1.*ECONNREFUSED.*local model directory/,
  );
  assert.equal(calls, 3, 'the first attempt and exactly `retries` more');
});

test('local directories, bad paths and invalid repo ids', async () => {
  const dir = join(root, 'local-model');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), '{}');
  assert.deepEqual(await resolveModel(dir), { dir, source: 'local' });
  await assert.rejects(resolveModel(join(root, 'nope', 'x')), (e) => e instanceof PlipFileError && /does not exist/.test(e.message));
  await assert.rejects(resolveModel(join(dir, 'config.json')), (e) => e instanceof PlipFileError && /is a file/.test(e.message));
  for (const bad of ['gpt2', 'a/b/c/d', 'org/na--me', 'org/-x', 'org/x.', 'has space/x', 'org/..']) {
    await assert.rejects(resolveModel(bad, opts(freshCache())), (e) => (e instanceof PlipHubError && e.kind === 'invalid-id') || e instanceof PlipFileError, bad);
  }
  await rejectsWith(resolveModel('org/tiny', opts(freshCache(), { revision: '../../x' })), 'invalid-id', /Invalid revision/);
  // values that look like local paths fail at once, without asking the hub
  for (const p of ['./nope', '../nope', '/nope/x', '~/nope-plip', 'a/b/c', join(root, 'nope')]) {
    await assert.rejects(resolveModel(p, opts(freshCache())), (e) => e instanceof PlipFileError && /does not exist/.test(e.message), p);
  }
  // ORG/NAME-shaped, but ORG is an existing local folder: a mistyped path, not a hub id
  const parent = join(root, 'localorg');
  mkdirSync(parent, { recursive: true });
  const cwd = process.cwd();
  process.chdir(root);
  try {
    await assert.rejects(resolveModel('localorg/plip-tiny-cod', opts(freshCache())), (e) => e instanceof PlipFileError && /does not exist \(its parent .*localorg does\)/.test(e.message));
  } finally {
    process.chdir(cwd);
  }
  assert.equal(hub.log.length, 0);
});
