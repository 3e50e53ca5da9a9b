/**
 * Results files with provenance, written incrementally and resumable after a crash.
 *
 * While an experiment runs, each finished unit of work (e.g. one sample) is appended as one
 * JSON line to `<out>.progress.jsonl` (line 1 = header) and flushed with fsync. If the process dies,
 * re-running the same command finds the progress file, checks that the header matches (same
 * experiment, model, corpus and settings), drops a torn last line, and skips the units already done —
 * nothing is lost or duplicated. At the end the final document is written atomically to `<out>`
 * (tmp file + rename) and the progress file is removed:
 *   - `.json`  → `{ "header": …, "records": […], "summary": … }`
 *   - `.jsonl` → header line, one line per record, summary line (each with a "type" field).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { HookedModel } from '../model/model.ts';

/** The package's name and version, read from its package.json (the one place the version is written). */
const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
export const TOOL_NAME: string = PACKAGE.name;
export const TOOL_VERSION: string = PACKAGE.version;

/** What produced a results file — enough to regenerate and check it later. */
export interface Provenance {
  tool: { name: string; version: string };
  /** Experiment kind, e.g. 'scan', 'knockout'. */
  experiment: string;
  /** Version of this experiment's record schema (bump on incompatible change). */
  schemaVersion: number;
  model: { id: string; path: string; format: string; revision?: string; commitHash?: string; configHash?: string; family: string; nLayers: number; nHeads: number; backend: string; compute?: 'bf16' };
  corpus?: { path: string; sha256: string; nSamples: number };
  /** Settings that determine the records (layers, seeds, ...). Compared on resume. */
  settings: Record<string, unknown>;
  seed: number | null;
  /** How edited conditions were computed (experiments that recompute incrementally; `--full-recompute` gives 'full'). Compared on resume. */
  recompute?: 'incremental' | 'full';
  /** Command line as typed (informational; not compared on resume). */
  argv?: string[];
  startedAt: string;
}

/** A results header for `experiment`, stamped with the tool version and the start time. */
export function makeProvenance(p: Omit<Provenance, 'tool' | 'model' | 'startedAt'> & { model: HookedModel }): Provenance {
  const { model, ...rest } = p;
  return { tool: { name: TOOL_NAME, version: TOOL_VERSION }, ...rest, model: modelProvenance(model), startedAt: new Date().toISOString() };
}

export function modelProvenance(m: HookedModel): Provenance['model'] {
  const { id, path, format, revision, commitHash, configHash, compute } = m.info;
  return { id, path, format, revision, commitHash, configHash, family: m.spec.family, nLayers: m.spec.nLayers, nHeads: m.spec.nHeads, backend: m.backend.name, ...(compute ? { compute } : {}) };
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The parts of a header that must match for a resume to be valid. */
function identity(p: Provenance): string {
  const { tool, startedAt: _s, argv: _a, model, ...rest } = p;
  const { backend: _b, path: _p, ...modelId } = model;
  return JSON.stringify({ tool: tool.name, model: modelId, ...rest });
}

export interface ResultsStoreOptions {
  /** Ignore (delete) an existing progress file instead of resuming. */
  restart?: boolean;
}

/** An incremental, resumable results file. Records are keyed by a unique string (e.g. sample id + condition). */
export class ResultsStore<R extends { key: string }> {
  readonly progressPath: string;
  /** Exclusive lock held while the store is open (contains the owner's pid). */
  readonly lockPath: string;
  private readonly done = new Map<string, R>();
  private fd: number | null = null;
  /** Number of records recovered from an earlier interrupted run. */
  readonly resumed: number;

  constructor(
    readonly outPath: string,
    readonly header: Provenance,
    opts: ResultsStoreOptions = {},
  ) {
    this.progressPath = `${outPath}.progress.jsonl`;
    this.lockPath = `${outPath}.lock`;
    checkOutPath(outPath);
    mkdirSync(dirname(outPath) || '.', { recursive: true });
    acquireLock(this.lockPath, outPath);
    try {
      removeStrayTmp(outPath);
      if (opts.restart && existsSync(this.progressPath)) rmSync(this.progressPath);
      this.resumed = existsSync(this.progressPath) ? this.recover() : 0;
    } catch (e) {
      releaseLock(this.lockPath);
      throw e;
    }
  }

  private recover(): number {
    const text = readFileSync(this.progressPath, 'utf8');
    const lines = text.split('\n');
    let validBytes = 0;
    let header: Provenance | null = null;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const complete = i < lines.length - 1; // a line without its trailing newline is torn
      if (!complete || line.trim() === '') break;
      let obj: { type?: string } & Record<string, unknown>;
      try {
        obj = JSON.parse(line);
      } catch {
        break;
      }
      if (i === 0) {
        if (obj.type !== 'header') throw new Error(`${this.progressPath}: not a PLIP progress file (first line is not a header); delete it or choose another --out`);
        const { type: _t, ...h } = obj;
        header = h as unknown as Provenance;
      } else if (obj.type === 'record') {
        const { type: _t, ...r } = obj;
        this.done.set(String(r.key), r as unknown as R);
      }
      validBytes += Buffer.byteLength(line, 'utf8') + 1;
    }
    if (!header) throw new Error(`${this.progressPath}: empty or corrupt progress file; delete it (or pass --restart) to start over`);
    if (identity(header) !== identity(this.header)) {
      throw new Error(
        `${this.progressPath}: an interrupted run with DIFFERENT settings (model, corpus, layers, seed or --full-recompute) exists for --out ${this.outPath}; ` +
          `pass --restart to discard it, or use another --out`,
      );
    }
    truncateSync(this.progressPath, validBytes);
    this.fd = openSync(this.progressPath, 'a');
    return this.done.size;
  }

  private writeLine(obj: unknown): void {
    if (this.fd === null) {
      // first record of a fresh run: the progress file starts with the header
      this.fd = openSync(this.progressPath, 'w');
      writeSync(this.fd, JSON.stringify({ type: 'header', ...this.header }) + '\n');
    }
    writeSync(this.fd, JSON.stringify(obj) + '\n');
    fsyncSync(this.fd!);
  }

  has(key: string): boolean {
    return this.done.has(key);
  }

  get(key: string): R | undefined {
    return this.done.get(key);
  }

  /** Appends a finished record (durably). Adding a key twice is an error (no duplicates). */
  add(record: R): void {
    if (this.done.has(record.key)) throw new Error(`internal: duplicate results record '${record.key}'`);
    this.done.set(record.key, record);
    this.writeLine({ type: 'record', ...record });
  }

  records(): R[] {
    return [...this.done.values()];
  }

  /** Writes the final document atomically and removes the progress file. */
  finish(summary: unknown): void {
    const records = this.records();
    const tmp = `${this.outPath}.tmp-${process.pid}`;
    let body: string;
    if (this.outPath.endsWith('.jsonl')) {
      body = [{ type: 'header', ...this.header }, ...records.map((r) => ({ type: 'record', ...r })), { type: 'summary', ...(summary as object) }]
        .map((x) => JSON.stringify(x))
        .join('\n') + '\n';
    } else {
      body = JSON.stringify({ header: this.header, records, summary }, null, 1) + '\n';
    }
    const fd = openSync(tmp, 'w');
    writeSync(fd, body);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.outPath);
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    rmSync(this.progressPath, { force: true });
    releaseLock(this.lockPath);
  }

  /** Closes the progress file without finishing (the run can be resumed later) and releases the lock. */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    releaseLock(this.lockPath);
  }
}

