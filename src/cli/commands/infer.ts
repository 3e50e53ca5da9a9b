/**
 * Inference commands: `plip run`, `plip logits`, `plip inspect`.
 */
import { Command } from 'commander';
import { generate } from '../../generate/generate.ts';
import { readPromptsFile, runPrompts, type RunRecord } from '../../generate/prompts-file.ts';
import { makeProvenance, sha256File } from '../../report/results.ts';
import { addModelOptions, action, openModel, parseFloatArg, parseIntArg, runIntoStore, UsageError, writeJson, type ModelCliOptions } from '../common.ts';
import type { HookedModel } from '../../model/model.ts';

function tokenizerOf(m: HookedModel) {
  if (!m.tokenizer) throw new Error(`model ${m.info.id} has no tokenizer`);
  return m.tokenizer;
}

export function registerInferenceCommands(program: Command): void {
  addModelOptions(program.command('run').description('generate a completion (greedy when --temperature is 0); many prompts with --prompts-file'))
    .option('--prompt <text>', 'prompt text')
    .option('--prompts-file <file>', 'JSONL prompts, one {"id", "prompt", optional max_tokens/temperature/top_k/top_p/seed/stop/stop_at_eos} per line (needs --out)')
    .option('--batch-size <n>', 'sequences generated together with --prompts-file', parseIntArg('--batch-size', 1), 8)
    .option('--max-tokens <n>', 'number of tokens to generate', parseIntArg('--max-tokens', 0), 64)
    .option('--temperature <t>', 'sampling temperature (0 = greedy)', parseFloatArg('--temperature', 0), 0)
    .option('--top-k <k>', 'top-k sampling', parseIntArg('--top-k', 0), 0)
    .option('--top-p <p>', 'nucleus sampling', parseFloatArg('--top-p', 0), 1)
    .option('--seed <n>', 'random seed for sampling', parseIntArg('--seed'), 0)
    .option('--no-stop-at-eos', 'keep generating after an end-of-sequence token')
    .option('--restart', 'with --prompts-file: discard an interrupted run instead of resuming it')
    .option('--out <file>', 'write {prompt, prompt_ids, ids, text, logprobs} as JSON; with --prompts-file: JSONL records {id, completion, tokens, …}')
    .action(
      action(async (o: ModelCliOptions & { prompt?: string; promptsFile?: string; batchSize: number; maxTokens: number; temperature: number; topK: number; topP: number; seed: number; stopAtEos: boolean; restart?: boolean; out?: string }) => {
        if ((o.prompt === undefined) === (o.promptsFile === undefined)) throw new UsageError('give exactly one of --prompt <text> or --prompts-file <file>');
        if (o.promptsFile !== undefined) {
          if (!o.out) throw new UsageError('--prompts-file needs --out <file.jsonl> for the records');
          const lines = readPromptsFile(o.promptsFile);
          const m = await openModel(o);
          tokenizerOf(m);
          const d = { maxTokens: o.maxTokens, temperature: o.temperature, topK: o.topK, topP: o.topP, seed: o.seed, stopAtEos: o.stopAtEos, stop: [] };
          const header = makeProvenance({
            experiment: 'run',
            schemaVersion: 1,
            model: m,
            corpus: { path: o.promptsFile, sha256: sha256File(o.promptsFile), nSamples: lines.length },
            settings: { max_tokens: d.maxTokens, temperature: d.temperature, top_k: d.topK, top_p: d.topP, stop_at_eos: d.stopAtEos },
            seed: o.seed,
            argv: process.argv.slice(2),
          });
          runIntoStore<RunRecord, number>(
            { out: o.out, restart: o.restart, header, total: lines.length, label: 'run' },
            (store, tick) => runPrompts(m, lines, d, o.batchSize, (k) => store.has(k), (r) => (store.add(r), tick(String(r.id)))),
            () => ({ n: lines.length }),
          );
          process.stdout.write(`wrote ${lines.length} completions to ${o.out}\n`);
          return;
        }
        const m = await openModel(o);
        const tok = tokenizerOf(m);
        const promptIds = tok.encode(o.prompt!);
        const r = generate(m, promptIds, { maxTokens: o.maxTokens, temperature: o.temperature, topK: o.topK, topP: o.topP, seed: o.seed, stopAtEos: o.stopAtEos });
        const completion = tok.decode(r.ids, { skipSpecialTokens: true });
        const full = tok.decode([...promptIds, ...r.ids], { skipSpecialTokens: true });
        process.stdout.write(full + '\n');
        if (o.out) writeJson(o.out, { model: m.info, prompt: o.prompt, prompt_ids: promptIds, ids: r.ids, completion, text: full, logprobs: r.logprobs, stop: r.stop, seed: o.seed, temperature: o.temperature });
      }),
    );

  addModelOptions(program.command('logits').description('write logits for every position as JSON'))
    .requiredOption('--text <text>', 'input text (tokenized with the model tokenizer, BOS as its config says)')
    .requiredOption('--out <file>', 'output JSON: {"model": {id, path, …, compute?}, "tokens": [ids], "logits": [[...] per position]}')
    .action(
      action(async (o: ModelCliOptions & { text: string; out: string }) => {
        const m = await openModel(o);
        const ids = tokenizerOf(m).encode(o.text);
        const { logits } = m.forward(ids, { logits: 'all' });
        const V = m.spec.vocabSize;
        const rows: number[][] = [];
        for (let t = 0; t < ids.length; t++) rows.push(Array.from(logits!.data.subarray(t * V, (t + 1) * V)));
        writeJson(o.out, { model: m.info, tokens: ids, logits: rows });
        process.stdout.write(`wrote logits for ${ids.length} positions × ${V} vocab to ${o.out}\n`);
      }),
    );

  addModelOptions(program.command('inspect').description('print the resolved architecture, dimensions, dtype and hook names'))
    .option('--json', 'print as JSON')
    .action(
      action(async (o: ModelCliOptions & { json?: boolean }) => {
        const m = await openModel(o);
        const s = m.spec;
        const hooks = m.hookNames();
        if (o.json) {
          process.stdout.write(JSON.stringify({ info: m.info, spec: s, backend: m.backend.name, hooks }, null, 2) + '\n');
          return;
        }
        const lines = [
          `model        ${m.info.id}  (${m.info.format}, ${m.info.path})`,
          `family       ${s.family}  (${s.architecture})`,
          `layers       ${s.nLayers}    d_model ${s.dModel}    d_mlp ${s.dMlp}    vocab ${s.vocabSize}    n_ctx ${s.nCtx}`,
          `attention    ${s.nHeads} heads / ${s.nKvHeads} KV heads, head_dim ${s.dHead}, scale ${s.attnScale.toPrecision(6)}` +
            (s.slidingWindow ? `, sliding window ${s.slidingWindow}` : '') + (s.attnSoftcap ? `, softcap ${s.attnSoftcap}` : ''),
          `positions    ${s.positional}` + (s.rotary ? ` (rotary ${s.rotary.style}, theta ${s.rotary.theta}, ${s.rotary.rotaryDim}/${s.dHead} dims${s.rotary.scaling ? ', scaling ' + s.rotary.scaling.type : ''})` : ''),
          `norm         ${s.norm.kind}, eps ${s.norm.eps}${s.norm.weightOffset ? ', weight offset ' + s.norm.weightOffset : ''}`,
          `mlp          ${s.mlp.kind} (${s.mlp.act})${s.parallelResidual ? ', parallel residual' : ''}`,
          `embeddings   ${s.tiedEmbeddings ? 'tied' : 'untied'}${s.embedScale !== 1 ? `, scale ${s.embedScale.toPrecision(6)}` : ''}`,
          `dtype        ${s.weightDtype} on disk, float32 compute, backend ${m.backend.name}`,
          `tokens       bos ${s.bosTokenId ?? '-'}  eos ${JSON.stringify(s.eosTokenId)}  tokenizer ${m.tokenizer ? `${m.tokenizer.vocabSize} tokens, adds BOS: ${m.tokenizer.addsBos}` : 'none'}`,
          `hooks        ${hooks.length} points, e.g.`,
          ...hooks.filter((h) => !/^blocks\.[1-9]/.test(h)).map((h) => `  ${h}`),
          `  … (same per-layer names for blocks.1 … blocks.${s.nLayers - 1})`,
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }),
    );
}
