/**
 * Downloading a model snapshot from the Hugging Face Hub into the standard HF cache layout:
 *
 *     <cache>/models--ORG--NAME/blobs/<etag>                 file contents (etag = LFS sha256 or git oid)
 *     <cache>/models--ORG--NAME/snapshots/<commit>/<file>    relative symlink → ../../blobs/<etag>
 *     <cache>/models--ORG--NAME/refs/<revision>              commit hash
 *
 * What @huggingface/hub 2.17.5 does (read from node_modules/@huggingface/hub/src/lib):
 *  - `downloadFileToCacheDir` streams the whole file (a `WebBlob`, no Range) with
 *    `createWriteStream(blobs/<etag>.incomplete)`, which TRUNCATES: an interrupted transfer always
 *    restarts from byte 0, never resumes. It renames `.incomplete` → blob when the stream ends
 *    without error but never checks the size or hash, so a body that ends early without a socket
 *    error would become a "finished" blob. It also prints `console.debug("Downloading …")` to
 *    stdout, and for a branch revision it files each file under the file's *last commit* rather
 *    than the repo head, which can split one snapshot over several directories.
 *  - `snapshotDownload` lists and downloads every file in the repo (GBs of extra weights formats).
 *  - `modelInfo` / `pathsInfo` are plain, correct API calls (sha; sizes, git oid, LFS sha256).
 *  - `checkCredentials` rejects tokens not starting with "hf_" (TypeError).
 *
 * So this module uses the official client for the API (`modelInfo` for the commit, `pathsInfo` for
 * sizes and content hashes, `getRepoFolderName` for the layout) and performs the byte transfer
 * itself to guarantee both properties:
 *  - Atomic: bytes go to `blobs/<etag>.incomplete`; it is renamed to `blobs/<etag>` only after its
 *    size equals the hub's size and its hash matches (LFS: sha256 = LFS oid; regular files: git
 *    blob sha1 = oid); the snapshot
 *    entry is a symlink created under a temporary name and renamed into place after that. A
 *    snapshot file therefore always points at a complete, verified blob.
 *  - Resumable: a retry (in this call or a later run) continues from the `.incomplete` size with
 *    `Range: bytes=N-`; if the server ignores the range (200) or answers a different range, the
 *    partial file is discarded and the transfer restarts cleanly. Each file is retried a bounded
 *    number of times on network errors, 5xx/429, short bodies and hash mismatches.
 * The token is sent as `Authorization: Bearer …` by a fetch wrapper (fetch drops it on
 * cross-origin redirects, e.g. to the CDN).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { getRepoFolderName, HubApiError, modelInfo, pathsInfo, type PathInfo } from '@huggingface/hub';
import { errnoCode, PlipFileError, PlipHubError } from './errors.ts';
import { readSafetensorsIndex } from './safetensors.ts';
import { createProgress, type DownloadProgress } from './progress.ts';

/** Files fetched besides the weights: required ones first. */
export const REQUIRED_FILES = ['config.json'] as const;
export const OPTIONAL_FILES = ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;
const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';
const OTHER_FORMATS = ['pytorch_model.bin', 'pytorch_model.bin.index.json'];

/** Everything {@link downloadSnapshot} needs; defaults are applied by `resolveModel`. */
export interface SnapshotDownloadParams {
  repoId: string;
  revision: string;
  /** Cache root (the `hub` directory). */
  cacheDir: string;
  hubUrl: string;
  fetch: typeof fetch;
  token?: string;
  progress: boolean;
  /** Extra attempts per file / API call after the first. */
  retries: number;
  /** Base delay between attempts (multiplied by the attempt number). */
  retryDelayMs: number;
  /** Abort a transfer attempt when no byte arrives for this long. */
  stallTimeoutMs: number;
  /** Hash files already in the cache before reusing them (default: trusted when the size matches). */
  verify?: boolean;
  /** Warnings (a damaged cached file that is fetched again). */
  onWarning?: (message: string) => void;
}

interface Ctx extends SnapshotDownloadParams {
  storage: string;
  bar: DownloadProgress;
}

/** Adds `Authorization: Bearer <token>` unless the request already has one. */
export function withToken(base: typeof fetch, token: string | undefined): typeof fetch {
  if (!token) return base;
  return ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    if (!headers.has('authorization')) headers.set('Authorization', `Bearer ${token}`);
    return base(input, { ...init, headers });
  }) as typeof fetch;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An error worth retrying: network trouble, 5xx/408/429, short or corrupt transfer. */
