/**
 * Shared CLI plumbing: model options, integer parsing, result files, error reporting.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BUNDLED_MODEL, loadModel } from '../model/load.ts';
import type { HookedModel } from '../model/model.ts';
import type { BackendName } from '../tensor/select.ts';
import { loadCopyingPrompts, type CopyingPrompt } from '../corpus/prompts.ts';
import { progressBar } from '../report/progress.ts';
import { ResultsStore, type Provenance } from '../report/results.ts';
import { PlipOptionError } from '../io/errors.ts';
import { checkIndexListSyntax, INDEX_LIST_HELP, parseIndexList, parseIndexSelection } from './indices.ts';

export { INDEX_LIST_HELP };

/** A bad command line (bad flag value, missing or conflicting flags): exit code 2, like commander's own. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The flag a library-level field is set by (`nPermutations` → `--n-permutations`). */
export function flagOf(field: string): string {
  return '--' + field.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/**
 * Parses an index-list flag (`--layers`, `--heads`) with the one grammar of {@link parseIndexList};
 * errors become {@link UsageError}s naming the flag.
 */
export function indexListArg(spec: string, count: number, flag: string): number[] {
  return asUsage(() => parseIndexList(spec, count, flag.replace(/^--/, '')), flag);
}

/** {@link indexListArg}, keeping a lone `all` / `*` as `'all'`. */
export function indexSelectionArg(spec: string, count: number, flag: string): number[] | 'all' {
  return asUsage(() => parseIndexSelection(spec, count, flag.replace(/^--/, '')), flag);
}

/**
 * Commander argument parser for an index-list flag: checks the syntax at parse time (exit 2 before
 * any model is loaded) and keeps the text; expand it with {@link indexListArg} once the count is known.
 */
export function indexListSyntaxArg(flag: string) {
  return (v: string): string => {
    try {
      checkIndexListSyntax(v, flag.replace(/^--/, ''));
    } catch (e) {
      if (e instanceof PlipOptionError) throw new InvalidArgumentError(e.detail);
      throw e;
    }
    return v;
  };
}

function asUsage<T>(f: () => T, flag: string): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof PlipOptionError) throw new UsageError(`${flag}: ${e.detail}`);
    throw e;
  }
}

/**
 * Model used when --model is omitted: the bundled model organism `models/plip-tiny-code` (absolute
 * path inside this package, so it works from any working directory).
 */
export { BUNDLED_MODEL };

export interface ModelCliOptions {
  model: string;
  backend: BackendName;
  revision?: string;
  hubUrl?: string;
  progress?: boolean;
  verify?: boolean;
  compute?: 'f32' | 'bf16';
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--model <model>', 'model directory, Hugging Face id (ORG/NAME), or llama2.c .bin checkpoint').default(BUNDLED_MODEL, 'the bundled model organism models/plip-tiny-code'))
    .addOption(new Option('--backend <backend>', 'matmul backend').choices(['auto', 'ts', 'blas']).default('auto'))
    .option('--revision <rev>', 'Hugging Face revision (branch, tag or commit)', 'main')
    .option('--hub-url <url>', 'Hugging Face endpoint (default $HF_ENDPOINT or https://huggingface.co)')
    .option('--verify', 'hash the cached model files against their sha256 (blob name) before use; damaged ones are fetched again')
    .option('--no-progress', 'no download progress (bars on a terminal, plain lines otherwise)')
    .addOption(
      new Option('--compute <mode>', "activations entering the weight products: f32, or bf16 (bf16 checkpoints on CPUs with avx512_bf16; changes the numbers, see docs/benchmarks.md)")
        .choices(['f32', 'bf16'])
        .default('f32'),
    );
}

export async function openModel(o: ModelCliOptions): Promise<HookedModel> {
  return loadModel(o.model, { backend: o.backend, revision: o.revision, hubUrl: o.hubUrl, progress: o.progress !== false, verify: o.verify === true, compute: o.compute ?? 'f32' });
}

export function parseIntArg(name: string, min = -Infinity, max = Infinity) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`${name} must be an integer (got '${v}')`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max} (got ${n})`);
    return n;
  };
}

export function parseFloatArg(name: string, min = -Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number (got '${v}')`);
    if (n < min) throw new InvalidArgumentError(`${name} must be ≥ ${min} (got ${n})`);
    return n;
  };
}

/** Writes JSON atomically enough for results files (creates parent folders). */
export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(value) + '\n');
}

/**
 * Runs a command action; errors become `error: message` on stderr (stack with PLIP_DEBUG=1) and exit
 * code 2 for usage errors ({@link UsageError}, commander's InvalidArgumentError, a library
 * {@link PlipOptionError}, whose field is shown as its flag), 1 for everything else.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void) {
  return async (...args: A): Promise<void> => {
    try {
      await fn(...args);
    } catch (e) {
      const err = e as Error;
      const usage = e instanceof UsageError || e instanceof InvalidArgumentError || e instanceof PlipOptionError;
      const msg = e instanceof PlipOptionError ? `${flagOf(e.field)}: ${e.detail}` : (err?.message ?? String(e));
      process.stderr.write(`error: ${msg}\n`);
      if (process.env.PLIP_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
      process.exitCode = usage ? 2 : 1;
    }
  };
}

/** Loads a copying-prompts file, keeping only `--groups` (comma-separated) when given; unknown groups are errors. */
export function loadPromptGroups(path: string, groups: string | undefined): CopyingPrompt[] {
  const prompts = loadCopyingPrompts(path);
  if (!groups) return prompts;
  const want = new Set(groups.split(',').map((g) => g.trim()).filter(Boolean));
  const known = new Set(prompts.map((p) => p.group));
  for (const g of want) if (!known.has(g)) throw new Error(`--groups: unknown group '${g}' (the file has: ${[...known].join(', ')})`);
  return prompts.filter((p) => want.has(p.group));
}

/** Number of prompts an experiment runs: at most `limit` per group. */
export function promptsToRun(prompts: readonly CopyingPrompt[], limit: number | undefined): number {
  const perGroup = new Map<string, number>();
  for (const p of prompts) perGroup.set(p.group, (perGroup.get(p.group) ?? 0) + 1);
  return [...perGroup.values()].reduce((a, n) => a + Math.min(n, limit ?? Infinity), 0);
}

/**
 * Runs an experiment into a resumable results file (--out): opens the store (resuming an interrupted run
 * unless `restart`), shows a progress bar of `total` steps, and on success writes the final document
 * with `summary(result)`. On error the progress file is kept for resuming (removed if it holds no record).
 */
export function runIntoStore<R extends { key: string }, T>(
  o: { out: string; restart?: boolean; header: Provenance; total: number; label: string },
  run: (store: ResultsStore<R>, tick: (label: string) => void) => T,
  summary: (result: T) => unknown,
): T {
  const store = new ResultsStore<R>(o.out, o.header, { restart: o.restart });
  if (store.resumed) process.stderr.write(`resuming: ${store.resumed} record(s) recovered from ${store.progressPath}\n`);
  const bar = progressBar(o.total, o.label);
  let result: T;
  try {
    result = run(store, (label) => bar.tick(1, label));
  } catch (e) {
    bar.stop();
    store.close();
    // a run that failed before writing any record (e.g. an invalid option) leaves nothing behind
    if (store.resumed === 0 && store.records().length === 0) rmSync(store.progressPath, { force: true });
    throw e;
  }
  bar.stop();
  store.finish(summary(result));
  return result;
}
