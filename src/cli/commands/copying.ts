/**
 * `plip copying`: does a generated test still call the function when the test region cannot attend to
 * the function name? Baseline vs marker→name knockout vs matched random-edge controls, greedy decoding.
 */
import { Command, Option } from 'commander';
import { addModelOptions, action, loadPromptGroups, openModel, promptsToRun, parseFloatArg, parseIntArg, type ModelCliOptions } from '../common.ts';
import { runCopying } from '../../experiments/copying.ts';
import { parseIndexList } from '../../experiments/scan-args.ts';
import { progressBar } from '../../report/progress.ts';
import { renderTable } from '../../report/table.ts';

interface CopyingCli extends ModelCliOptions {
  prompts: string;
  layers: string;
  all: boolean;
  controls: number;
  maxTokens: number;
  seed: number;
  limit?: number;
  targets: 'definition' | 'all';
  level?: number;
  factor?: number;
  heads: string;
  groups?: string;
  out?: string;
  restart?: boolean;
}

export function registerCopyingCommand(program: Command): void {
  addModelOptions(program.command('copying').description('copying rate of generated tests under marker→function-name knockout vs matched controls'))
    .requiredOption('--prompts <file>', 'prompts JSON: { group: [ {id, name, prompt, arity?} ] } (e.g. training/eval/eval_prompts.json)')
    .option('--layers <list>', 'layers, each tested alone: all, 3, 0,2 or 0..3', 'all')
    .option('--no-all', 'do not add the unit that knocks out all listed layers together')
    .option('--controls <n>', 'matched random-edge control draws per prompt', parseIntArg('--controls', 1, 100), 3)
    .option('--max-tokens <n>', 'tokens generated per completion (stops at the first newline)', parseIntArg('--max-tokens', 1, 512), 24)
    .option('--seed <n>', 'seed of the control draws and permutation tests', parseIntArg('--seed'), 0)
    .option('--limit <n>', 'at most N prompts per group', parseIntArg('--limit', 1))
    .addOption(new Option('--targets <which>', 'name occurrences knocked out: the definition only, or every occurrence (e.g. also fn test_NAME)').choices(['definition', 'all']).default('definition'))
    .option('--level <l>', 'steer instead of knocking out: set the edited rows\' attention mass on the name tokens (controls: on the control keys) to L in [0, 1]', parseFloatArg('--level', 0))
    .option('--factor <f>', 'scale instead of knocking out: multiply the edited rows\' weights on the name tokens (controls: control keys) by F ≥ 0, rows renormalised', parseFloatArg('--factor', 0))
    .option('--heads <list>', 'query heads edited: all or a list like 3,4,5', 'all')
    .option('--groups <list>', 'only these groups (comma-separated)')
    .option('--out <file>', 'results (.json or .jsonl), written incrementally and resumable')
    .option('--restart', 'discard an interrupted run of the same --out')
    .action(
      action(async (o: CopyingCli) => {
        const m = await openModel(o);
        const prompts = loadPromptGroups(o.prompts, o.groups);
        const layers = parseIndexList(o.layers, '--layers', m.spec.nLayers, 'layer');
        const units = layers.map((l) => [l]);
        if (o.all && layers.length > 1) units.push(layers);
        const total = promptsToRun(prompts, o.limit);
        const bar = progressBar(total, 'copying');
        const r = runCopying(m, prompts, {
          units, controls: o.controls, maxTokens: o.maxTokens, targets: o.targets, seed: o.seed, level: o.level, factor: o.factor, heads: o.heads === 'all' ? undefined : parseIndexList(o.heads, '--heads', m.spec.nHeads, 'head'), limit: o.limit, out: o.out, promptsPath: o.prompts, restart: o.restart,
          argv: process.argv.slice(2), onProgress: (_d, _t, id) => bar.tick(1, id),
        });
        bar.stop();
        const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
        process.stdout.write(`model ${m.info.id}; prompts ${o.prompts} (${r.records.length}); seed ${o.seed}; greedy, ${o.controls} control draw(s)${r.resumed ? `; resumed ${r.resumed} record(s)` : ''}\n\n`);
        const edit = o.level !== undefined ? `SET to ${o.level}` : o.factor !== undefined ? `SCALED by ${o.factor}` : null;
        process.stdout.write(edit === null
          ? 'Share of completions that call the function by name (first line); knockout = test region cannot attend to the name tokens\n'
          : `Share of completions that call the function by name (first line); "knockout" column = test region's attention on the name tokens ${edit} (controls: on random keys)\n`);
        process.stdout.write(
          renderTable(
            ['group', 'unit', 'n', 'baseline', 'knockout', 'control', 'lost/gained', 'p vs base', 'p vs ctl', 'Holm base', 'Holm ctl', 'effect'],
            r.stats.map((s) => [s.group, s.unit, String(s.n), pct(s.rateBaseline), pct(s.rateKnockout), pct(s.rateControl), `${s.discordant.lost}/${s.discordant.gained}`,
              s.pMcNemarBaseline, Math.max(s.pMcNemarControl, s.pPermControl), s.pHolmBaseline, s.pHolmControl, s.effect ? 'yes' : 'no']),
          ) + '\n',
        );
        process.stdout.write('\nTeacher-forced log p(NAME( | prompt), nats (mean over prompts); p: one-sided paired permutation, control > knockout\n');
        process.stdout.write(
          renderTable(
            ['group', 'unit', 'n', 'baseline', 'knockout', 'control', 'p ctl>ko', 'Holm'],
            r.stats.map((s) => [s.group, s.unit, String(s.nLogprob), s.logprobBaseline, s.logprobKnockout, s.logprobControl, s.pLogprobControl, s.pHolmLogprob]),
          ) + '\n',
        );
        const arity = r.records.filter((x) => x.baseline.arityOk !== null);
        if (arity.length) process.stdout.write(`\nbaseline calls with the right number of arguments: ${pct(arity.filter((x) => x.baseline.arityOk).length / arity.length)} of ${arity.length}\n`);
        if (o.out) process.stdout.write(`wrote ${r.records.length} record(s) to ${o.out}\n`);
      }),
    );
}
