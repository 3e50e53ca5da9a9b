/**
 * `plip patch`: name-swap activation / attention-pattern patching (causal tracing) on copying prompts.
 */
import { Command } from 'commander';
import { addModelOptions, action, openModel, parseFloatArg, parseIntArg, type ModelCliOptions } from '../common.ts';
import { loadCopyingPrompts } from '../../experiments/copying-prompts.ts';
import { PATCH_SCHEMA_VERSION, patchConditions, runPatching, type PatchRecord } from '../../experiments/patching.ts';
import { parseIndexList } from '../../experiments/scan-args.ts';
import { progressBar } from '../../report/progress.ts';
import { modelProvenance, ResultsStore, sha256File, TOOL_NAME, TOOL_VERSION, type Provenance } from '../../report/results.ts';
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
        let prompts = loadCopyingPrompts(o.prompts);
        if (o.groups) {
          const want = new Set(o.groups.split(',').map((g) => g.trim()));
          const known = new Set(prompts.map((p) => p.group));
          for (const g of want) if (!known.has(g)) throw new Error(`--groups: unknown group '${g}' (the file has: ${[...known].join(', ')})`);
          prompts = prompts.filter((p) => want.has(p.group));
        }
        const layers = parseIndexList(o.layers, '--layers', m.spec.nLayers, 'layer');
        const opts = { layers, heads: o.heads, limit: o.limit, seed: o.seed, minGap: o.minGap };
        const header: Provenance = {
          tool: { name: TOOL_NAME, version: TOOL_VERSION },
          experiment: 'patch',
          schemaVersion: PATCH_SCHEMA_VERSION,
          model: modelProvenance(m),
          corpus: { path: o.prompts, sha256: sha256File(o.prompts), nSamples: prompts.length },
          settings: { ...opts, groups: o.groups ?? null, conditions: patchConditions(m, opts) },
          seed: o.seed,
          argv: process.argv.slice(2),
          startedAt: new Date().toISOString(),
        };
        const store = new ResultsStore<PatchRecord>(o.out, header, { restart: o.restart });
        if (store.resumed) process.stderr.write(`resuming: ${store.resumed} record(s) recovered from ${store.progressPath}\n`);
        const perGroup = new Map<string, number>();
        for (const p of prompts) perGroup.set(p.group, (perGroup.get(p.group) ?? 0) + 1);
        const bar = progressBar([...perGroup.values()].reduce((a, n) => a + Math.min(n, o.limit ?? Infinity), 0), 'patch');
        let r;
        try {
          r = runPatching(m, prompts, { ...opts, store, onProgress: (id) => bar.tick(1, id) });
        } catch (e) {
          bar.stop();
          store.close();
          throw e;
        }
        bar.stop();
        store.finish(r.summary);
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
