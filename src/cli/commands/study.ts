/**
 * `plip study plan|run|merge`: the roadmap's phases across several models from one study file.
 */
import type { Command } from 'commander';
import { action, writeJson } from '../common.ts';
import { loadStudy } from '../../study/schema.ts';
import { planStudy } from '../../study/plan.ts';
import { renderPlan } from '../../study/render-plan.ts';
import { parseShard, runStudy } from '../../study/run.ts';
import { mergeStudy, writeShardMarker } from '../../study/merge.ts';
import { renderStudyCriteria } from '../../study/criteria.ts';
import { writeStudyOutputs } from '../../study/output.ts';
import { progressBar } from '../../report/progress.ts';
import { UsageError } from '../common.ts';

export function registerStudyCommands(program: Command): void {
  const study = program.command('study').description('the whole roadmap (phases 2–5) across several models from one study file (docs/study.md)');
  study
    .command('plan')
    .description('resolve models, data and phases without running anything; estimate passes, time and memory')
    .argument('<study>', 'study file (JSON, docs/study.md)')
    .option('--out <file>', 'also write the plan as JSON')
    .action(
      action(async (file: string, o: { out?: string }) => {
        const plan = await planStudy(loadStudy(file));
        process.stdout.write(renderPlan(plan) + '\n');
        if (o.out) writeJson(o.out, { ...plan, models: plan.models.map((m) => ({ ...m, model: { ...m.model, spec: undefined } })) });
        if (!plan.ok) process.exitCode = 1;
      }),
    );
  study
    .command('run')
    .description('run every phase on every model (resumable); write DIR/<model>/<phase>.json, DIR/study.json and DIR/report.html')
    .argument('<study>', 'study file (JSON, docs/study.md)')
    .requiredOption('--out <dir>', 'output folder (re-running with the same folder resumes)')
    .option('--shard <k/n>', 'run only shard K of N of the (model × phase × item) grid; merge the shards with plip study merge')
    .action(
      action(async (file: string, o: { out: string; shard?: string }) => {
        const loaded = loadStudy(file);
        let shard;
        try {
          shard = o.shard ? parseShard(o.shard) : undefined;
        } catch (e) {
          throw new UsageError(`--shard: ${(e as Error).message.replace(/^shard: /, '')}`);
        }
        if (shard) writeShardMarker(o.out, loaded, shard);
        const t0 = Date.now();
        let bar = progressBar(0, 'study');
        const r = await runStudy(loaded, {
          out: o.out,
          shard,
          argv: process.argv.slice(2),
          onPhase: (model, phase, total) => {
            bar.stop();
            process.stderr.write(`${model}: ${phase} (${total} items${shard ? `, shard ${shard.k}/${shard.n}` : ''})\n`);
            bar = progressBar(0, `${model} ${phase}`);
          },
          onProgress: (_m, _p, done, total, label) => {
            if (done === 1) {
              bar.stop();
              bar = progressBar(total, label.split(' ')[0] ?? 'items');
            }
            bar.tick(1, label);
          },
        });
        bar.stop();
        const secs = ((Date.now() - t0) / 1000).toFixed(0);
        if (!r.summary) {
          process.stdout.write(`shard ${shard ? `${shard.k}/${shard.n}` : ''} done in ${secs} s: ${r.phases.map((p) => `${p.model}/${p.phase} ${p.selected}/${p.items}`).join(', ')}\nmerge the shards with: plip study merge OUT ${o.out} …\n`);
          return;
        }
        const w = await writeStudyOutputs(o.out, r.summary);
        process.stdout.write(renderStudyCriteria(r.summary) + '\n');
        for (const n of w.notShown) process.stderr.write(`warning: not in the report: ${n}\n`);
        process.stdout.write(`study done in ${secs} s\nsummary: ${w.json}\nreport: ${w.report}\n`);
      }),
    );
  study
    .command('merge')
    .description('merge the shard folders of one study into OUT (the same files as an unsharded run)')
    .argument('<out>', 'output folder of the merged study')
    .argument('<shards...>', 'shard output folders (from plip study run --shard K/N)')
    .action(
      action(async (out: string, shards: string[]) => {
        const r = await mergeStudy(out, shards);
        const w = await writeStudyOutputs(out, r.summary);
        process.stdout.write(renderStudyCriteria(r.summary) + '\n');
        for (const n of w.notShown) process.stderr.write(`warning: not in the report: ${n}\n`);
        process.stdout.write(`merged ${shards.length} shard(s)\nsummary: ${w.json}\nreport: ${w.report}\n`);
      }),
    );
}
