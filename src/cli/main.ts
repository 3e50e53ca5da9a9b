/**
 * `plip` command-line interface.
 */
import { Command } from 'commander';
import { TOOL_VERSION } from '../report/results.ts';
import { registerCopyingCommand } from './commands/copying.ts';
import { registerInferenceCommands } from './commands/infer.ts';
import { registerKnockoutCommands } from './commands/knockout.ts';
import { registerObserveCommands } from './commands/observe.ts';
import { registerSteerCommand } from './commands/steer.ts';
import { registerPatchCommand } from './commands/patch.ts';
import { registerReportCommand } from './commands/report.ts';
import { registerViewCommand } from './commands/view.ts';
import { registerStudyCommands } from './commands/study.ts';
import { registerScoreCommand } from './commands/score.ts';
import { registerPreservationCommand } from './commands/preservation.ts';
import { registerSteerGenerationCommands } from './commands/steer-generation.ts';
import { registerTransplantCommand } from './commands/transplant.ts';

const program = new Command();
program.name('plip').description('PLIP-TS: causal interpretability of code language models').version(TOOL_VERSION);
program.showHelpAfterError();
program.exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : 2);
});
registerInferenceCommands(program);
registerKnockoutCommands(program);
registerObserveCommands(program);
registerCopyingCommand(program);
registerSteerCommand(program);
registerPatchCommand(program);
registerReportCommand(program);
registerViewCommand(program);
registerStudyCommands(program);
registerScoreCommand(program);
registerPreservationCommand(program);
registerSteerGenerationCommands(program);
registerTransplantCommand(program);
await program.parseAsync(process.argv);
