/**
 * Scoring a completions file (`plip score`): JSONL input `{"id", "completion"}` per line, JSONL output
 * `{"id", "called", "arityOk", "paramNamesOk", "syntaxOk", "executed"}` per input line, in input order
 * (blank input lines are skipped). Output is appended record by record under a lock file; a rerun with
 * the same input resumes after the records already written.
 *
 * @module
 */
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { wilson, type Proportion } from '../stats/proportion.ts';
import type { PromptRecord, PromptSet } from './prompts-schema.ts';
import { scoreCompletion, type CompletionScore, type ScoreOptions } from './score.ts';

/** One line of a completions file. */
export interface CompletionLine {
  id: string;
  completion: string;
  /** 1-based line number in the file. */
  line: number;
}

/** Bad input (completions file, ids, an --out of another input): the CLI exits 2. */
export class ScoreInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScoreInputError';
  }
}

/** Reads and validates a completions file against a prompt set; errors name the file and line. */
export function readCompletions(file: string, prompts: PromptSet): CompletionLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ScoreInputError(`${file}: cannot read the completions file (${(e as Error).message})`);
  }
  const out: CompletionLine[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch (e) {
      throw new ScoreInputError(`${file}:${line}: not a JSON line (${(e as Error).message}); expected {"id": ..., "completion": ...}`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ScoreInputError(`${file}:${line}: expected a JSON object {"id": ..., "completion": ...}`);
    const o = v as Record<string, unknown>;
    if (typeof o.id !== 'string') throw new ScoreInputError(`${file}:${line}: field "id" must be a string naming a prompt`);
    if (typeof o.completion !== 'string') throw new ScoreInputError(`${file}:${line}: field "completion" must be a string (the text generated after the prompt)`);
    if (!prompts.byId.has(o.id)) throw new ScoreInputError(`${file}:${line}: unknown id "${o.id}" (no such prompt in ${prompts.file})`);
    out.push({ id: o.id, completion: o.completion, line });
  });
  if (out.length === 0) throw new ScoreInputError(`${file}: no completions (one JSON object per line: {"id": ..., "completion": ...})`);
  return out;
}

/** The output record of one completion (the `detail` field only with `details: true`). */
export type ScoreRecord = Omit<CompletionScore, 'detail'> & { detail?: string };

function toRecord(s: CompletionScore, details: boolean): ScoreRecord {
  const r: ScoreRecord = { id: s.id, called: s.called, arityOk: s.arityOk, paramNamesOk: s.paramNamesOk, syntaxOk: s.syntaxOk, executed: s.executed };
  if (details) r.detail = s.detail;
  return r;
}

/** Records already in `out` (complete lines), checked against the input's ids in order. */
function existingRecords(out: string, input: CompletionLine[]): ScoreRecord[] {
  if (!existsSync(out)) return [];
  const text = readFileSync(out, 'utf8');
  const lines = text.split('\n');
  const complete = lines.slice(0, -1); // after the last newline: empty, or a cut line that is redone
  const recs = complete.filter((l) => l.trim()).map((l, i) => {
    try {
      return JSON.parse(l) as ScoreRecord;
    } catch {
      throw new ScoreInputError(`${out}:${i + 1}: not a score record; delete ${out} or choose another --out`);
    }
  });
  if (recs.length > input.length) throw new ScoreInputError(`${out} holds ${recs.length} records but the input has ${input.length} completions; delete it or choose another --out`);
  recs.forEach((r, i) => {
    if (r.id !== input[i]!.id) throw new ScoreInputError(`${out}:${i + 1}: record for "${r.id}" but input line ${input[i]!.line} is "${input[i]!.id}"; ${out} belongs to another input — delete it or choose another --out`);
  });
  return recs;
}

export interface ScoreFileOptions extends ScoreOptions {
  /** Completions scored at once (default 1). */
  jobs?: number;
  /** Add `detail` (why `executed` came out as it did) to each record. */
  details?: boolean;
  /** Called after each record is written (for progress). */
  onRecord?: (done: number, total: number) => void;
}

/**
 * Scores `input` into the JSONL file `out` (appending, resuming after records already there) and returns
 * all records, in input order.
 */
