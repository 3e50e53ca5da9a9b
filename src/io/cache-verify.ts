/**
 * Integrity of files in the Hugging Face cache layout. A snapshot entry is a symlink to
 * `blobs/<etag>`, and the etag is the content hash: the sha256 for LFS files (64 hex digits, the
 * weights) and the git blob sha1 for regular files (40 hex digits). So a cached file can be checked
 * against its own blob name, without any network access.
 *
 * - cheap check (every load from the cache): safetensors headers parse and the file is as long as the
 *   header says (catches truncated blobs);
 * - full check (`verify: true`): every blob's content hash equals its name.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readSafetensorsHeader } from './safetensors.ts';

/** A content hash a blob must have. */
export interface ExpectedHash {
  kind: 'sha256' | 'git-sha1';
  hex: string;
}

/** A cached file that failed a check. */
export interface CacheProblem {
  /** Snapshot-relative file name, e.g. `model.safetensors`. */
  file: string;
  /** The snapshot entry (`snapshots/<commit>/<file>`). */
  pointer: string;
  /** The blob it resolves to (the same path for a plain copy). */
  blob: string;
  /** What is wrong, as a phrase: `is truncated (…)`, `fails its sha256 check (…)`. */
  reason: string;
}

/** The hash a blob named `name` must have: 64 hex = sha256 (LFS), 40 hex = git blob sha1; else none. */
export function hashFromBlobName(name: string): ExpectedHash | null {
  if (/^[0-9a-f]{64}$/.test(name)) return { kind: 'sha256', hex: name };
  if (/^[0-9a-f]{40}$/.test(name)) return { kind: 'git-sha1', hex: name };
  return null;
}

/** sha256 of the file, or git's blob sha1 (`blob <size>\0` + content). */
export async function hashFile(path: string, kind: ExpectedHash['kind']): Promise<string> {
  const h = createHash(kind === 'sha256' ? 'sha256' : 'sha1');
  if (kind === 'git-sha1') h.update(`blob ${statSync(path).size}\0`);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(join(dir, e.name), rel));
    else if (e.isFile() || e.isSymbolicLink()) out.push(rel);
  }
  return out;
}

/**
 * Checks the files of a snapshot directory (see the module doc).
 * @param full - also hash every file whose blob name is a content hash
 * @returns the problems found (empty when everything is intact)
 */
export async function checkSnapshotFiles(dir: string, opts: { full: boolean }): Promise<CacheProblem[]> {
  const problems: CacheProblem[] = [];
  for (const file of listFiles(dir)) {
    const pointer = join(dir, file);
    let blob: string;
    try {
      blob = lstatSync(pointer).isSymbolicLink() ? realpathSync(pointer) : pointer;
    } catch {
      problems.push({ file, pointer, blob: pointer, reason: 'is a dangling link (its blob is missing)' });
      continue;
    }
    if (file.endsWith('.safetensors')) {
      try {
        readSafetensorsHeader(blob);
      } catch (e) {
        problems.push({ file, pointer, blob, reason: `is damaged or truncated (${(e as Error).message})` });
        continue;
      }
    }
    if (!opts.full) continue;
    const want = hashFromBlobName(basename(blob));
    if (!want) continue;
    const got = await hashFile(blob, want.kind);
    if (got !== want.hex) problems.push({ file, pointer, blob, reason: `fails its ${want.kind} check (the blob is named ${want.hex}, its content hashes to ${got})` });
  }
  return problems;
}
