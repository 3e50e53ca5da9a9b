// The inference commands (`plip run/logits/inspect`) as `plip` registers them, without the experiment
// commands: lets test/generate/run-cli.test.ts run `plip run` on its own.
import { Command } from 'commander';
import { registerInferenceCommands } from '../../src/cli/commands/infer.ts';

const program = new Command();
program.name('plip').showHelpAfterError();
program.exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : 2);
});
registerInferenceCommands(program);
await program.parseAsync(process.argv);
