/**
 * `plip score`: scores generated tests with exactly the generation experiments' scorer (docs/scoring.md),
 * so completions made with any tool can be compared.
 */
import type { Command } from 'commander';
import { loadPrompts, PromptsError } from '../../score/prompts-schema.ts';
import { formatSummary, readCompletions, scoreToFile, summarize, ScoreInputError } from '../../score/score-file.ts';
import { assertSandboxAvailable } from '../../sandbox/sandbox.ts';
import { action, parseIntArg, UsageError } from '../common.ts';

interface ScoreCli {
  prompts: string;
  completions: string;
  out: string;
  jobs: number;
  details: boolean;
}

function asUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof PromptsError || e instanceof ScoreInputError) throw new UsageError(e.message);
    throw e;
  }
}

export function registerScoreCommand(program: Command): void {
  program
    .command('score')
    .description('score completions (called, arityOk, paramNamesOk, syntaxOk, executed in the sandbox)')
    .requiredOption('--prompts <file>', 'prompts JSON: { "python": [records], "rust": [records] } (e.g. prompts/real-python.json)')
    .requiredOption('--completions <file>', 'JSONL, one {"id", "completion"} per line; id names a prompt, completion is the text generated after it')
    .requiredOption('--out <file>', 'JSONL of score records, one per completion in input order (resumes after the records already there)')
    .option('--jobs <n>', 'completions scored at once (each runs in its own sandbox)', parseIntArg('--jobs', 1, 64), 1)
    .option('--details', 'add "detail" (why executed came out as it did) to each record', false)
    .action(
      action(async (o: ScoreCli) => {
        const prompts = asUsage(() => loadPrompts(o.prompts));
        const input = asUsage(() => readCompletions(o.completions, prompts));
        assertSandboxAvailable();
        const tty = process.stderr.isTTY;
        const records = await asUsageAsync(() =>
          scoreToFile(prompts, input, o.out, {
            jobs: o.jobs,
            details: o.details,
            onRecord: (done, total) => {
              if (tty) process.stderr.write(`\rscored ${done}/${total}`);
            },
          }),
        );
        if (tty) process.stderr.write('\n');
        process.stdout.write(`${formatSummary(summarize(records, prompts))}\nwrote ${records.length} record(s) to ${o.out}\n`);
      }),
    );
}

async function asUsageAsync<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ScoreInputError) throw new UsageError(e.message);
    throw e;
  }
}
