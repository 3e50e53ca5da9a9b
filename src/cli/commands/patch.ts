/**
 * `plip patch`: name-swap activation / attention-pattern patching (causal tracing) on copying prompts.
 */
import { Command } from 'commander';
import { loadPromptSet } from '../../corpus/prompts.ts';
import { patchExperiment } from '../../experiments/patch/experiment.ts';
import { addModelOptions, action, indexListArg, openModel, parseFloatArg, type ModelCliOptions } from '../common.ts';
import { INDEX_LIST_HELP } from '../indices.ts';
import { addFullRecomputeOption, addRunOptions, addSelectionOptions, asUsage, groupList, runFromCli, type RunCliOptions } from './run-experiment.ts';

interface PatchCli extends ModelCliOptions, RunCliOptions {
  prompts: string;
  layers: string;
  heads: boolean;
  groups?: string;
  limit?: number;
  minGap: number;
}

export function registerPatchCommand(program: Command): void {
  const cmd = addModelOptions(program.command('patch').description('name-swap patching: transplant activations / attention patterns from a donor prompt (another name) into the recipient'))
    .requiredOption('--prompts <file>', 'prompts JSON: { group: [ {id, name, prompt, arity?} ] } (e.g. training/eval/eval_prompts.json)')
    .option('--layers <list>', `layers: ${INDEX_LIST_HELP}`, 'all')
    .option('--no-heads', 'skip the per-head hook_z conditions');
  addSelectionOptions(cmd, 'prompt').option('--min-gap <nats>', 'exclude pairs whose recipient and donor logit differences are closer than this', parseFloatArg('--min-gap', 0), 1);
  addRunOptions(addFullRecomputeOption(cmd), { seed: 'the donor choice and the bootstrap', out: 'docs/experiments/patch.md' }).action(
    action(async (o: PatchCli) => {
      const m = await openModel(o);
      const input = asUsage(() => loadPromptSet(o.prompts, groupList(o.groups)));
      const layers = indexListArg(o.layers, m.spec.nLayers, '--layers');
      const r = runFromCli(patchExperiment, m, input, { layers, heads: o.heads, limit: o.limit, minGap: o.minGap }, o);
      process.stdout.write(`wrote ${r.records.length} record(s) to ${o.out}\n`);
    }),
  );
}
