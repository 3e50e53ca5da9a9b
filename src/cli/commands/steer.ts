/**
 * `plip steer`: set marker → function attention to dose levels (with matched random-key controls and an
 * optional calibration to another group's natural level); dose-response statistics.
 */
import { Command, Option } from 'commander';
import { loadCorpus } from '../../corpus/index.ts';
import { STEER_SCHEMA_VERSION, runSteer, steerSettings, steerSteps, type SteerRecord } from '../../experiments/steer.ts';
import { renderSteerSummary } from '../../experiments/steer-report.ts';
import { parseModes } from './knockout.ts';
import { parseListArg } from '../../interventions/index.ts';
import { makeProvenance } from '../../report/results.ts';
import { action, addModelOptions, openModel, parseFloatArg, parseIntArg, runIntoStore, type ModelCliOptions } from '../common.ts';

interface SteerCli extends ModelCliOptions {
  corpus: string;
  layers: string;
  heads: string;
  mode: string;
  levels: string;
  calibrateTo?: string;
  controls: number;
  seed: number;
  markerToken: 'first' | 'last';
  minKey: number;
  groups?: string;
  limit?: number;
  alpha: number;
  out: string;
  restart?: boolean;
  quiet?: boolean;
}

function parseLevels(text: string): number[] {
  const out = text.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const v = Number(s);
    if (!Number.isFinite(v) || v < 0 || v > 1) throw new Error(`--levels: '${s}' is not an attention mass in [0, 1]`);
    return v;
  });
  if (out.length === 0) throw new Error('--levels: no levels given');
  return out;
}


async function steerAction(o: SteerCli): Promise<void> {
  const levels = parseLevels(o.levels);
  const modes = parseModes(o.mode);
  const m = await openModel(o);
  const corpus = await loadCorpus(o.corpus);
  const layers = parseListArg(o.layers, '--layers');
  const heads = parseListArg(o.heads, '--heads');
  const opts = {
    layers: layers === 'all' ? undefined : layers,
    modes,
    heads,
    levels,
    calibrateTo: o.calibrateTo,
    controls: o.controls,
    seed: o.seed,
    markerToken: o.markerToken,
    minKey: o.minKey,
    groups: o.groups ? o.groups.split(',').map((g) => g.trim()).filter(Boolean) : undefined,
    limit: o.limit,
    alpha: o.alpha,
  };
  const header = makeProvenance({
    experiment: 'steer',
    schemaVersion: STEER_SCHEMA_VERSION,
    model: m,
    corpus: { path: o.corpus, sha256: corpus.sha256, nSamples: corpus.samples.length },
    settings: steerSettings(m, opts),
    seed: o.seed,
    argv: process.argv.slice(2),
  });
  const run = runIntoStore<SteerRecord, ReturnType<typeof runSteer>>(
    { out: o.out, restart: o.restart, header, total: steerSteps(corpus, m, opts), label: 'steer' },
    (store, tick) => runSteer(m, corpus, { ...opts, store, onProgress: tick }),
    (r) => ({ ...r.summary, calibration: r.calibration }),
  );
  if (!o.quiet) process.stdout.write(renderSteerSummary(run.summary) + '\n');
  process.stdout.write(`wrote ${run.records.length} record(s) to ${o.out}\n`);
}

export function registerSteerCommand(program: Command): void {
  addModelOptions(program.command('steer').description('steer marker → function attention to dose levels vs matched random keys; dose-response and calibration'))
    .requiredOption('--corpus <file>', 'corpus JSON (format 2.0)')
    .option('--layers <list>', 'layers: all, 3, 0,2,4 or 0..4 (inclusive)', 'all')
    .option('--heads <list>', 'query heads to steer: all or a list', 'all')
    .option('--mode <modes>', 'comma-separated: per-layer, all-layers, window', 'per-layer')
    .option('--levels <list>', 'attention-mass levels in [0, 1], comma-separated', '0,0.05,0.1,0.2,0.4,0.7,1')
    .option('--calibrate-to <group>', "also steer the other groups' markers to this group's mean natural mass (per layer and head)")
    .option('--controls <n>', 'matched random control draws per sample', parseIntArg('--controls', 1), 3)
    .option('--seed <n>', 'seed of the control draws', parseIntArg('--seed', 0), 0)
    .addOption(new Option('--marker-token <which>', 'token of a multi-token marker used as source').choices(['first', 'last']).default('first'))
    .option('--min-key <k>', 'never steer or use as controls keys below this token position', parseIntArg('--min-key', 0), 1)
    .option('--groups <list>', 'only these corpus groups (comma-separated)')
    .option('--limit <n>', 'at most N samples per group', parseIntArg('--limit', 1))
    .option('--alpha <a>', 'significance level after correction', parseFloatArg('--alpha', 0), 0.05)
    .requiredOption('--out <file>', 'results file (.json or .jsonl; docs/steering.md)')
    .option('--restart', "discard an interrupted run's progress for --out instead of resuming")
    .option('--quiet', 'do not print the summary tables')
    .action(action(steerAction));
}
