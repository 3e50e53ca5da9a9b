/**
 * `plip view --model M [--corpus C] [--prompts P] [--port N] [--results-dir D]`: the local attention viewer
 * with live interventions (src/view/server.ts), bound to 127.0.0.1 only.
 */
import { Command } from 'commander';
import { loadCorpus } from '../../corpus/load.ts';
import { loadCopyingPrompts } from '../../corpus/prompts.ts';
import { startViewer, type ViewerSample } from '../../view/server.ts';
import { action, addModelOptions, openModel, parseIntArg, type ModelCliOptions } from '../common.ts';

interface ViewCli extends ModelCliOptions {
  corpus?: string;
  prompts?: string;
  port: number;
  resultsDir: string;
}

export function registerViewCommand(program: Command): void {
  addModelOptions(program.command('view').description('local web app: attention heatmaps and live knockout / amplify / set(ℓ) on a model held server-side (127.0.0.1 only)'))
    .option('--corpus <file>', 'attention corpus whose samples can be picked (e.g. ../shared/corpus/attention_samples_universal.json)')
    .option('--prompts <file>', 'copying prompts whose prompts can be picked (e.g. training/eval/eval_prompts.json)')
    .option('--port <n>', 'port on 127.0.0.1 (0 = any free port)', parseIntArg('--port', 0, 65535), 8737)
    .option('--results-dir <dir>', 'results files under this directory can be opened as reports in the page', '.')
    .action(
      action(async (o: ViewCli) => {
        const model = await openModel(o);
        const samples: ViewerSample[] = [];
        if (o.corpus) for (const s of (await loadCorpus(o.corpus)).samples) samples.push({ id: s.id, group: s.group, text: s.code });
        if (o.prompts) for (const p of loadCopyingPrompts(o.prompts)) samples.push({ id: p.id, group: p.group, text: p.prompt });
        const v = await startViewer({ model, samples, resultsDir: o.resultsDir, port: o.port });
        process.stdout.write(`plip view: ${model.info.id}, ${samples.length} sample(s); open ${v.url} (Ctrl-C to stop)\n`);
        await new Promise<void>((res) => process.once('SIGINT', () => void v.close().then(res)));
      }),
    );
}