class Retryable extends Error {
  constructor(message: string, readonly last: () => PlipHubError) {
    super(message);
  }
}

function describeCause(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const c = (e as Error & { cause?: unknown }).cause;
  if (c instanceof Error) return `${e.message}: ${(c as Error & { code?: string }).code ?? c.message}`;
  return e.message;
}

/** Maps an HTTP status to a PlipHubError with advice. */
export function httpError(status: number, detail: string, c: { repoId: string; revision: string; hubUrl: string; file?: string; token?: string }): PlipHubError {
  const what = c.file ? `${c.file} in ${c.repoId}` : `repository ${c.repoId}`;
  const at = `(revision ${c.revision}) on ${c.hubUrl}`;
  const info = { repoId: c.repoId, revision: c.revision, status, ...(c.file !== undefined ? { file: c.file } : {}) };
  const tokenAdvice = c.token
    ? `The token given (opts.token / HF_TOKEN) was rejected or lacks access: check it, and for gated models accept the license at ${c.hubUrl}/${c.repoId}.`
    : `The repo may be private or gated: set HF_TOKEN to an access token with read access (https://huggingface.co/settings/tokens), and for gated models accept the license at ${c.hubUrl}/${c.repoId}.`;
  if (status === 401) return new PlipHubError('unauthorized', `Access to ${what} ${at} was refused (HTTP 401: ${detail}). ${tokenAdvice} If the id is misspelled the hub also answers 401.`, info);
  if (status === 403) return new PlipHubError('forbidden', `Access to ${what} ${at} is forbidden (HTTP 403: ${detail}). ${tokenAdvice}`, info);
  if (status === 404) {
    return new PlipHubError('not-found', `Not found: ${what} ${at} (HTTP 404: ${detail}). Check the repo id and revision, or pass a local model directory.`, info);
  }
  return new PlipHubError('server', `The hub answered HTTP ${status} for ${what} ${at}: ${detail}. Try again later.`, info);
}

function isRetryableStatus(s: number): boolean {
  return s === 408 || s === 429 || s >= 500;
}

/** fetch() reports connection failures as TypeError (undici) and timeouts/aborts as DOMExceptions. */
function isNetworkFailure(e: unknown): boolean {
  return e instanceof TypeError || (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError'));
}

function networkError(e: unknown, ctx: Ctx, what: string): PlipHubError {
  return new PlipHubError(
    'network',
    `Could not reach the Hugging Face Hub at ${ctx.hubUrl} while fetching ${what} of ${ctx.repoId} (revision ${ctx.revision}): ${describeCause(e)}. ` +
      'Check your network connection (and HF_ENDPOINT), or pass a local model directory instead of a repo id.',
    { repoId: ctx.repoId, revision: ctx.revision, cause: e },
  );
}

/** Runs `fn` up to 1 + retries times while it throws {@link Retryable}; maps the last failure. */
async function withRetries<T>(ctx: Ctx, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof Retryable)) throw e;
      if (attempt >= ctx.retries) throw e.last();
      await sleep(ctx.retryDelayMs * (attempt + 1));
    }
  }
}

/** Calls the official client, turning its failures into Retryable / PlipHubError. */
async function api<T>(ctx: Ctx, what: string, call: () => Promise<T>): Promise<T> {
  return withRetries(ctx, async () => {
    try {
      return await call();
    } catch (e) {
      if (e instanceof HubApiError) {
        const err = httpError(e.statusCode, e.message.replace(/\. URL: .*$/, ''), ctx);
        if (isRetryableStatus(e.statusCode)) throw new Retryable(err.message, () => err);
        throw err;
      }
      if (e instanceof PlipHubError) throw e;
      if (isNetworkFailure(e)) throw new Retryable(String(e), () => networkError(e, ctx, what));
      throw new PlipHubError('server', `Unexpected response from the hub at ${ctx.hubUrl} for ${what} of ${ctx.repoId}: ${describeCause(e)}.`, {
        repoId: ctx.repoId,
        revision: ctx.revision,
        cause: e,
      });
    }
  });
}

function safeName(s: string): boolean {
  return /^[A-Za-z0-9._-]+$/.test(s) && s !== '.' && s !== '..';
}

