/**
 * `plip calibrate` and `plip steer-gen` (roadmap phase 4): the natural marker → function attention of
 * Python and Rust tests per (layer, head), and Rust test generation steered to the Python level.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { locatePrompts } from '../../corpus/test-prompts.ts';
import { preservationInput } from '../../experiments/preservation/experiment.ts';
import { openScorer } from '../../experiments/shared/scorer.ts';
import { parseModes } from '../../experiments/shared/units.ts';
import { calibrate, calibrationSchema, renderCalibration, type Calibration } from '../../experiments/steer-generation/calibration.ts';
import { steerGenExperiment } from '../../experiments/steer-generation/experiment.ts';
import { loadStudyPrompts } from '../../study/prompts.ts';
import { UsageError, addModelOptions, action, indexListArg, openModel, parseFloatArg, parseIntArg, writeJson, type ModelCliOptions } from '../common.ts';
import { INDEX_LIST_HELP } from '../indices.ts';
import { addControlsOption, addPermutationsOption, addRunOptions, asUsage, runFromCli, type RunCliOptions } from './run-experiment.ts';

/** Reads a calibration file written by `plip calibrate`. */
export function readCalibration(path: string): Calibration {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`--calibration: cannot read ${path} (${(e as Error).message})`);
  }
  const r = calibrationSchema.safeParse(raw);
  if (!r.success) throw new UsageError(`--calibration: ${path} is not a calibration file (${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}); write one with plip calibrate`);
  return r.data;
}

interface CalibrateCli extends ModelCliOptions {
  prompts: string;
  n: number;
  maxNewTokens: number;
  out: string;
}

interface SteerGenCli extends ModelCliOptions, RunCliOptions {
  prompts: string;
  layers: string;
  mode: string;
  multiples: string;
  overSteer: string;
  n: number;
  maxNewTokens: number;
  controls: number;
  nPermutations: number;
  calibration?: string;
  execute: boolean;
}

export function registerSteerGenerationCommands(program: Command): void {
  addModelOptions(program.command('calibrate').description('phase 4 calibration: mean attention mass from test rows to function tokens per (layer, head), Python vs Rust'))
    .requiredOption('--prompts <file>', 'prompts file { "python": [records], "rust": [records] }')
    .option('--n <n>', 'prompts per language', parseIntArg('--n', 1), 50)
    .option('--max-new-tokens <n>', 'longest baseline test generated for the calibration rows', parseIntArg('--max-new-tokens', 1, 1024), 64)
    .requiredOption('--out <file>', 'calibration file (JSON; read by plip steer-gen --calibration)')
    .action(
      action(async (o: CalibrateCli) => {
        const m = await openModel(o);
        const g = asUsage(() => loadStudyPrompts({ python: o.prompts, rust: o.prompts }));
        const { located } = await locatePrompts([...g.python, ...g.rust]);
        const scorer = await openScorer({ execute: false });
        try {
          const c = calibrate(m, located, { n: o.n, maxNewTokens: o.maxNewTokens, targets: 'signature', scorer, modelId: m.info.id });
          writeJson(o.out, c);
          process.stdout.write(renderCalibration(c) + `\nwrote ${o.out}\n`);
        } finally {
          scorer.close();
        }
      }),
    );

  const cmd = addModelOptions(program.command('steer-gen').description('phase 4: generate Rust tests with marker→function attention steered to the Python level, vs mass-holding controls; dose-response'))
    .requiredOption('--prompts <file>', 'prompts file { "python": [records], "rust": [records] } (Python prompts calibrate, Rust prompts are steered)')
    .option('--layers <list>', `layers: ${INDEX_LIST_HELP}`, 'all')
    .option('--mode <list>', 'analysis units: per-layer, all-layers, window', 'per-layer,all-layers')
    .option('--multiples <list>', 'dose-response levels as multiples of the Python level (1 = steered)', '0,0.5,1,1.5,2,3')
    .option('--over-steer <x>', 'over-steering: an absolute mass like 0.15 (the roadmap\'s 15%) or a multiple like x4', '0.15')
    .option('--n <n>', 'Rust prompts (and Python prompts for the calibration)', parseIntArg('--n', 1), 50)
    .option('--max-new-tokens <n>', 'longest generated test', parseIntArg('--max-new-tokens', 1, 1024), 64)
    .option('--calibration <file>', 'a calibration from plip calibrate (default: calibrate on the prompts first)')
    .option('--no-execute', 'do not run the generated tests');
  addControlsOption(cmd, 1);
  addPermutationsOption(cmd, 9999);
  addRunOptions(cmd, { seed: 'the control draws, permutations and bootstrap', out: 'docs/experiments/steer-generation.md' }).action(
    action(async (o: SteerGenCli) => {
      const m = await openModel(o);
      const g = asUsage(() => loadStudyPrompts({ python: o.prompts, rust: o.prompts }));
      const located = await locatePrompts([...g.python, ...g.rust]);
      const multiples = o.multiples.split(',').map((x) => parseFloatArg('--multiples', 0)(x));
      const os = o.overSteer.trim();
      const overSteer = os.startsWith('x') ? { multiple: parseFloatArg('--over-steer', 0)(os.slice(1)) } : { level: parseFloatArg('--over-steer', 0)(os) };
      const scorer = await openScorer({ execute: o.execute });
      try {
        const options = {
          layers: indexListArg(o.layers, m.spec.nLayers, '--layers'),
          modes: asUsage(() => parseModes(o.mode)),
          multiples,
          overSteer,
          n: o.n,
          maxNewTokens: o.maxNewTokens,
          controls: o.controls,
          nPermutations: o.nPermutations,
          calibration: o.calibration ? readCalibration(o.calibration) : undefined,
        };
        const r = runFromCli(steerGenExperiment, m, preservationInput(o.prompts, located, scorer), options, o);
        process.stdout.write(`wrote ${r.records.length} record(s) to ${o.out}\n`);
      } finally {
        scorer.close();
      }
    }),
  );
}
