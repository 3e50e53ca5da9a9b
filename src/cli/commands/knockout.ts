/**
 * `plip knockout` (the attention-knockout experiment) and `plip intervene` (one forward pass with
 * attention-edge edits, baseline vs intervened).
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { loadCorpus } from '../../corpus/index.ts';
import { knockoutExperiment } from '../../experiments/knockout/experiment.ts';
import { parseModes } from '../../experiments/shared/units.ts';
import { forwardWithIntervention, parseSpecJson, parseSpecs, type AttentionMaskSpec } from '../../interventions/index.ts';
import type { HookedModel } from '../../model/model.ts';
import { fmt, renderTable } from '../../report/table.ts';
import { INDEX_LIST_HELP } from '../indices.ts';
import { action, addModelOptions, indexListSyntaxArg, indexSelectionArg, openModel, parseFloatArg, parseIntArg, writeJson, type ModelCliOptions } from '../common.ts';
import { addFullRecomputeOption, addControlsOption, addPermutationsOption, addRunOptions, addSelectionOptions, asUsage, groupList, runFromCli, type RunCliOptions } from './run-experiment.ts';

interface KnockoutCli extends ModelCliOptions, RunCliOptions {
  corpus: string;
  layers: string;
  heads: string;
  mode: string;
  window: number;
  controls: number;
  topK: number;
  markerToken: 'first' | 'last';
  targets: 'spans' | 'corpus';
  minKey: number;
  groups?: string;
  limit?: number;
  alpha: number;
  nBoot: number;
  nPermutations: number;
}

async function knockoutAction(o: KnockoutCli): Promise<void> {
  const modes = asUsage(() => parseModes(o.mode));
  const m = await openModel(o);
  const layersSel = indexSelectionArg(o.layers, m.spec.nLayers, '--layers');
  const heads = indexSelectionArg(o.heads, m.spec.nHeads, '--heads');
  const corpus = await loadCorpus(o.corpus);
  const options = {
    layers: layersSel === 'all' ? undefined : layersSel,
    modes,
    window: o.window,
    heads,
    controls: o.controls,
    topK: o.topK,
    markerToken: o.markerToken,
    targets: o.targets,
    minKey: o.minKey,
    groups: groupList(o.groups),
    limit: o.limit,
    alpha: o.alpha,
    nBoot: o.nBoot,
    nPermutations: o.nPermutations,
  };
  const run = runFromCli(knockoutExperiment, m, corpus, options, o);
  process.stdout.write(`wrote ${run.records.length} record(s) to ${o.out}\n`);
}

interface IntervenCli extends ModelCliOptions {
  text?: string;
  ids?: string;
  spec?: string;
  kind?: string;
  factor?: number;
  level?: number;
  layers?: string;
  heads: string;
  sources?: string;
  targets?: string;
  continuation?: string;
  dropFutureEdges?: boolean;
  topK: number;
  out?: string;
}

/** The spec from --spec, or from the flags; index lists use the one CLI grammar (counts: the model's layers/heads, the input's tokens). */
function specFromFlags(o: IntervenCli, m: HookedModel, nTokens: number): AttentionMaskSpec[] {
  if (o.spec) {
    let text: string;
    try {
      text = readFileSync(o.spec, 'utf8');
    } catch (e) {
      throw new Error(`--spec ${o.spec}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return parseSpecJson(text, o.spec);
  }
  if (!o.kind || o.layers === undefined || o.sources === undefined || o.targets === undefined) {
    throw new Error('give --spec FILE, or --kind, --layers, --sources and --targets (and --factor for scale, --level for set)');
  }
  const sel = (v: string, count: number, flag: string) => {
    const x = indexSelectionArg(v, count, flag);
    return x === 'all' ? '*' : x;
  };
  return parseSpecs({
    kind: o.kind,
    ...(o.factor !== undefined ? { factor: o.factor } : {}),
    ...(o.level !== undefined ? { level: o.level } : {}),
    layers: sel(o.layers, m.spec.nLayers, '--layers'),
    heads: sel(o.heads, m.spec.nHeads, '--heads'),
    edges: [{ sources: sel(o.sources, nTokens, '--sources'), targets: sel(o.targets, nTokens, '--targets') }],
  });
}

function intervene(m: HookedModel, o: IntervenCli): void {
  const tok = m.tokenizer;
  let ids: number[];
  if (o.ids) ids = o.ids.split(',').map((s) => parseIntArg('--ids', 0, m.spec.vocabSize - 1)(s));
  else if (o.text !== undefined) {
    if (!tok) throw new Error(`model ${m.info.id} has no tokenizer; pass --ids`);
    ids = tok.encode(o.text);
  } else throw new Error('give --text or --ids');
  const cont = o.continuation !== undefined ? (tok ? tok.encode(o.continuation, { addSpecialTokens: false }) : []) : [];
  const specs = specFromFlags(o, m, ids.length);
  const r = forwardWithIntervention(m, ids, specs, { topK: o.topK, continuation: cont, onMaskedEdges: o.dropFutureEdges ? 'drop' : 'error', capturePatterns: !!o.out });
  const text = (id: number) => (tok ? JSON.stringify(tok.tokenText(id)) : String(id));
  const lines = [`tokens: ${r.tokens.map((id, i) => `${i}:${text(id)}`).join(' ')}`, `prediction position ${r.position}`];
  for (const d of r.dropped) lines.push(`dropped (not applied): spec[${d.spec}] edge ${d.source}→${d.target} (${d.reason === 'future' ? 'future token' : 'outside sliding window'})`);
  const mt = r.metrics;
  lines.push(
    renderTable(
      ['rank', 'baseline', 'p', 'intervened', 'p'],
      r.baseline.topk.map((b, i) => [String(i + 1), text(b.id), b.prob, text(r.intervened.topk[i]!.id), r.intervened.topk[i]!.prob]),
    ),
  );
  lines.push(`KL(baseline ‖ intervened) = ${fmt(mt.kl, 6)} nats; top-1 changed: ${mt.top1Changed}; top-${mt.k} Jaccard ${fmt(mt.topkJaccard, 3)}; Δp(top-1) ${fmt(mt.dProbTop1, 5)}; Δlogit(top-1) ${fmt(mt.dLogitTop1, 5)}`);
  if (mt.continuation) lines.push(`continuation (${mt.continuation.positions.length} tokens): ppl ${fmt(mt.continuation.pplBaseline)} → ${fmt(mt.continuation.pplIntervened)} (Δ ${fmt(mt.continuation.dPpl)}), mean KL ${fmt(mt.continuation.klMean, 6)} nats`);
  process.stdout.write(lines.join('\n') + '\n');
  if (o.out) {
    const pat = (p: Record<number, { toNested(): unknown }>) => Object.fromEntries(Object.entries(p).map(([l, t]) => [l, t.toNested()]));
    writeJson(o.out, {
      model: m.info,
      tokens: r.tokens,
      position: r.position,
      specs,
      edits: r.edits,
      dropped: r.dropped,
      metrics: mt,
      baseline: { topk: r.baseline.topk, patterns: pat(r.baseline.patterns) },
      intervened: { topk: r.intervened.topk, patterns: pat(r.intervened.patterns) },
    });
  }
}

export function registerKnockoutCommands(program: Command): void {
  const ko = addModelOptions(program.command('knockout').description('attention knockout: marker → target edges vs matched random controls, with paired statistics'))
    .requiredOption('--corpus <file>', 'corpus JSON (format 2.0)')
    .option('--layers <list>', `layers to test: ${INDEX_LIST_HELP}`, 'all')
    .option('--heads <list>', `query heads to knock out: ${INDEX_LIST_HELP}`, 'all')
    .option('--mode <modes>', 'comma-separated: per-layer, all-layers, window', 'per-layer,all-layers')
    .option('--window <n>', 'consecutive layers per window (mode window)', parseIntArg('--window', 1), 2);
  addControlsOption(ko, 5)
    .option('--top-k <k>', 'top-k size for the overlap metric', parseIntArg('--top-k', 1), 10)
    .addOption(new Option('--marker-token <which>', 'token of a multi-token marker used as source and measured (last: the token that has read the whole marker, ] of #[test]; first: PLIP-rs, before the default changed)').choices(['first', 'last']).default('last'))
    .addOption(new Option('--targets <which>', 'target tokens: every token of the def/fn keyword, name and parameter identifiers (spans), or the token of each corpus target character (corpus, PLIP-rs; reproduces results written before spans were the default)').choices(['spans', 'corpus']).default('spans'))
    .option('--min-key <k>', 'never knock out or use as control keys below this token position (2 = spare the first content token, a sink in llama2.c models)', parseIntArg('--min-key', 0), 1);
  addSelectionOptions(ko, 'corpus sample')
    .option('--alpha <a>', 'significance level after correction', parseFloatArg('--alpha', 0), 0.05)
    .option('--n-boot <n>', 'bootstrap resamples', parseIntArg('--n-boot', 1), 2000);
  addPermutationsOption(ko, 9999);
  addRunOptions(addFullRecomputeOption(ko), { seed: 'the control and statistics streams', out: 'docs/experiments/knockout.md' }).action(action(knockoutAction));

  addModelOptions(program.command('intervene').description('one forward pass with attention-edge edits: baseline vs intervened next-token distribution'))
    .option('--text <text>', 'input text (tokenized with the model tokenizer)')
    .option('--ids <list>', 'input token ids, comma-separated (instead of --text)')
    .option('--spec <file>', 'intervention spec JSON (one spec or an array; see docs/interventions.md)')
    .option('--kind <kind>', 'knockout | scale | scale(F) | set | set(L)')
    .option('--factor <f>', 'scale factor (≥ 0)', parseFloatArg('--factor', 0))
    .option('--level <l>', 'set: attention mass of the selected edges of each row, in [0, 1]', parseFloatArg('--level', 0))
    .option('--layers <list>', `layers: ${INDEX_LIST_HELP}`, indexListSyntaxArg('--layers'))
    .option('--heads <list>', `query heads: ${INDEX_LIST_HELP}`, indexListSyntaxArg('--heads'), 'all')
    .option('--sources <list>', `query token positions (BOS included): ${INDEX_LIST_HELP}`, indexListSyntaxArg('--sources'))
    .option('--targets <list>', `key token positions (all = every visible key): ${INDEX_LIST_HELP}`, indexListSyntaxArg('--targets'))
    .option('--continuation <text>', 'teacher-forced continuation scored at every position')
    .option('--drop-future-edges', 'drop edges to future tokens (listed) instead of failing')
    .option('--top-k <k>', 'top-k size', parseIntArg('--top-k', 1), 10)
    .option('--out <file>', 'write edits, metrics and the edited layers’ patterns as JSON')
    .action(
      action(async (o: IntervenCli) => {
        intervene(await openModel(o), o);
      }),
    );
}