function safeRelPath(p: string): boolean {
  return p.length > 0 && !p.startsWith('/') && p.split('/').every((seg) => safeName(seg));
}

async function sizeOf(p: string): Promise<number | null> {
  try {
    const s = await stat(p);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}

/** sha256 of the file (LFS oid), or git's blob sha1 (`blob <size>\\0` + content) for regular files. */
async function hashFile(p: string, kind: 'sha256' | 'git-sha1', size: number): Promise<string> {
  const h = createHash(kind === 'sha256' ? 'sha256' : 'sha1');
  if (kind === 'git-sha1') h.update(`blob ${size}\0`);
  for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** One attempt at bringing `blobs/<etag>.incomplete` to `size` bytes, resuming when possible. */
async function transferOnce(ctx: Ctx, url: string, file: string, inc: string, size: number, fp: { add(n: number): void }): Promise<void> {
  let have = (await sizeOf(inc)) ?? 0;
  if (have > size) {
    await rm(inc, { force: true });
    fp.add(-have);
    have = 0;
  }
  if (have === size) return;
  // Abort the attempt if the connection stalls (no headers / no bytes for stallTimeoutMs).
  const ac = new AbortController();
  let timer = setTimeout(() => ac.abort(), ctx.stallTimeoutMs);
  const kick = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => ac.abort(), ctx.stallTimeoutMs);
  };
  try {
    await transferBody(ctx, { url, file, inc, size, have, fp, signal: ac.signal, kick });
  } finally {
    clearTimeout(timer);
  }
}

interface Attempt {
  url: string;
  file: string;
  /** The `.incomplete` path. */
  inc: string;
  size: number;
  /** Bytes already in `inc`. */
  have: number;
  fp: { add(n: number): void };
  signal: AbortSignal;
  /** Resets the stall timer. */
  kick: () => void;
}

async function transferBody(ctx: Ctx, a: Attempt): Promise<void> {
  const { url, file, inc, size, fp, signal, kick } = a;
  let have = a.have;
  const c = { ...ctx, file };
  let resp: Response;
  try {
    resp = await ctx.fetch(url, { signal, ...(have > 0 ? { headers: { Range: `bytes=${have}-` } } : {}) });
  } catch (e) {
    throw new Retryable(String(e), () => networkError(e, ctx, file));
  }
  kick();
  if (!resp.ok) {
    const detail = (await resp.text().catch(() => '')).slice(0, 200) || resp.statusText;
    if (resp.status === 416) {
      // Range not satisfiable: our partial file disagrees with the server; start over.
      await rm(inc, { force: true });
      fp.add(-have);
      throw new Retryable('416', () => httpError(416, detail, c));
    }
    const err = httpError(resp.status, detail, c);
    if (isRetryableStatus(resp.status)) throw new Retryable(err.message, () => err);
    throw err;
  }
  let append = have > 0;
  if (have > 0) {
    const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(resp.headers.get('content-range') ?? '');
    if (resp.status !== 206 || !m || Number(m[1]) !== have) {
      // Server ignored or mangled the Range request: restart cleanly from its full body (200) or retry.
      fp.add(-have);
      have = 0;
      append = false;
      if (resp.status === 206) {
        await resp.body?.cancel().catch(() => {});
        await rm(inc, { force: true });
        throw new Retryable('bad range', () => new PlipHubError('server', `The hub sent an unexpected byte range for ${file} of ${ctx.repoId}; try again.`, { repoId: ctx.repoId, file }));
      }
    }
  }
  const fh = await open(inc, append ? 'a' : 'w');
  const reader = resp.body?.getReader();
  try {
    while (reader) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw new Retryable(String(e), () => networkError(e, ctx, `${file} (interrupted at byte ${have} of ${size}; run again to resume)`));
      }
      if (chunk.done) break;
      kick();
      const bytes = chunk.value;
      if (have + bytes.length > size) {
        await reader.cancel().catch(() => {});
        await fh.close();
        await rm(inc, { force: true });
        fp.add(-have);
        throw new Retryable('too long', () => new PlipHubError('integrity', `The hub sent more than the expected ${size} bytes for ${file} of ${ctx.repoId} (the file may have changed); try again.`, { repoId: ctx.repoId, file }));
      }
      await fh.write(bytes);
      have += bytes.length;
      fp.add(bytes.length);
    }
  } finally {
    await fh.close().catch(() => {});
  }
  if (have < size) {
    throw new Retryable('short', () => networkError(new Error(`connection closed after ${have} of ${size} bytes`), ctx, `${file} (run again to resume)`));
  }
}

