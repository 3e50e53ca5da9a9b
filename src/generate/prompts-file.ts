/**
 * `plip run --prompts-file F.jsonl`: one JSON object per line, `{"id", "prompt", …optional settings}`,
 * generated in batches (generateBatch) into a resumable `--out` results file, one record per prompt.
 *
 * Per-prompt settings override the command line: max_tokens, temperature, top_k, top_p, seed, stop
 * (a list of strings), stop_at_eos. Records are committed in input order (a prompt that finishes early
 * waits for the ones before it), so the output does not depend on --batch-size.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { HookedModel } from '../model/model.ts';
import { generateBatch, type GenerateRequest, type GenerateResult } from './generate.ts';

export const promptLineSchema = z
  .object({
    id: z.union([z.string().min(1), z.number().int()]),
    prompt: z.string(),
    max_tokens: z.number().int().min(0).optional(),
    temperature: z.number().min(0).finite().optional(),
    top_k: z.number().int().min(0).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    seed: z.number().int().optional(),
    stop: z.array(z.string().min(1)).optional(),
    stop_at_eos: z.boolean().optional(),
  })
  .strict();
export type PromptLine = z.infer<typeof promptLineSchema>;

/** Reads and validates a prompts file; errors name the file, the line and the field. */
export function readPromptsFile(path: string): PromptLine[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`--prompts-file ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const out: PromptLine[] = [];
  const ids = new Map<string, number>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${path}:${i + 1}`;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new Error(`${where}: not valid JSON (${(e as Error).message}); each line must be one object like {"id": "a", "prompt": "def f("}`);
    }
    const r = promptLineSchema.safeParse(obj);
    if (!r.success) {
      const iss = r.error.issues[0]!;
      const field = iss.path.join('.') || '(line)';
      throw new Error(`${where}: ${field}: ${iss.message}${iss.code === 'unrecognized_keys' ? ' (allowed: id, prompt, max_tokens, temperature, top_k, top_p, seed, stop, stop_at_eos)' : ''}`);
    }
    const key = String(r.data.id);
    if (ids.has(key)) throw new Error(`${where}: id '${key}' was already used on line ${ids.get(key)}; ids must be unique`);
    ids.set(key, i + 1);
    out.push(r.data);
  });
  if (out.length === 0) throw new Error(`--prompts-file ${path}: no prompts (expected one JSON object per line)`);
  return out;
}

/** Command-line defaults for settings a line does not give. */
export interface RunDefaults {
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  stopAtEos: boolean;
  stop: readonly string[];
}

/** One output record (`key` = String(id)). */
export interface RunRecord {
  key: string;
  id: string | number;
  prompt: string;
  completion: string;
  /** Generated token ids (the prompt's are in `prompt_tokens`). */
  tokens: number[];
  prompt_tokens: number[];
  /** Natural-log probability of each generated token (after temperature). */
  logprobs: number[];
  stop: GenerateResult['stop'];
  settings: { max_tokens: number; temperature: number; top_k: number; top_p: number; seed: number; stop: string[]; stop_at_eos: boolean };
}

/**
 * Generates for every line not yet in `skip`, `batchSize` at a time; `commit` receives the records in input
 * order, each as soon as it and every line before it have finished.
 */
export function runPrompts(model: HookedModel, lines: readonly PromptLine[], d: RunDefaults, batchSize: number, skip: (key: string) => boolean, commit: (r: RunRecord) => void): number {
  const tok = model.tokenizer;
  if (!tok) throw new Error(`model ${model.info.id} has no tokenizer`);
  const todo = lines.filter((l) => !skip(String(l.id)));
  const settings = todo.map((l) => ({
    max_tokens: l.max_tokens ?? d.maxTokens,
    temperature: l.temperature ?? d.temperature,
    top_k: l.top_k ?? d.topK,
    top_p: l.top_p ?? d.topP,
    seed: l.seed ?? d.seed,
    stop: [...(l.stop ?? d.stop)],
    stop_at_eos: l.stop_at_eos ?? d.stopAtEos,
  }));
  const promptIds = todo.map((l) => tok.encode(l.prompt));
  const reqs: GenerateRequest[] = todo.map((_, i) => {
    const s = settings[i]!;
    return { promptIds: promptIds[i]!, maxTokens: s.max_tokens, temperature: s.temperature, topK: s.top_k, topP: s.top_p, seed: s.seed, stopSequences: s.stop, stopAtEos: s.stop_at_eos };
  });
  const finished = new Map<number, GenerateResult>();
  let nextCommit = 0;
  generateBatch(model, reqs, {
    batchSize,
    onDone: (i, r) => {
      finished.set(i, r);
      while (finished.has(nextCommit)) {
        const g = finished.get(nextCommit)!;
        finished.delete(nextCommit);
        const l = todo[nextCommit]!;
        commit({
          key: String(l.id),
          id: l.id,
          prompt: l.prompt,
          completion: tok.decode(g.ids, { skipSpecialTokens: true }),
          tokens: g.ids,
          prompt_tokens: g.promptIds,
          logprobs: g.logprobs,
          stop: g.stop,
          settings: settings[nextCommit]!,
        });
        nextCommit++;
      }
    },
  });
  return todo.length;
}
