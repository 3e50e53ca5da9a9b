/**
 * `plip copying`: does a generated test still call the function when the test region cannot attend to
 * the function name? Baseline vs marker→name knockout vs matched random-edge controls, greedy decoding.
 */
import { Command, Option } from 'commander';
import { loadPromptSet } from '../../corpus/prompts.ts';
import { copyingExperiment } from '../../experiments/copying/experiment.ts';
import { addModelOptions, action, indexListArg, openModel, parseFloatArg, parseIntArg, type ModelCliOptions } from '../common.ts';
import { INDEX_LIST_HELP } from '../indices.ts';
import { addFullRecomputeOption, addControlsOption, addRunOptions, addSelectionOptions, asUsage, groupList, runFromCli, type RunCliOptions } from './run-experiment.ts';

interface CopyingCli extends ModelCliOptions, RunCliOptions {
  prompts: string;
  layers: string;
  all: boolean;
  controls: number;
  maxTokens: number;
  limit?: number;
  targets: 'definition' | 'all';
  level?: number;
  factor?: number;
  heads: string;
  groups?: string;
}

export function registerCopyingCommand(program: Command): void {
  const cmd = addModelOptions(program.command('copying').description('copying rate of generated tests under marker→function-name knockout vs matched controls'))
    .requiredOption('--prompts <file>', 'prompts JSON: { group: [ {id, name, prompt, arity?} ] } (e.g. training/eval/eval_prompts.json)')
    .option('--layers <list>', `layers, each tested alone: ${INDEX_LIST_HELP}`, 'all')
    .option('--no-all', 'do not add the unit that knocks out all listed layers together');
  addControlsOption(cmd, 3)
    .option('--max-tokens <n>', 'tokens generated per completion (stops at the first newline)', parseIntArg('--max-tokens', 1, 512), 24)
    .addOption(new Option('--targets <which>', 'name occurrences knocked out: the definition only, or every occurrence (e.g. also fn test_NAME)').choices(['definition', 'all']).default('definition'))
    .option('--level <l>', 'steer instead of knocking out: set the edited rows\' attention mass on the name tokens (controls: on the control keys) to L in [0, 1]', parseFloatArg('--level', 0))
    .option('--factor <f>', 'scale instead of knocking out: multiply the edited rows\' weights on the name tokens (controls: control keys) by F ≥ 0, rows renormalised', parseFloatArg('--factor', 0))
    .option('--heads <list>', `query heads edited: ${INDEX_LIST_HELP}`, 'all');
  addSelectionOptions(cmd, 'prompt');
  addRunOptions(addFullRecomputeOption(cmd), { seed: 'the control draws and permutation tests', out: 'docs/experiments/copying.md' }).action(
    action(async (o: CopyingCli) => {
      const m = await openModel(o);
      const input = asUsage(() => loadPromptSet(o.prompts, groupList(o.groups)));
      const layers = indexListArg(o.layers, m.spec.nLayers, '--layers');
      const units = layers.map((l) => [l]);
      if (o.all && layers.length > 1) units.push(layers);
      const heads = o.heads.trim() === 'all' ? undefined : indexListArg(o.heads, m.spec.nHeads, '--heads');
      const options = { units, controls: o.controls, maxTokens: o.maxTokens, targets: o.targets, level: o.level, factor: o.factor, heads, limit: o.limit };
      const r = runFromCli(copyingExperiment, m, input, options, o);
      process.stdout.write(`wrote ${r.records.length} record(s) to ${o.out}\n`);
    }),
  );
}
