/**
 * `plip report RESULTS… [-o report.html] [--figures DIR] [--model M --sample ID]`: one self-contained HTML
 * report (inline SVG figures, no external URL) for results files of any registered kind (docs/report.md).
 */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { loadModel } from '../../model/load.ts';
import { buildReport, exportFigures, readResults } from '../../report/html/build.ts';
import { openRasteriser } from '../../report/html/png.ts';
import { action } from '../common.ts';

interface ReportCli {
  out: string;
  figures?: string;
  png: boolean;
  model?: string;
  sample?: string;
  title?: string;
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('self-contained HTML report (figures, statistics, success criteria, provenance) of results files')
    .argument('<results...>', 'results files (.json / .jsonl) of any plip experiment, or a study summary (DIR/study.json: its phase files are read from it, one part per model and a cross-model part)')
    .option('-o, --out <file>', 'HTML file to write', 'report.html')
    .option('--figures <dir>', 'also export every figure as SVG (and PNG via headless Chromium) into DIR')
    .option('--no-png', 'with --figures: SVG only')
    .option('--model <model>', "model to recompute a sample's attention for the token view (the results' model)")
    .option('--sample <id>', 'sample shown in the token view (default: chosen per kind, named in the report)')
    .option('--title <text>', 'report title')
    .action(
      action(async (results: string[], o: ReportCli) => {
        const docs = results.map(readResults);
        const model = o.model ? await loadModel(o.model) : undefined;
        const report = await buildReport(docs, { model, sample: o.sample }, o.title);
        writeFileSync(o.out, report.html);
        const nFig = report.parts.reduce((a, p) => a + p.figures.length, 0);
        process.stdout.write(`wrote ${o.out}: ${docs.length} result(s), ${nFig} figure(s)${model ? '' : ' (no token view: pass --model)'}\n`);
        if (o.figures) {
          const r = o.png ? await openRasteriser() : { error: '--no-png' };
          try {
            const ex = await exportFigures(report, o.figures, 'png' in r ? r.png : undefined);
            process.stdout.write(`wrote ${ex.svg.length} SVG and ${ex.png.length} PNG figure(s) to ${o.figures}${'error' in r ? ` (no PNG: ${r.error})` : ''}\n`);
          } finally {
            if ('close' in r) await r.close();
          }
        }
      }),
    );
}
