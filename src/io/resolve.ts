/**
 * Model resolution: a local directory, a snapshot already in the Hugging Face cache, or a download.
 *
 * Cache lookups touch only the local disk (zero network requests). A cached snapshot is accepted
 * only when it has `config.json` and complete weights (`model.safetensors`, or the index plus every
 * shard it names); since the downloader only ever links verified blobs into a snapshot, existing
 * files are complete files.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve as resolvePath, sep } from 'node:path';
import { getRepoFolderName } from '@huggingface/hub';
import { PlipFileError, PlipHubError } from './errors.ts';
import { checkSnapshotFiles } from './cache-verify.ts';
import { downloadSnapshot } from './hub.ts';
import { readSafetensorsIndex } from './safetensors.ts';

export { PlipFileError, PlipHubError, type PlipHubErrorKind } from './errors.ts';

/** Where a model came from. */
export interface ResolvedModel {
  /** Directory holding config.json, tokenizer files and weights. */
  dir: string;
  source: 'local' | 'cache' | 'download';
  repoId?: string;
  /** The revision asked for (branch, tag or commit). */
  revision?: string;
  /** Commit the snapshot belongs to. */
  commitHash?: string;
}

/** Options of {@link resolveModel}. */
export interface ResolveOptions {
  /** Branch, tag or commit hash (default `main`). */
  revision?: string;
  /** HF cache root (the `hub` directory); default $HF_HUB_CACHE or ($HF_HOME ?? ~/.cache/huggingface)/hub. */
  cacheDir?: string;
  /** Hub base URL; default $HF_ENDPOINT or https://huggingface.co. */
  hubUrl?: string;
  /** fetch implementation for every hub request (proxies, tests). */
  fetch?: typeof fetch;
  /** Access token; default $HF_TOKEN. */
  token?: string;
  /** Show download progress on stderr: bars on a terminal, plain periodic lines otherwise. */
  progress?: boolean;
  /** Allow network access when the model is not cached (default true, false when HF_HUB_OFFLINE=1). */
  allowDownload?: boolean;
  /** Extra attempts per file after a failed one (default 4). */
  retries?: number;
  /** Base delay between attempts in ms, multiplied by the attempt number (default 1000). */
  retryDelayMs?: number;
  /** Abort and retry a transfer that receives nothing for this long (default 60 000 ms). */
  stallTimeoutMs?: number;
  /**
   * Hash every cached file against its blob name (LFS sha256 / git sha1) before trusting it (default
   * false: only a cheap truncation check of the weights). A bad cached file is removed and fetched again.
   */
  verify?: boolean;
  /** Where warnings go (a re-fetched damaged cache file); default: `warning: …` on stderr. */
  onWarning?: (message: string) => void;
}

const DEFAULT_HUB_URL = 'https://huggingface.co';

/** The HF cache root: `cacheDir` ?? $HF_HUB_CACHE ?? ($HF_HOME ?? $XDG_CACHE_HOME/huggingface ?? ~/.cache/huggingface)/hub. */
export function hfCacheRoot(cacheDir?: string): string {
  if (cacheDir) return resolvePath(cacheDir);
  const env = process.env;
  if (env['HF_HUB_CACHE']) return resolvePath(env['HF_HUB_CACHE']);
  const home = env['HF_HOME'] || join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'huggingface');
  return resolvePath(home, 'hub');
}

/** True for a syntactically valid Hugging Face model id `ORG/NAME`. */
export function isValidRepoId(id: string): boolean {
  if (id.length > 96 || id.includes('--') || id.includes('..')) return false;
  // huggingface_hub's rule: each part starts and ends with [A-Za-z0-9_], with "-" and "." inside.
  return /^\w(?:[\w.-]*\w)?\/\w(?:[\w.-]*\w)?$/.test(id);
}