/** An output path must be a file (or not exist yet): a directory is refused before any work. */
export function checkOutPath(outPath: string): void {
  let st;
  try {
    st = statSync(outPath);
  } catch {
    return;
  }
  if (st.isDirectory()) throw new Error(`${outPath}: is a directory; the output must be a file path (e.g. ${join(outPath, 'results.json')})`);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the exclusive lock `lockPath`: a file holding this process's pid, put in place by link(2), which is
 * atomic and fails if the lock exists, so the lock never exists without its pid (a file created empty with
 * O_EXCL and written after was once read in between by a second run, which took the live lock for stale).
 * A lock whose pid is no longer running is stale and taken over.
 * @throws Error naming the pid of the live process that holds the lock
 */
function acquireLock(lockPath: string, outPath: string): void {
  const mine = `${lockPath}.${process.pid}`;
  writeFileSync(mine, `${process.pid}\n`);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(mine, lockPath);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      tryTakeOver(lockPath, outPath);
    }
  } finally {
    rmSync(mine, { force: true });
  }
  throw new Error(`${outPath}: could not take the lock ${lockPath}`);
}

/** Removes the lock `lockPath` when its process is gone; throws when a live process holds it. */
function tryTakeOver(lockPath: string, outPath: string): void {
  let pid = NaN;
  try {
    pid = Number(readFileSync(lockPath, 'utf8').trim());
  } catch {
    return; // released meanwhile
  }
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
    throw new Error(`${outPath}: another run (pid ${pid}) is writing this results file (lock ${lockPath}); wait for it to finish or choose another output path`);
  }
  if (pid === process.pid) throw new Error(`${outPath}: this process already has this results file open`);
  rmSync(lockPath, { force: true }); // stale: its process is gone
}

function releaseLock(lockPath: string): void {
  try {
    if (Number(readFileSync(lockPath, 'utf8').trim()) === process.pid) rmSync(lockPath, { force: true });
  } catch {
    // already gone
  }
}

/** Removes `<out>.tmp-PID` files left by a killed run (safe: the caller holds the lock). */
function removeStrayTmp(outPath: string): void {
  const dir = dirname(outPath) || '.';
  const prefix = `${basename(outPath)}.tmp-`;
  for (const f of readdirSync(dir)) if (f.startsWith(prefix) && /^\d+$/.test(f.slice(prefix.length))) rmSync(join(dir, f), { force: true });
}

/** JSON-safe number: NaN/±Infinity → null (results files never contain NaN). */
export function num(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