/** Ensures `blobs/<etag>` holds the complete, verified file. */
/** Content hash to verify: the LFS sha256, or the git blob sha1 of a regular file. */
function expectedHash(info: PathInfo): { kind: 'sha256' | 'git-sha1'; hex: string } | undefined {
  return info.lfs
    ? /^[0-9a-f]{64}$/.test(info.lfs.oid) ? { kind: 'sha256', hex: info.lfs.oid } : undefined
    : info.oid && /^[0-9a-f]{40}$/.test(info.oid) ? { kind: 'git-sha1', hex: info.oid } : undefined;
}

/**
 * Whether an existing cache file can be reused: right size, and with `verify` the right hash. A
 * mismatching one is reported (warning) and removed.
 */
async function reusable(ctx: Ctx, info: PathInfo, path: string): Promise<boolean> {
  const size = await sizeOf(path);
  if (size === null) return false;
  const check = expectedHash(info);
  let why: string | null = null;
  if (size !== info.size) why = `is truncated or damaged (${size} bytes, expected ${info.size})`;
  else if (ctx.verify && check && (await hashFile(path, check.kind, size)) !== check.hex) why = `fails its ${check.kind} check (expected ${check.hex})`;
  if (why === null) return true;
  ctx.onWarning?.(`cached ${info.path} of ${ctx.repoId} ${why}; fetching it again`);
  await rm(path, { force: true });
  return false;
}

async function ensureBlob(ctx: Ctx, info: PathInfo, blob: string): Promise<void> {
  if (await reusable(ctx, info, blob)) return;
  const inc = `${blob}.incomplete`;
  const url = `${ctx.hubUrl}/${ctx.repoId}/resolve/${encodeURIComponent(ctx.revision)}/${info.path.split('/').map(encodeURIComponent).join('/')}`;
  const already = Math.min((await sizeOf(inc)) ?? 0, info.size);
  ctx.bar.addTotal(info.size);
  const fp = ctx.bar.file(info.path, info.size, already);
  const check = expectedHash(info);
  await withRetries(ctx, async () => {
    await transferOnce(ctx, url, info.path, inc, info.size, fp);
    if (check && (await hashFile(inc, check.kind, info.size)) !== check.hex) {
      await rm(inc, { force: true });
      fp.add(-info.size);
      const msg = `${info.path} of ${ctx.repoId} failed its ${check.kind} check (expected ${check.hex}) after download; try again.`;
      throw new Retryable('hash', () => new PlipHubError('integrity', msg, { repoId: ctx.repoId, file: info.path }));
    }
  });
  await rename(inc, blob);
  fp.done();
}

