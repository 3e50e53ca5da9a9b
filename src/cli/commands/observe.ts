/**
 * Observation commands (GitHub issue #3): `plip corpus validate|resolve`, `plip positions`, `plip scan`.
 * Thin layers over src/corpus and src/experiments/{positions,scan}.ts.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { corpusToJson, loadCorpus } from '../../corpus/index.ts';
import type { Corpus } from '../../corpus/schema.ts';
import { mapSample, summarizeMappings, type MarkerTokenChoice, type SampleMapping } from '../../corpus/positions.ts';
import { scanExperiment } from '../../experiments/scan/experiment.ts';
import { renderTable } from '../../report/table.ts';
import { addModelOptions, action, indexListArg, openModel, parseFloatArg, parseIntArg, writeJson, type ModelCliOptions } from '../common.ts';
import { INDEX_LIST_HELP } from '../indices.ts';
import { addControlsOption, addPermutationsOption, addRunOptions, runFromCli, type RunCliOptions } from './run-experiment.ts';

function groupPairArg(v: string): [string, string] {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new InvalidArgumentError(`--compare takes two group names, e.g. python_doctest,rust_test (got '${v}')`);
  return [parts[0], parts[1]];
}

async function openCorpus(path: string, quiet = false): Promise<Corpus> {
  const c = await loadCorpus(path);
  if (!quiet) {
    for (const w of c.warnings.slice(0, 5)) process.stderr.write(`warning: ${w}\n`);
    if (c.warnings.length > 5) process.stderr.write(`warning: … and ${c.warnings.length - 5} more corpus warning(s) (plip corpus validate --json lists them)\n`);
  }
  return c;
}

const q = (s: string) => JSON.stringify(s);

function positionRows(m: SampleMapping): string[][] {
  const rows: string[][] = [];
  const mk = m.marker;
  rows.push([m.id, 'marker', String(mk.charPos), q(mk.pattern), String(mk.token), q(mk.tokenText), `[${mk.span[0]},${mk.span[1]})`, mk.merged ? 'MERGED' : mk.exact ? 'exact' : 'nearest']);
  for (const t of m.targets) {
    const flags = [t.exact ? 'exact' : 'nearest', t.afterMarker ? 'after-marker' : '', t.duplicate ? 'dup-token' : ''].filter(Boolean).join(' ');
    rows.push(['', 'target', String(t.charPos), q(t.char), String(t.token), q(t.tokenText), `[${t.span[0]},${t.span[1]})`, flags]);
  }
  return rows;
}

export function registerObserveCommands(program: Command): void {
  const corpus = program.command('corpus').description('validate corpora and resolve pattern-based samples (format 2.0)');
  corpus
    .command('validate')
    .description('check a corpus: schema, marker at marker_char_pos, targets inside the code (errors name sample id and field)')
    .requiredOption('--corpus <file>', 'corpus JSON (format 2.0)')
    .option('--json', 'print the validated samples as JSON')
    .action(
      action(async (o: { corpus: string; json?: boolean }) => {
        const c = await openCorpus(o.corpus);
        if (o.json) {
          process.stdout.write(JSON.stringify({ file: c.file, sha256: c.sha256, groups: c.groups, samples: c.samples, warnings: c.warnings }, null, 1) + '\n');
          return;
        }
        const counts = c.groups.map((g) => `${g} ${c.samples.filter((s) => s.group === g).length}`).join(', ');
        process.stdout.write(`${c.file}: valid format ${c.formatVersion} corpus, ${c.samples.length} samples (${counts}); sha256 ${c.sha256}${c.resolved ? '; some positions resolved from patterns' : ''}\n`);
      }),
    );
  corpus
    .command('resolve')
    .description('resolve pattern-based samples (marker_pattern, target_patterns, targets: "function-signature") and write explicit positions')
    .requiredOption('--corpus <file>', 'input corpus JSON (format 2.0, positions or patterns)')
    .requiredOption('--out <file>', 'output corpus JSON with explicit code point positions')
    .action(
      action(async (o: { corpus: string; out: string }) => {
        const c = await openCorpus(o.corpus);
        writeJson(o.out, corpusToJson(c));
        const n = c.samples.filter((s) => s.source.marker !== 'explicit' || s.source.targets !== 'explicit').length;
        process.stdout.write(`wrote ${c.samples.length} samples (${n} resolved from patterns) to ${o.out}\n`);
        for (const s of c.samples) {
          if (s.source.signature) process.stdout.write(`  ${s.id}: function '${s.source.signature.name}' (${s.source.signature.rule}) → targets ${s.targetCharPositions.join(', ')}\n`);
        }
      }),
    );

  addModelOptions(program.command('positions').description('map each sample\'s marker and target character positions to tokens (exact/nearest, merged markers)'))
    .requiredOption('--corpus <file>', 'corpus JSON (format 2.0)')
    .addOption(new Option('--marker-token <which>', 'token of a multi-token marker that attends').choices(['first', 'last']).default('first'))
    .option('--group <name>', 'only this group')
    .option('--out <file>', 'write the mappings and summary as JSON')
    .action(
      action(async (o: ModelCliOptions & { corpus: string; markerToken: MarkerTokenChoice; group?: string; out?: string }) => {
        const c = await openCorpus(o.corpus);
        const m = await openModel(o);
        if (!m.tokenizer) throw new Error(`model ${m.info.id} has no tokenizer`);
        const samples = o.group ? c.samples.filter((s) => s.group === o.group) : c.samples;
        if (o.group && samples.length === 0) throw new Error(`group '${o.group}' is not in the corpus (groups: ${c.groups.join(', ')})`);
        const maps = samples.map((s) => mapSample(m.tokenizer!, s, { markerToken: o.markerToken }));
        const sum = summarizeMappings(maps);
        const rows = maps.flatMap(positionRows);
        process.stdout.write(renderTable(['sample', 'kind', 'char', 'text', 'token', 'token text', 'span', 'match'], rows) + '\n\n');
        for (const mp of maps.filter((x) => x.marker.merged)) process.stdout.write(`merged marker: ${mp.id}: ${mp.marker.mergedReason}\n`);
        process.stdout.write(
          [
            `samples ${sum.nSamples}; tokenizer adds BOS: ${m.tokenizer.addsBos}`,
            `markers: ${sum.markersExact}/${sum.nSamples} exact, ${sum.markersMerged} on merged tokens`,
            `targets: ${sum.targetsExact}/${sum.targets} exact, ${sum.targetsNearest} nearest, ${sum.targetsAfterMarker} after the marker, ${sum.duplicateTargetTokens} sharing a token with another target`,
            `samples with every target after the marker (attention 0 by construction): ${sum.samplesZeroByConstruction}`,
          ].join('\n') + '\n',
        );
        if (o.out) writeJson(o.out, { model: m.info, corpus: { path: c.file, sha256: c.sha256 }, markerToken: o.markerToken, samples: maps, summary: sum });
      }),
    );

  const scan = addModelOptions(program.command('scan').description('layer scan: attention from the test marker to the function tokens, every layer and head, with null models and corrected statistics'))
    .requiredOption('--corpus <file>', 'corpus JSON (format 2.0)')
    .option('--layers <list>', `layers to scan: ${INDEX_LIST_HELP}`, 'all')
    .option('--heads <list>', `heads to record and average: ${INDEX_LIST_HELP}`, 'all')
    .option('--compare <a,b>', 'the two groups compared', groupPairArg, ['python_doctest', 'rust_test'] as [string, string])
    .addOption(new Option('--marker-token <which>', 'token of a multi-token marker that attends').choices(['first', 'last']).default('first'));
  addControlsOption(scan, 16);
  addPermutationsOption(scan, 9999)
    .option('--n-boot <n>', 'bootstrap resamples for the CI of Hedges g', parseIntArg('--n-boot', 1), 4999)
    .option('--alpha <a>', 'significance level of the verdicts', parseFloatArg('--alpha', 0), 0.05)
    .option('--stop-after <n>', 'process at most N new samples, then exit leaving a resumable progress file', parseIntArg('--stop-after', 0));
  addRunOptions(scan, { seed: 'control draws, permutations and bootstrap', out: 'docs/experiments/scan.md' }).action(
    action(
      async (
        o: ModelCliOptions &
          RunCliOptions & {
            corpus: string;
            layers: string;
            heads: string;
            compare: [string, string];
            markerToken: MarkerTokenChoice;
            controls: number;
            nPermutations: number;
            nBoot: number;
            alpha: number;
            stopAfter?: number;
          },
      ) => {
        const c = await openCorpus(o.corpus, true);
        const m = await openModel(o);
        const options = {
          layers: indexListArg(o.layers, m.spec.nLayers, '--layers'),
          heads: indexListArg(o.heads, m.spec.nHeads, '--heads'),
          compare: o.compare,
          markerToken: o.markerToken,
          controls: o.controls,
          nPermutations: o.nPermutations,
          nBoot: o.nBoot,
          alpha: o.alpha,
        };
        const res = runFromCli(scanExperiment, m, c, options, o);
        if (!res.complete) {
          process.stdout.write(`stopped after ${res.records.length} of ${c.samples.length} samples; rerun the same command to resume (${o.out}.progress.jsonl)\n`);
          return;
        }
        process.stdout.write(`wrote ${o.out}\n`);
      },
    ),
  );
}
