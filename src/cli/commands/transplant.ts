/**
 * `plip transplant` (roadmap phase 5): Rust generated tests with a Python donor's attention rows
 * transplanted through a semantic position map, vs the donor's activations at the same positions and a
 * Rust-donor control, scored for preservation and log p(NAME( ) (docs/experiments/transplant.md).
 */
import { Command, Option } from 'commander';
import { locatePrompts } from '../../corpus/test-prompts.ts';
import { transplantExperiment, transplantInput } from '../../experiments/transplant/experiment.ts';
import type { TransplantRows } from '../../experiments/transplant/hooks.ts';
import { openScorer } from '../../experiments/shared/scorer.ts';
import { parseModes } from '../../experiments/shared/units.ts';
import { loadStudyPrompts } from '../../study/prompts.ts';
import { addModelOptions, action, indexListArg, openModel, parseFloatArg, parseIntArg, UsageError, type ModelCliOptions } from '../common.ts';
import { INDEX_LIST_HELP } from '../indices.ts';
import { addPermutationsOption, addRunOptions, asUsage, runFromCli, type RunCliOptions } from './run-experiment.ts';

interface TransplantCli extends ModelCliOptions, RunCliOptions {
  prompts: string;
  layers: string;
  mode: string;
  rows: TransplantRows;
  n: number;
  maxNewTokens: number;
  heads: string;
  execute: boolean;
  alpha: number;
  nPermutations: number;
}

export function registerTransplantCommand(program: Command): void {
  const cmd = addModelOptions(program.command('transplant').description("phase 5: do Rust tests improve when a Python donor's attention rows are transplanted (vs its activations and a Rust-donor control)? (docs/experiments/transplant.md)"))
    .requiredOption('--prompts <file>', 'prompts file with "python" donors and "rust" recipients (docs/scoring.md), e.g. prompts/organism.json')
    .option('--layers <list>', `layers: ${INDEX_LIST_HELP}`, 'all')
    .option('--mode <list>', 'analysis units: per-layer, all-layers (comma-separated)', 'per-layer')
    .addOption(new Option('--rows <which>', "recipient rows that take donor rows: 'test' (the marker's and every later row, generated ones included) or 'marker' (only the marker's)").choices(['test', 'marker']).default('test'))
    .option('--n <n>', 'pairs (Rust recipients)', parseIntArg('--n', 1), 50)
    .option('--max-new-tokens <n>', 'longest generated test (generation stops at the end of the test)', parseIntArg('--max-new-tokens', 1, 1024), 64)
    .option('--heads <list>', `query heads of the pattern arms: ${INDEX_LIST_HELP}`, 'all')
    .option('--no-execute', 'do not run the generated tests (executed = null)')
    .option('--alpha <a>', 'α of the criteria after Holm', parseFloatArg('--alpha', 0), 0.05);
  addPermutationsOption(cmd, 9999);
  addRunOptions(cmd, { seed: 'the permutation tests and the bootstrap', out: 'docs/experiments/transplant.md' }).action(
    action(async (o: TransplantCli) => {
      const m = await openModel(o);
      let groups: ReturnType<typeof loadStudyPrompts>;
      try {
        groups = loadStudyPrompts({ python: o.prompts, rust: o.prompts });
      } catch (e) {
        throw new UsageError(`--prompts: ${(e as Error).message} (the transplant needs a "python" group of donors and a "rust" group of recipients)`);
      }
      const layers = indexListArg(o.layers, m.spec.nLayers, '--layers');
      const heads = o.heads.trim() === 'all' ? undefined : indexListArg(o.heads, m.spec.nHeads, '--heads');
      const modes = asUsage(() => parseModes(o.mode));
      for (const md of modes) if (md === 'window') throw new UsageError('--mode: transplant units are per-layer or all-layers');
      const located = await locatePrompts([...groups.python, ...groups.rust]);
      const scorer = await openScorer({ execute: o.execute });
      try {
        const input = await transplantInput(o.prompts, located, m, scorer, o.n);
        const options = { layers, modes: modes as ('per-layer' | 'all-layers')[], rows: o.rows, n: o.n, maxNewTokens: o.maxNewTokens, heads, alpha: o.alpha, nPermutations: o.nPermutations };
        const r = runFromCli(transplantExperiment, m, input, options, o);
        process.stdout.write(`wrote ${r.records.length} record(s) to ${o.out} (${scorer.calls()} distinct completions scored)\n`);
      } finally {
        scorer.close();
      }
    }),
  );
}
