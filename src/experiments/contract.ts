/**
 * The experiment contract: what every experiment (scan, knockout, copying, steer, patch) defines, and the
 * one runner that owns everything around it — option validation order, whole-input validation before any
 * work, provenance, the resumable and exclusively locked results store, progress, and the final file.
 *
 * An experiment is a plain object ({@link Experiment}); its zod record and summary schemas are the only
 * source of its record and summary types (`z.infer`). {@link runExperiment} runs it:
 *
 *  1. `configure(model, input, options)` resolves and validates the options (errors are
 *     {@link OptionError}s naming the field; the CLI maps fields to flags and exits 2);
 *  2. `plan(model, input, config)` validates the WHOLE input and lists the items to run, the items that
 *     cannot be used (reported and skipped, with reasons), and caveats to show before the results.
 *     A plan with no usable item is an error. Samples longer than the model's context are errors naming
 *     the sample (one rule for every experiment; see {@link checkContext});
 *  3. opens the results store (`out`; resumes an interrupted run of the same settings; refuses a second
 *     writer; see src/report/results.ts), then `runItem(item, ctx)` for each item in order: it emits
 *     records through `ctx.add` (skipping keys `ctx.has` already) and reports progress through `ctx.tick`;
 *  4. `summarize(records, ctx)` → the summary; the final document `{header, records, summary}` is written.
 *
 * @module
 */
import { fullRecomputeByDefault } from '../interventions/incremental.ts';
import type { z } from 'zod';
import type { HookedModel } from '../model/model.ts';
import { type Provenance, ResultsStore, TOOL_NAME, TOOL_VERSION, checkOutPath, modelProvenance } from '../report/results.ts';

/**
 * An invalid option or input, naming the library-level field (`layers`, `controls`, …); the CLI maps it to a
 * flag and exits 2. The one option-error class of the library (src/io/errors.ts), under the contract's name.
 */
export { PlipOptionError as OptionError } from '../io/errors.ts';
import { PlipOptionError as OptionError } from '../io/errors.ts';

/** The input file of a run (recorded in the header as `corpus`). */
export interface InputSource {
  path: string;
  sha256: string;
  nSamples: number;
}

/** An input item that cannot be used, reported in the summary with the reason. */
export interface SkippedItem {
  id: string;
  group: string;
  reason: string;
}

/** One unit of work. */
export interface WorkItem {
  /** Progress steps it reports through `ctx.tick`. */
  steps: number;
  /** Record keys it produces, when known in advance (lets `stopAfter` skip items already done). */
  keys?: string[];
}

/** What `plan` returns: the work, in order, and what was left out. */
export interface Plan<Item> {
  items: Item[];
  skipped: SkippedItem[];
  /** Caveats about the input, shown before any result (folded when repeated). */
  caveats: string[];
}

/** What `runItem` gets. */
export interface ItemContext<Cfg, R> {
  model: HookedModel;
  config: Cfg;
  seed: number;
  /** Whether a record with this key is already in the store (resumed). */
  has(key: string): boolean;
  /** Appends a finished record (durably when there is a results file). */
  add(record: R): void;
  /** One progress step done (`label`: what was done, e.g. the sample id). */
  tick(label: string): void;
}

/** What `summarize` gets. */
export interface SummaryContext<In, Cfg> {
  model: HookedModel;
  input: In;
  config: Cfg;
  seed: number;
  plan: Plan<unknown>;
}

/**
 * One experiment.
 * @typeParam In - its input (a corpus, a prompt set)
 * @typeParam Opt - its options as a library user passes them
 * @typeParam Cfg - the resolved options used while running
 * @typeParam Item - one unit of work (`steps` = progress steps it reports)
 * @typeParam R - one results record (`key` unique)
 * @typeParam Sum - the summary
 */