/** Atomically points `snapshots/<commit>/<path>` at the blob (relative symlink, or a copy). */
async function linkPointer(blob: string, pointer: string): Promise<void> {
  await mkdir(dirname(pointer), { recursive: true });
  const tmp = `${pointer}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await symlink(relative(dirname(pointer), blob), tmp);
  } catch {
    await copyFile(blob, tmp);
  }
  await rename(tmp, pointer);
}

async function fetchFile(ctx: Ctx, snapshot: string, info: PathInfo): Promise<void> {
  const etag = info.lfs?.oid ?? info.oid ?? '';
  if (!safeName(etag) || !safeRelPath(info.path) || !Number.isSafeInteger(info.size) || info.size < 0) {
    throw new PlipHubError('server', `The hub returned unusable metadata for ${info.path} of ${ctx.repoId} (oid ${JSON.stringify(etag)}, size ${info.size}).`, { repoId: ctx.repoId, file: info.path });
  }
  const pointer = join(snapshot, info.path);
  const blob = join(ctx.storage, 'blobs', etag);
  if ((await sizeOf(pointer)) === info.size && !ctx.verify) return;
  await mkdir(dirname(blob), { recursive: true });
  await ensureBlob(ctx, info, blob);
  await linkPointer(blob, pointer);
}

async function infos(ctx: Ctx, paths: string[]): Promise<Map<string, PathInfo>> {
  const list = await api(ctx, 'file list', () =>
    pathsInfo({ repo: { type: 'model', name: ctx.repoId }, paths, revision: ctx.revision, hubUrl: ctx.hubUrl, fetch: ctx.fetch }),
  );
  return new Map(list.filter((i) => i.type === 'file').map((i) => [i.path, i]));
}

/**
 * Downloads config, tokenizer files and safetensors weights (single file or index + shards) of
 * `repoId` at `revision` into the HF cache, skipping what is already there.
 * @returns the snapshot directory and the commit hash it belongs to.
 * @throws PlipHubError (HTTP/network/integrity problems), PlipFileError (malformed index).
 */
export async function downloadSnapshot(params: SnapshotDownloadParams): Promise<{ dir: string; commitHash: string }> {
  const storage = join(params.cacheDir, getRepoFolderName({ type: 'model', name: params.repoId }));
  const ctx: Ctx = { ...params, fetch: withToken(params.fetch, params.token), storage, bar: createProgress(params.progress) };
  try {
    const mi = await api(ctx, 'model info', () =>
      modelInfo({ name: ctx.repoId, revision: ctx.revision, additionalFields: ['sha'], hubUrl: ctx.hubUrl, fetch: ctx.fetch }),
    );
    const sha = (mi as { sha?: unknown }).sha;
    if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha)) {
      throw new PlipHubError('server', `The hub returned no commit hash for ${ctx.repoId} (revision ${ctx.revision}) at ${ctx.hubUrl}.`, { repoId: ctx.repoId, revision: ctx.revision });
    }
    const pinned: Ctx = { ...ctx, revision: sha };
    const snapshot = join(storage, 'snapshots', sha);
    const found = await infos(pinned, [...REQUIRED_FILES, ...OPTIONAL_FILES, SINGLE, INDEX, ...OTHER_FORMATS]);
    for (const f of REQUIRED_FILES) {
      if (!found.has(f)) throw httpError(404, `${f} is missing from the repo`, { ...ctx, file: f });
    }
    const weights = found.get(SINGLE) ?? found.get(INDEX);
    if (!weights) {
      const other = OTHER_FORMATS.filter((f) => found.has(f));
      throw new PlipHubError(
        'no-weights',
        `${ctx.repoId} (revision ${ctx.revision}) has no safetensors weights (${SINGLE} or ${INDEX})` +
          (other.length ? `, only ${other.join(', ')}: convert it to safetensors and pass the local directory.` : '.'),
        { repoId: ctx.repoId, revision: ctx.revision },
      );
    }
    const small = [...REQUIRED_FILES, ...OPTIONAL_FILES].flatMap((f) => found.get(f) ?? []);
    for (const info of [...small, weights]) await fetchFile(pinned, snapshot, info);
    if (weights.path === INDEX) {
      const shards = [...new Set(readSafetensorsIndex(join(snapshot, INDEX)).values())];
      const bad = shards.find((s) => !safeRelPath(s));
      if (bad) throw new PlipFileError(join(snapshot, INDEX), `${join(snapshot, INDEX)}: shard name "${bad}" is not a plain relative path; the repo's index is malformed.`);
      const shardInfo = await infos(pinned, shards);
      for (const s of shards) {
        const info = shardInfo.get(s);
        if (!info) throw httpError(404, `shard listed in ${INDEX} is missing from the repo`, { ...ctx, file: s });
        await fetchFile(pinned, snapshot, info);
      }
    }
    if (ctx.revision !== sha) {
      const ref = join(storage, 'refs', ctx.revision);
      await mkdir(dirname(ref), { recursive: true });
      const tmp = `${ref}.tmp-${process.pid}`;
      await writeFile(tmp, sha);
      await rename(tmp, ref);
    }
    return { dir: snapshot, commitHash: sha };
  } catch (e) {
    if (e instanceof PlipHubError || e instanceof PlipFileError) throw e;
    const code = errnoCode(e);
    if (code) {
      const path = (e as { path?: unknown }).path;
      throw new PlipFileError(typeof path === 'string' ? path : storage, `Cannot write the model cache under ${storage} (${code}${typeof path === 'string' ? ` on ${path}` : ''}); check disk space and permissions, or choose another cache with HF_HUB_CACHE / cacheDir.`, { cause: e });
    }
    throw e;
  } finally {
    ctx.bar.stop();
  }
}
