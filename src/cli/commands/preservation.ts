/**
 * `plip preservation` (roadmap phase 3): generated tests under knockout / amplify of marker → function
 * edges vs matched random-key controls, scored for preservation (called, arity, parameter names, syntax,
 * execution in the sandbox).
 */
import { Command, Option } from 'commander';
import { locatePrompts } from '../../corpus/test-prompts.ts';
import { preservationExperiment, preservationInput } from '../../experiments/preservation/experiment.ts';
import { openScorer } from '../../experiments/shared/scorer.ts';
import { parseModes } from '../../experiments/shared/units.ts';
import { loadStudyPrompts } from '../../study/prompts.ts';
import { addModelOptions, action, indexListArg, openModel, parseFloatArg, parseIntArg, type ModelCliOptions } from '../common.ts';
import { INDEX_LIST_HELP } from '../indices.ts';
import { addControlsOption, addRunOptions, asUsage, runFromCli, type RunCliOptions } from './run-experiment.ts';

interface PreservationCli extends ModelCliOptions, RunCliOptions {
  prompts: string;
  layers: string;
  mode: string;
  window: number;
  conditions: string;
  levels?: string;
  n: number;
  maxNewTokens: number;
  controls: number;
  heads: string;
  targets: 'signature' | 'signature+name';
  execute: boolean;
  alpha: number;
}

export function registerPreservationCommand(program: Command): void {
  const cmd = addModelOptions(program.command('preservation').description('phase 3: do generated tests still call the function under knockout / amplify of marker→function attention? (docs/experiments/preservation.md)'))
    .requiredOption('--prompts <file>', 'prompts file { "python": [records], "rust": [records] } (docs/scoring.md), e.g. prompts/organism.json')
    .option('--layers <list>', `layers: ${INDEX_LIST_HELP}`, 'all')
    .option('--mode <list>', 'analysis units: per-layer, all-layers, window (comma-separated)', 'per-layer,all-layers,window')
    .option('--window <n>', 'width of a window of consecutive layers', parseIntArg('--window', 1), 2)
    .option('--conditions <list>', 'edited conditions: knockout, amplify (amplify = unnormalised weight × 2)', 'knockout,amplify')
    .option('--levels <list>', 'extra amplification factors, e.g. 4,8')
    .option('--n <n>', 'prompts per language', parseIntArg('--n', 1), 50)
    .option('--max-new-tokens <n>', 'longest generated test (generation stops at the end of the test)', parseIntArg('--max-new-tokens', 1, 1024), 64)
    .option('--heads <list>', `query heads edited: ${INDEX_LIST_HELP}`, 'all')
    .addOption(new Option('--targets <which>', 'function tokens: the signature (def/fn, name, parameters) or also later copies of the name (fn test_NAME)').choices(['signature', 'signature+name']).default('signature'))
    .option('--no-execute', 'do not run the generated tests (executed = null)')
    .option('--alpha <a>', 'α of the criteria after Holm', parseFloatArg('--alpha', 0), 0.05);
  addControlsOption(cmd, 1);
  addRunOptions(cmd, { seed: 'the control draws and the bootstrap', out: 'docs/experiments/preservation.md' }).action(
    action(async (o: PreservationCli) => {
      const m = await openModel(o);
      const groups = asUsage(() => loadStudyPrompts({ python: o.prompts, rust: o.prompts }));
      const located = await locatePrompts([...groups.python, ...groups.rust]);
      const layers = indexListArg(o.layers, m.spec.nLayers, '--layers');
      const heads = o.heads.trim() === 'all' ? undefined : indexListArg(o.heads, m.spec.nHeads, '--heads');
      const conditions = o.conditions.split(',').map((c) => c.trim()) as ('knockout' | 'amplify')[];
      const levels = o.levels ? o.levels.split(',').map((x) => parseFloatArg('--levels', 0)(x)) : [];
      const scorer = await openScorer({ execute: o.execute });
      try {
        const options = { layers, modes: asUsage(() => parseModes(o.mode)), window: o.window, conditions, levels, n: o.n, maxNewTokens: o.maxNewTokens, controls: o.controls, heads, targets: o.targets, alpha: o.alpha };
        const r = runFromCli(preservationExperiment, m, preservationInput(o.prompts, located, scorer), options, o);
        process.stdout.write(`wrote ${r.records.length} record(s) to ${o.out} (${scorer.calls()} distinct completions scored)\n`);
      } finally {
        scorer.close();
      }
    }),
  );
}