export interface Experiment<In, Opt, Cfg, Item extends WorkItem, R extends { key: string }, Sum> {
  name: string;
  /** Version of the record/summary schema (bump on an incompatible change; recorded in the header). */
  schemaVersion: number;
  /**
   * Whether its conditions go through incremental recomputation (src/interventions/incremental.ts): the
   * header then records `recompute` ('incremental' or 'full', from `--full-recompute`), compared on resume
   * so that one results file never mixes the two paths.
   */
  recomputes?: boolean;
  recordSchema: z.ZodType<R>;
  summarySchema: z.ZodType<Sum>;
  /** The input file recorded in the header. */
  source(input: In): InputSource | undefined;
  /**
   * Resolves and validates the options. `settings` (recorded in the header and compared on resume) are the
   * options that determine the records; `config` is everything the run needs.
   * @throws OptionError naming the field
   */
  configure(model: HookedModel, input: In, options: Opt): { config: Cfg; settings: Record<string, unknown> };
  /** Validates the whole input and lists the work. @throws Error naming the sample for unusable input that is not skippable */
  plan(model: HookedModel, input: In, config: Cfg): Plan<Item>;
  runItem(item: Item, ctx: ItemContext<Cfg, R>): void;
  summarize(records: R[], ctx: SummaryContext<In, Cfg>): Sum;
  /** The summary as terminal text, caveats first (`run`: the header and records it summarises). */
  render(summary: Sum, run: { header: Provenance; records: R[] }): string;
  /** Order of the records in the final file (default: the order they were added, resumed ones first). */
  orderRecords?(records: R[], plan: Plan<Item>): R[];
}

/** Options of {@link runExperiment}. */
export interface RunOptions<Opt> {
  /** The experiment's own options. */
  options: Opt;
  /** Seed of every random stream of the run (integer; default 0). Recorded in the header. */
  seed?: number;
  /** Results file (.json or .jsonl); without it the run stays in memory. */
  out?: string;
  /** Discard an interrupted run's progress for `out` instead of resuming. */
  restart?: boolean;
  /** Run at most this many items that produce new records, then stop leaving a resumable progress file. */
  stopAfter?: number;
  /**
   * Run only the items for which this is true (one shard of a larger run, see src/study/shard.ts). The
   * run then stops without a summary, its records left in `<out>.progress.jsonl` for a merge.
   */
  select?: (index: number, item: WorkItem) => boolean;
  /** Command line, recorded in the header. */
  argv?: string[];
  /** Called once the plan is known, before any work (e.g. to print caveats and skipped items). */
  onPlan?: (plan: Plan<unknown>, totalSteps: number) => void;
  /** Called after each progress step. */
  onProgress?: (done: number, total: number, label: string) => void;
}

/** Result of {@link runExperiment}. */
export interface ExperimentRun<R, Sum, Cfg = unknown> {
  header: Provenance;
  records: R[];
  /** null when the run stopped early (`stopAfter`). */
  summary: Sum | null;
  complete: boolean;
  /** Records recovered from an interrupted run. */
  resumed: number;
  skipped: SkippedItem[];
  caveats: string[];
  config: Cfg;
}

/**
 * THE context rule of every experiment: the tokens a sample runs (for generation: prompt + generated
 * tokens) must fit the model's context; otherwise the run stops before any work with an error naming the
 * sample. Truncating would silently change what is measured.
 */
export function checkContext(model: HookedModel, id: string, nTokens: number, what = 'tokens'): void {
  if (nTokens > model.spec.nCtx) {
    throw new Error(`sample '${id}': ${nTokens} ${what} exceed the model's context of ${model.spec.nCtx} tokens; shorten the sample or remove it from the input`);
  }
}

/**
 * Records in the order of the plan's item keys (items without keys keep insertion order), so that a run
 * resumed after a crash, or merged from shards, lists its records exactly as an uninterrupted run does.
 */
export function planOrder<R extends { key: string }>(records: R[], plan: Plan<WorkItem>): R[] {
  const rank = new Map<string, number>();
  for (const it of plan.items) for (const k of it.keys ?? []) if (!rank.has(k)) rank.set(k, rank.size);
  if (rank.size === 0) return records;
  const at = (r: R) => rank.get(r.key) ?? Number.MAX_SAFE_INTEGER;
  return records.map((r, i) => ({ r, i })).sort((a, b) => at(a.r) - at(b.r) || a.i - b.i).map((x) => x.r);
}

/** Characters one token is assumed to span at most, for {@link checkContextChars}. */
export const MAX_CHARS_PER_TOKEN = 256;

/**
 * The context rule, checked on the text before tokenizing it, so that a huge sample (megabytes of code) is
 * rejected at once instead of being tokenized: more than {@link MAX_CHARS_PER_TOKEN} × context characters
 * cannot fit. Samples that pass are then checked exactly on their tokens ({@link checkContext}).
 */
export function checkContextChars(model: HookedModel, id: string, text: string): void {
  if (text.length > MAX_CHARS_PER_TOKEN * model.spec.nCtx) {
    throw new Error(`sample '${id}': ${text.length} characters cannot fit the model's context of ${model.spec.nCtx} tokens (checked before tokenizing, at most ${MAX_CHARS_PER_TOKEN} characters per token); shorten the sample or remove it from the input`);
  }
}