export async function scoreToFile(prompts: PromptSet, input: CompletionLine[], out: string, o: ScoreFileOptions = {}): Promise<ScoreRecord[]> {
  const lock = `${out}.lock`;
  let lockFd: number;
  try {
    lockFd = openSync(lock, 'wx');
  } catch {
    throw new Error(`${lock} exists: another plip score is writing ${out} (remove the lock file if no such run is left)`);
  }
  try {
    const done = existingRecords(out, input);
    const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
    // a line cut by an interrupted run is dropped and redone
    if (text && !text.endsWith('\n')) writeFileSync(out, text.slice(0, text.lastIndexOf('\n') + 1));
    const w = openSync(out, 'a');
    const records = [...done];
    try {
      const todo = input.slice(done.length);
      const jobs = Math.max(1, o.jobs ?? 1);
      const results = new Map<number, ScoreRecord>();
      let next = 0;
      let written = 0;
      let failed = false;
      const flush = () => {
        while (!failed && results.has(written)) {
          const r = results.get(written)!;
          results.delete(written);
          writeSync(w, JSON.stringify(r) + '\n');
          records.push(r);
          written++;
          o.onRecord?.(done.length + written, input.length);
        }
      };
      const worker = async () => {
        while (!failed && next < todo.length) {
          const i = next++;
          const c = todo[i]!;
          const p = prompts.byId.get(c.id) as PromptRecord;
          try {
            results.set(i, toRecord(await scoreCompletion(p, c.completion, o), o.details ?? false));
          } catch (e) {
            failed = true;
            throw new Error(`${c.id} (input line ${c.line}): ${(e as Error).message}`);
          }
          flush();
        }
      };
      // allSettled: no worker may still write once the file is closed
      const settled = await Promise.allSettled(Array.from({ length: Math.min(jobs, todo.length) }, worker));
      const bad = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
      if (bad) throw bad.reason;
    } finally {
      closeSync(w);
    }
    return records;
  } finally {
    closeSync(lockFd);
    rmSync(lock, { force: true });
  }
}

/** Rates of one language's records, each with its Wilson 95% interval. */
export interface ScoreSummary {
  language: string;
  n: number;
  called: Proportion;
  /** Over records that call the function. */
  arityOk: Proportion;
  /** Over records that use keyword arguments. */
  paramNamesOk: Proportion;
  syntaxOk: Proportion;
  /** executed = pass. */
  passed: Proportion;
  /** Count of each `executed` value. */
  executed: Record<string, number>;
}

const rate = (xs: (boolean | null)[]): Proportion => {
  const v = xs.filter((x): x is boolean => x !== null);
  return wilson(v.filter(Boolean).length, v.length);
};

/** Summaries per language (in the order languages first appear). */
export function summarize(records: ScoreRecord[], prompts: PromptSet): ScoreSummary[] {
  const by = new Map<string, ScoreRecord[]>();
  for (const r of records) {
    const lang = prompts.byId.get(r.id)!.language;
    by.set(lang, [...(by.get(lang) ?? []), r]);
  }
  return [...by].map(([language, rs]) => {
    const executed: Record<string, number> = {};
    for (const r of rs) executed[r.executed] = (executed[r.executed] ?? 0) + 1;
    return {
      language,
      n: rs.length,
      called: rate(rs.map((r) => r.called)),
      arityOk: rate(rs.map((r) => r.arityOk)),
      paramNamesOk: rate(rs.map((r) => r.paramNamesOk)),
      syntaxOk: rate(rs.map((r) => r.syntaxOk)),
      passed: rate(rs.map((r) => r.executed === 'pass')),
      executed,
    };
  });
}

/** The terminal table of {@link summarize}. */
export function formatSummary(sums: ScoreSummary[]): string {
  const pct = (p: Proportion) => (p.rate === null ? `  n/a (0/0)` : `${(100 * p.rate).toFixed(1).padStart(5)}% [${(100 * p.lo!).toFixed(1)}, ${(100 * p.hi!).toFixed(1)}] (${p.k}/${p.n})`);
  const lines: string[] = [];
  for (const s of sums) {
    lines.push(`${s.language}: ${s.n} completion(s)`);
    lines.push(`  called        ${pct(s.called)}`);
    lines.push(`  arityOk       ${pct(s.arityOk)}  (of those that call)`);
    lines.push(`  paramNamesOk  ${pct(s.paramNamesOk)}  (of those using keywords)`);
    lines.push(`  syntaxOk      ${pct(s.syntaxOk)}`);
    lines.push(`  executed=pass ${pct(s.passed)}`);
    lines.push(`  executed      ${Object.entries(s.executed).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  lines.push('rates with Wilson 95% intervals');
  return lines.join('\n');
}
