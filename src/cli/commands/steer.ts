/**
 * `plip steer`: set marker → function attention to dose levels (with matched random-key controls and an
 * optional calibration to another group's natural level); dose-response statistics.
 */
import { Command, Option } from 'commander';
import { loadCorpus } from '../../corpus/index.ts';
import { steerExperiment } from '../../experiments/steer/experiment.ts';
import { parseModes } from '../../experiments/shared/units.ts';
import { action, addModelOptions, indexSelectionArg, openModel, parseFloatArg, parseIntArg, UsageError, type ModelCliOptions } from '../common.ts';
import { INDEX_LIST_HELP } from '../indices.ts';
import { addFullRecomputeOption, addControlsOption, addPermutationsOption, addRunOptions, addSelectionOptions, asUsage, groupList, runFromCli, type RunCliOptions } from './run-experiment.ts';

interface SteerCli extends ModelCliOptions, RunCliOptions {
  corpus: string;
  layers: string;
  heads: string;
  mode: string;
  levels: string;
  calibrateTo?: string;
  controls: number;
  markerToken: 'first' | 'last';
  targets: 'spans' | 'corpus';
  minKey: number;
  groups?: string;
  limit?: number;
  alpha: number;
  nPermutations: number;
}

function parseLevels(text: string): number[] {
  const out = text.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const v = Number(s);
    if (!Number.isFinite(v) || v < 0 || v > 1) throw new UsageError(`--levels: '${s}' is not an attention mass in [0, 1]`);
    return v;
  });
  if (out.length === 0) throw new UsageError('--levels: no levels given');
  return out;
}

async function steerAction(o: SteerCli): Promise<void> {
  const levels = parseLevels(o.levels);
  const modes = asUsage(() => parseModes(o.mode));
  const m = await openModel(o);
  const corpus = await loadCorpus(o.corpus);
  const layers = indexSelectionArg(o.layers, m.spec.nLayers, '--layers');
  const heads = indexSelectionArg(o.heads, m.spec.nHeads, '--heads');
  const options = {
    layers: layers === 'all' ? undefined : layers,
    modes,
    heads,
    levels,
    calibrateTo: o.calibrateTo,
    controls: o.controls,
    markerToken: o.markerToken,
    targets: o.targets,
    minKey: o.minKey,
    groups: groupList(o.groups),
    limit: o.limit,
    alpha: o.alpha,
    nPermutations: o.nPermutations,
  };
  const run = runFromCli(steerExperiment, m, corpus, options, o);
  process.stdout.write(`wrote ${run.records.length} record(s) to ${o.out}\n`);
}

export function registerSteerCommand(program: Command): void {
  const cmd = addModelOptions(program.command('steer').description('steer marker → function attention to dose levels vs matched random keys; dose-response and calibration'))
    .requiredOption('--corpus <file>', 'corpus JSON (format 2.0)')
    .option('--layers <list>', `layers: ${INDEX_LIST_HELP}`, 'all')
    .option('--heads <list>', `query heads to steer: ${INDEX_LIST_HELP}`, 'all')
    .option('--mode <modes>', 'comma-separated: per-layer, all-layers, window', 'per-layer')
    .option('--levels <list>', 'attention-mass levels in [0, 1], comma-separated', '0,0.05,0.1,0.2,0.4,0.7,1')
    .option('--calibrate-to <group>', "also steer the other groups' markers to this group's mean natural mass (per layer and head)");
  addControlsOption(cmd, 3)
    .addOption(new Option('--marker-token <which>', 'token of a multi-token marker used as source and measured (last: the token that has read the whole marker, ] of #[test]; first: PLIP-rs, before the default changed)').choices(['first', 'last']).default('last'))
    .addOption(new Option('--targets <which>', 'target tokens: every token of the def/fn keyword, name and parameter identifiers (spans), or the token of each corpus target character (corpus, PLIP-rs; reproduces results written before spans were the default)').choices(['spans', 'corpus']).default('spans'))
    .option('--min-key <k>', 'never steer or use as controls keys below this token position', parseIntArg('--min-key', 0), 1);
  addSelectionOptions(cmd, 'corpus sample').option('--alpha <a>', 'significance level after correction', parseFloatArg('--alpha', 0), 0.05);
  addPermutationsOption(cmd, 9999);
  addRunOptions(addFullRecomputeOption(cmd), { seed: 'the control draws', out: 'docs/experiments/steer.md' }).action(action(steerAction));
}