/** Validates a seed (any safe integer). @throws OptionError('seed') */
export function checkSeed(seed: number): number {
  if (!Number.isSafeInteger(seed)) throw new OptionError('seed', `must be an integer (got ${seed})`);
  return seed;
}

/**
 * Runs `exp` on `model` and `input`: see the module doc for the steps. With `out` every record is written
 * as soon as it is finished and an interrupted run resumes without loss or duplication.
 */
export function runExperiment<In, Opt, Cfg, Item extends WorkItem, R extends { key: string }, Sum>(
  exp: Experiment<In, Opt, Cfg, Item, R, Sum>,
  model: HookedModel,
  input: In,
  o: RunOptions<Opt>,
): ExperimentRun<R, Sum, Cfg> {
  const seed = checkSeed(o.seed ?? 0);
  if (o.stopAfter !== undefined && !(Number.isInteger(o.stopAfter) && o.stopAfter >= 0)) throw new OptionError('stopAfter', `must be a non-negative integer (got ${o.stopAfter})`);
  if (o.out !== undefined) checkOutPath(o.out);
  const { config, settings } = exp.configure(model, input, o.options);
  const plan = exp.plan(model, input, config);
  if (plan.items.length === 0) {
    const why = plan.skipped.length ? `: every item was skipped (${plan.skipped.slice(0, 3).map((s) => `${s.id}: ${s.reason}`).join('; ')}${plan.skipped.length > 3 ? '; …' : ''})` : ' (the input selects no sample)';
    throw new Error(`${exp.name}: nothing to run${why}`);
  }
  const source = exp.source(input);
  const header: Provenance = {
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    experiment: exp.name,
    schemaVersion: exp.schemaVersion,
    model: modelProvenance(model),
    ...(source ? { corpus: source } : {}),
    settings,
    seed,
    ...(exp.recomputes ? { recompute: fullRecomputeByDefault() ? ('full' as const) : ('incremental' as const) } : {}),
    ...(o.argv ? { argv: o.argv } : {}),
    startedAt: new Date().toISOString(),
  };
  const total = plan.items.reduce((n, it) => n + it.steps, 0);
  o.onPlan?.(plan, total);
  const store = o.out !== undefined ? new ResultsStore<R>(o.out, header, { restart: o.restart }) : null;
  const mem = new Map<string, R>();
  let done = 0;
  let added = 0;
  const ctx: ItemContext<Cfg, R> = {
    model,
    config,
    seed,
    has: (k) => (store ? store.has(k) : mem.has(k)),
    add: (r) => {
      added++;
      if (store) store.add(r);
      else {
        if (mem.has(r.key)) throw new Error(`internal: duplicate results record '${r.key}'`);
        mem.set(r.key, r);
      }
    },
    tick: (label) => o.onProgress?.(++done, total, label),
  };
  let stopped = false;
  try {
    let fresh = 0;
    for (const [index, item] of plan.items.entries()) {
      if (o.select && !o.select(index, item)) continue;
      const pending = !item.keys || item.keys.some((k) => !ctx.has(k));
      if (pending && o.stopAfter !== undefined && fresh >= o.stopAfter) {
        stopped = true;
        break;
      }
      const before = added;
      exp.runItem(item, ctx);
      if (added > before) fresh++;
    }
    let records = store ? store.records() : [...mem.values()];
    records = exp.orderRecords ? exp.orderRecords(records, plan) : planOrder(records, plan);
    const resumed = store?.resumed ?? 0;
    if (stopped || o.select) {
      store?.close();
      return { header: store?.header ?? header, records, summary: null, complete: false, resumed, skipped: plan.skipped, caveats: plan.caveats, config };
    }
    const summary = exp.summarize(records, { model, input, config, seed, plan: plan as Plan<unknown> });
    store?.finish(summary);
    return { header, records, summary, complete: true, resumed, skipped: plan.skipped, caveats: plan.caveats, config };
  } catch (e) {
    store?.close();
    throw e;
  }
}

/** Run options that the library wrappers (`runScan`, `runKnockout`, …) accept next to the experiment's own options. */
export type RunExtras = Omit<RunOptions<unknown>, 'options'>;

/** Splits `{...experiment options, ...run options}` into the two (see {@link RunExtras}). */
export function splitRunOptions<Opt>(o: Opt & RunExtras): { options: Opt; run: RunExtras } {
  const { seed, out, restart, stopAfter, argv, onPlan, onProgress, ...options } = o;
  return { options: options as Opt, run: { seed, out, restart, stopAfter, argv, onPlan, onProgress } };
}