function isValidRevision(rev: string): boolean {
  return rev.length > 0 && rev.length <= 256 && /^[\w.\/-]+$/.test(rev) && !rev.split('/').some((s) => s === '' || s === '.' || s === '..');
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** A snapshot directory is usable when it has config.json and complete safetensors weights. */
export function isCompleteSnapshot(dir: string): boolean {
  if (!isFile(join(dir, 'config.json'))) return false;
  if (isFile(join(dir, 'model.safetensors'))) return true;
  const index = join(dir, 'model.safetensors.index.json');
  if (!isFile(index)) return false;
  try {
    return [...new Set(readSafetensorsIndex(index).values())].every((s) => isFile(join(dir, s)));
  } catch {
    return false;
  }
}

/**
 * Finds a complete cached snapshot of `repoId` at `revision` (branch/tag via `refs/`, or a commit
 * hash directly) without any network access.
 */
export function findCachedSnapshot(cacheRoot: string, repoId: string, revision: string): { dir: string; commitHash: string } | null {
  const storage = join(cacheRoot, getRepoFolderName({ type: 'model', name: repoId }));
  let hash = revision;
  if (!/^[0-9a-f]{40}$/.test(revision)) {
    try {
      hash = readFileSync(join(storage, 'refs', revision), 'utf8').trim();
    } catch {
      return null;
    }
    if (!/^[0-9a-f]{40}$/.test(hash)) return null;
  }
  const dir = join(storage, 'snapshots', hash);
  return isCompleteSnapshot(dir) ? { dir, commitHash: hash } : null;
}

/**
 * A `--model` value that can only be a local path: starts with `./`, `../`, `/` or `~`, uses the OS
 * path separator (`\\` on Windows), a drive letter, or has more than one `/` (a Hub id has one).
 */
export function looksLikePath(s: string): boolean {
  return s.startsWith('.') || s.startsWith('/') || s.startsWith('~') || s.includes('\\') || (sep !== '/' && s.includes(sep)) || s.split('/').length > 2 || /^[A-Za-z]:/.test(s);
}

/**
 * For `ORG/NAME`-shaped values: the local directory `ORG` exists (e.g. `models/plip-tiny-cod` next to
 * `models/`), so the value is most likely a mistyped local path; returns that directory.
 */
function existingLocalParent(s: string): string | null {
  const parent = dirname(s);
  return parent !== '.' && parent !== s && isDir(parent) ? parent : null;
}

function envOffline(): boolean {
  return ['1', 'true', 'yes', 'on'].includes((process.env['HF_HUB_OFFLINE'] ?? '').toLowerCase());
}

/**
 * Resolves a local model directory or a Hugging Face repo id (`ORG/NAME`) to a directory with
 * config, tokenizer files and safetensors weights: an existing directory is used as is; a repo id is
 * looked up in the HF cache (no network) and otherwise downloaded into it (atomic, resumable, only
 * the files needed).
 * @throws PlipFileError for a bad local path; PlipHubError for an invalid id, offline mode without a
 * cached copy, or a failed download (HTTP 401/403/404, network).
 */
export async function resolveModel(idOrPath: string, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  const expanded = idOrPath.startsWith('~/') ? join(homedir(), idOrPath.slice(2)) : idOrPath;
  if (isDir(expanded)) {
    if (opts.verify) {
      const bad = await checkSnapshotFiles(expanded, { full: true });
      if (bad.length) throw new PlipFileError(join(expanded, bad[0]!.file), `${bad.map((b) => `${join(expanded, b.file)} ${b.reason}`).join('; ')}. Replace the file(s) (a local directory is never re-fetched).`);
    }
    return { dir: resolvePath(expanded), source: 'local' };
  }
  if (isFile(expanded)) {
    throw new PlipFileError(expanded, `${expanded} is a file; pass the model directory that contains config.json and the safetensors weights.`);
  }
  if (looksLikePath(idOrPath)) {
    throw new PlipFileError(expanded, `Local model directory ${expanded} does not exist. Pass an existing directory, or a Hugging Face repo id like ORG/NAME.`);
  }
  if (!isValidRepoId(idOrPath)) {
    throw new PlipHubError(
      'invalid-id',
      `"${idOrPath}" is neither an existing directory nor a valid Hugging Face repo id (expected ORG/NAME, e.g. Qwen/Qwen2.5-0.5B; letters, digits, "-", "_", "."; no "--" or "..").`,
    );
  }
  const repoId = idOrPath;
  const revision = opts.revision ?? 'main';
  if (!isValidRevision(revision)) {
    throw new PlipHubError('invalid-id', `Invalid revision "${revision}" for ${repoId}: expected a branch, tag or commit hash.`, { repoId, revision });
  }
  const cacheRoot = hfCacheRoot(opts.cacheDir);
  const warn = opts.onWarning ?? ((m: string) => void process.stderr.write(`warning: ${m}\n`));
  const allow = opts.allowDownload ?? !envOffline();
  const cached = findCachedSnapshot(cacheRoot, repoId, revision);
  if (cached) {
    const bad = await checkSnapshotFiles(cached.dir, { full: opts.verify ?? false });
    if (bad.length === 0) return { dir: cached.dir, source: 'cache', repoId, revision, commitHash: cached.commitHash };
    if (!allow) {
      throw new PlipHubError(
        'integrity',
        `The cached copy of ${repoId} (revision ${revision}) is damaged: ${bad.map((b) => `${b.file} ${b.reason}`).join('; ')}; it cannot be fetched again because ${opts.allowDownload === false ? 'downloading is disabled' : 'HF_HUB_OFFLINE is set'}. Allow downloads once, or delete ${cached.dir}.`,
        { repoId, revision, file: bad[0]!.file },
      );
    }
    for (const b of bad) {
      warn(`cached ${b.file} of ${repoId} ${b.reason}; fetching it again`);
      rmSync(b.pointer, { force: true });
      if (b.blob !== b.pointer) rmSync(b.blob, { force: true });
    }
  }
  const parent = existingLocalParent(idOrPath);
  if (parent !== null) {
    throw new PlipFileError(
      resolvePath(idOrPath),
      `Local model directory ${resolvePath(idOrPath)} does not exist (its parent ${resolvePath(parent)} does). ` +
        `Check the name; to download the Hugging Face repo ${idOrPath} instead, run from a directory without a '${parent}' folder.`,
    );
  }

  if (!allow) {
    const why = opts.allowDownload === false ? 'downloading is disabled' : 'HF_HUB_OFFLINE is set';
    throw new PlipHubError(
      'offline',
      `${repoId} (revision ${revision}) is not (completely) in the Hugging Face cache at ${cacheRoot} and ${why}. ` +
        'Pass a local model directory (with config.json, tokenizer.json and model.safetensors) instead, or allow downloads.',
      { repoId, revision },
    );
  }
  const token = opts.token ?? (process.env['HF_TOKEN'] || undefined);
  const hubUrl = (opts.hubUrl ?? (process.env['HF_ENDPOINT'] || DEFAULT_HUB_URL)).replace(/\/+$/, '');
  const { dir, commitHash } = await downloadSnapshot({
    repoId,
    revision,
    cacheDir: cacheRoot,
    hubUrl,
    fetch: opts.fetch ?? globalThis.fetch,
    ...(token ? { token } : {}),
    progress: opts.progress ?? false,
    retries: Math.max(0, Math.floor(opts.retries ?? 4)),
    retryDelayMs: Math.max(0, opts.retryDelayMs ?? 1000),
    stallTimeoutMs: Math.max(1, opts.stallTimeoutMs ?? 60_000),
    verify: opts.verify ?? false,
    onWarning: warn,
  });
  return { dir, source: 'download', repoId, revision, commitHash };
}
