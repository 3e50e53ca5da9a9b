/**
 * `plip study plan|run|merge`: the roadmap's phases across several models from one study file.
 */
import type { Command } from 'commander';
import { action, writeJson } from '../common.ts';
import { loadStudy } from '../../study/schema.ts';
import { planStudy } from '../../study/plan.ts';
import { renderPlan } from '../../study/render-plan.ts';

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
}
