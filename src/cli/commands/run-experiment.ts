/**
 * The CLI side of the experiment contract: the options every experiment command shares (same names, same
 * validation everywhere) and the adapter flags → options → runExperiment → render.
 *
 * Conventions: `--out FILE` is REQUIRED by every experiment command (results are never written to an
 * implicit path); `--seed N` is a non-negative integer (default 0); `--controls N`, `--limit N` and
 * `--n-permutations N` are positive integers; `--groups a,b` selects input groups (unknown groups are
 * errors). Bad options exit 2, runtime errors 1 (src/cli/common.ts `action`).
 *
 * @module
 */
import type { Command } from 'commander';
import type { HookedModel } from '../../model/model.ts';
import { withFullRecompute } from '../../interventions/incremental.ts';
import { type Experiment, type ExperimentRun, OptionError, type WorkItem } from '../../experiments/contract.ts';
import { runExperiment } from '../../experiments/contract.ts';
import { UnknownGroupError } from '../../corpus/prompts.ts';
import { progressBar } from '../../report/progress.ts';
import { foldRepeated } from '../../report/table.ts';
import { UsageError, flagOf, parseIntArg } from '../common.ts';

/** Options shared by every experiment command. */
export interface RunCliOptions {
  seed: number;
  out: string;
  restart?: boolean;
  quiet?: boolean;
}

/** Adds `--full-recompute` (knockout, steer, patch, copying: conditions recompute only what their edit changes otherwise). */
export function addFullRecomputeOption(cmd: Command): Command {
  return cmd.option('--full-recompute', 'recompute every condition in full instead of only the positions and layers its edit can change (same records within 1e-5; slower)');
}

/** Adds `--seed`, `--out` (required), `--restart`, `--quiet`. */
export function addRunOptions(cmd: Command, what: { seed: string; out: string }): Command {
  return cmd
    .option('--seed <n>', `seed of ${what.seed} (non-negative integer)`, parseIntArg('--seed', 0, Number.MAX_SAFE_INTEGER), 0)
    .requiredOption('--out <file>', `results file (.json or .jsonl; ${what.out}), written incrementally; an interrupted run resumes from <file>.progress.jsonl`)
    .option('--restart', "discard an interrupted run's progress for --out instead of resuming")
    .option('--quiet', 'do not print the summary tables');
}

/** `--groups` (comma-separated) and `--limit` (per group). */
export function addSelectionOptions(cmd: Command, unit: string): Command {
  return cmd.option('--groups <list>', `only these ${unit} groups (comma-separated)`).option('--limit <n>', `at most N ${unit}s per group`, parseIntArg('--limit', 1));
}

/** `--controls N` with the experiment's default. */
export function addControlsOption(cmd: Command, dflt: number): Command {
  return cmd.option('--controls <n>', 'matched random control draws per sample (positive integer)', parseIntArg('--controls', 1, 1000), dflt);
}

/** `--n-permutations N` with the experiment's default. */
export function addPermutationsOption(cmd: Command, dflt: number): Command {
  return cmd.option('--n-permutations <n>', 'Monte Carlo permutations per test (positive integer)', parseIntArg('--n-permutations', 1), dflt);
}

/** `--groups a,b` as a list (undefined when not given). */
export function groupList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const out = text.split(',').map((g) => g.trim()).filter(Boolean);
  if (out.length === 0) throw new UsageError('--groups: no group given');
  return out;
}

/** Runs `f`, turning library {@link OptionError}s (which name a field) into usage errors naming the flag. */
export function asUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof OptionError || e instanceof UnknownGroupError) throw new UsageError(`${flagOf(e.field)}: ${e.detail}`);
    throw e;
  }
}

/**
 * flags → options → runExperiment → render: runs `exp` with a progress bar on stderr, prints the input's
 * caveats and skipped items (folded) before any work, and the rendered summary on stdout (unless --quiet).
 */
export function runFromCli<In, Opt, Cfg, Item extends WorkItem, R extends { key: string }, Sum>(
  exp: Experiment<In, Opt, Cfg, Item, R, Sum>,
  model: HookedModel,
  input: In,
  options: Opt,
  o: RunCliOptions & { stopAfter?: number; fullRecompute?: boolean },
): ExperimentRun<R, Sum, Cfg> {
  let bar = progressBar(0, exp.name);
  try {
    const run = asUsage(() => withFullRecompute(() =>
      runExperiment(exp, model, input, {
        options,
        seed: o.seed,
        out: o.out,
        restart: o.restart,
        stopAfter: o.stopAfter,
        argv: process.argv.slice(2),
        onPlan: (plan, total) => {
          for (const c of foldRepeated(plan.caveats)) process.stderr.write(`warning: ${c}\n`);
          if (plan.skipped.length) {
            process.stderr.write(`warning: ${plan.skipped.length} input item(s) cannot be used and are skipped (listed in the summary):\n`);
            for (const line of foldRepeated(plan.skipped.map((s) => `${s.group}: ${s.reason.replace(s.id, '<id>')}`)).slice(0, 10)) process.stderr.write(`  - ${line}\n`);
          }
          bar = progressBar(total, exp.name);
        },
        onProgress: (_d, _t, label) => bar.tick(1, label),
      }), o.fullRecompute === true),
    );
    bar.stop();
    if (run.resumed) process.stderr.write(`resumed ${run.resumed} record(s) from ${o.out}.progress.jsonl\n`);
    if (run.summary !== null && !o.quiet) process.stdout.write(exp.render(run.summary, run) + '\n');
    return run;
  } finally {
    bar.stop();
  }
}
