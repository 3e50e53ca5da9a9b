/**
 * `plip patch`: name-swap activation / attention-pattern patching (causal tracing) on copying prompts.
 */
import { Command } from 'commander';
import { addModelOptions, action, loadPromptGroups, openModel, promptsToRun, parseFloatArg, parseIntArg, runIntoStore, type ModelCliOptions } from '../common.ts';
import { PATCH_SCHEMA_VERSION, patchConditions, runPatching, type PatchRecord } from '../../experiments/patching.ts';
import { parseIndexList } from '../../experiments/scan-args.ts';
import { makeProvenance, sha256File } from '../../report/results.ts';
import { fmt, renderTable } from '../../report/table.ts';

interface PatchCli extends ModelCliOptions {
  prompts: string;
  layers: string;
  heads: boolean;
  groups?: string;
  limit?: number;
  seed: number;
  minGap: number;
  out: string;
  restart?: boolean;
}

export function registerPatchCommand(program: Command): void {
  addModelOptions(program.command('patch').description('name-swap patching: transplant activations / attention patterns from a donor prompt (another name) into the recipient'))
    .requiredOption('--prompts <file>', 'prompts JSON: { group: [ {id, name, prompt, arity?} ] } (e.g. training/eval/eval_prompts.json)')
    .option('--layers <list>', 'layers: all, 3, 0,2 or 0..3', 'all')
    .option('--no-heads', 'skip the per-head hook_z conditions')
    .option('--groups <list>', 'only these groups (comma-separated)')
    .option('--limit <n>', 'at most N prompts per group', parseIntArg('--limit', 1))
    .option('--seed <n>', 'seed of the donor choice and the bootstrap', parseIntArg('--seed', 0), 0)
    .option('--min-gap <nats>', 'exclude pairs whose recipient and donor logit differences are closer than this', parseFloatArg('--min-gap', 0), 1)
    .requiredOption('--out <file>', 'results (.json or .jsonl), written incrementally and resumable (docs/patching.md)')
    .option('--restart', 'discard an interrupted run of the same --out')
    .action(
      action(async (o: PatchCli) => {
        const m = await openModel(o);
        const prompts = loadPromptGroups(o.prompts, o.groups);
        const layers = parseIndexList(o.layers, '--layers', m.spec.nLayers, 'layer');
        const opts = { layers, heads: o.heads, limit: o.limit, seed: o.seed, minGap: o.minGap };
        const header = makeProvenance({
          experiment: 'patch',
          schemaVersion: PATCH_SCHEMA_VERSION,
          model: m,
          corpus: { path: o.prompts, sha256: sha256File(o.prompts), nSamples: prompts.length },
          settings: { ...opts, groups: o.groups ?? null, conditions: patchConditions(m, opts) },
          seed: o.seed,
          argv: process.argv.slice(2),
        });
        const total = promptsToRun(prompts, o.limit);
        const r = runIntoStore<PatchRecord, ReturnType<typeof runPatching>>(
          { out: o.out, restart: o.restart, header, total, label: 'patch' },
          (store, tick) => runPatching(m, prompts, { ...opts, store, onProgress: tick }),
          (x) => x.summary,
        );
        process.stdout.write('Name-swap patching: effect = share of the recipient→donor change of logit[A₁] − logit[B₁] at the last prompt position that the patch reproduces (0 none, 1 full)\n');
        process.stdout.write(
          renderTable(
            ['group', 'condition', 'n', 'mean effect', '95% CI', 'median', 'p', 'p Holm'],
            r.summary.conditions.map((c) => [c.group, c.condition, String(c.n), c.meanEffect, c.ci ? `[${fmt(c.ci.lo, 3)}, ${fmt(c.ci.hi, 3)}]` : '—', c.medianEffect, c.p, c.pHolm]),
          ) + '\n',
        );
        process.stdout.write(`pairs: ${r.summary.nPairs}; excluded: ${r.summary.excluded.length}\n`);
        for (const x of r.summary.excluded.slice(0, 8)) process.stdout.write(`  - ${x.id} (${x.group}): ${x.reason}\n`);
        process.stdout.write(`wrote ${r.records.length} record(s) to ${o.out}\n`);
      }),
    );
}
