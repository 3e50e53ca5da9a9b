/**
 * Per-token attention for the report's token view. Results files store aggregates (mean attention to the
 * targets), not whole attention rows, so the row is RECOMPUTED: the sample's text is read from the
 * results' corpus / prompts file (its sha256 must match the header), tokenized with the model's
 * tokenizer, and run once through `model.runWithCache` capturing `blocks.L.attn.hook_pattern`.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { loadCorpus } from '../../corpus/load.ts';
import { loadCopyingPrompts } from '../../corpus/prompts.ts';
import { loadPrompts } from '../../score/prompts-schema.ts';
import type { HookedModel } from '../../model/model.ts';
import { sha256File } from '../results.ts';
import type { ResultsDoc, TokenAttention } from './types.ts';

/** Text of sample `id` from the results' input file (corpus: scan/knockout/steer; copying prompts: copying/patch; scorer prompts: generation phases). */
export async function sampleText(doc: ResultsDoc, id: string): Promise<string> {
  const c = doc.header.corpus;
  if (!c) throw new Error(`${doc.path}: header.corpus is missing, so the token view cannot find sample '${id}'`);
  if (!existsSync(c.path)) throw new Error(`${doc.path}: the input file '${c.path}' (header.corpus.path) does not exist from ${process.cwd()}; run plip report from the directory the experiment ran in`);
  const sha = sha256File(c.path);
  if (sha !== c.sha256) throw new Error(`${doc.path}: '${c.path}' has sha256 ${sha.slice(0, 12)}…, the results were made from ${c.sha256.slice(0, 12)}…; the token view would not show the sample that was measured`);
  if (doc.header.experiment === 'preservation' || doc.header.experiment === 'transplant' || doc.header.experiment === 'steer-generation') {
    const p = Object.values(loadPrompts(c.path).groups).flat().find((x) => x?.id === id);
    if (!p) throw new Error(`${doc.path}: sample '${id}' is not in ${c.path}`);
    return p.prompt;
  }
  if (doc.header.experiment === 'copying' || doc.header.experiment === 'patch') {
    const p = loadCopyingPrompts(c.path).find((x) => x.id === id);
    if (!p) throw new Error(`${doc.path}: sample '${id}' is not in ${c.path}`);
    return p.prompt;
  }
  const s = (await loadCorpus(c.path)).samples.find((x) => x.id === id);
  if (!s) throw new Error(`${doc.path}: sample '${id}' is not in ${c.path}`);
  return s.code;
}

/** Token texts as they appear in the decoded text (special tokens by name). */
export function tokenTexts(model: HookedModel, ids: readonly number[]): string[] {
  const tok = model.tokenizer!;
  return ids.map((id) => tok.tokenText(id));
}

/**
 * Attention of token `query` over the tokens of `text` at `layer`, averaged over `heads`.
 *
 * @param expectTokens - token count the results recorded for this sample (checked, so a different tokenizer is an error)
 */
export function attentionFrom(
  model: HookedModel,
  text: string,
  o: { sampleId: string; layer: number; heads: readonly number[]; query: number; highlight: readonly number[]; expectTokens?: number },
): TokenAttention {
  const tok = model.tokenizer;
  if (!tok) throw new Error(`model ${model.info.id} has no tokenizer; the token view needs one`);
  const { nLayers, nHeads } = model.spec;
  if (o.layer < 0 || o.layer >= nLayers) throw new Error(`token view: layer ${o.layer} out of range (the model has layers 0..${nLayers - 1})`);
  for (const h of o.heads) if (h < 0 || h >= nHeads) throw new Error(`token view: head ${h} out of range (the model has heads 0..${nHeads - 1})`);
  const ids = tok.encode(text);
  if (o.expectTokens !== undefined && ids.length !== o.expectTokens)
    throw new Error(`token view: sample '${o.sampleId}' has ${ids.length} tokens with ${model.info.id}'s tokenizer, the results recorded ${o.expectTokens}; pass the --model the results were made with`);
  if (o.query < 0 || o.query >= ids.length) throw new Error(`token view: query token ${o.query} outside the sample's ${ids.length} tokens`);
  const name = `blocks.${o.layer}.attn.hook_pattern`;
  const res = model.runWithCache(ids, { names: [name] }, { logits: 'none' });
  const p = res.cache.get(name); // [1, H, T, T]
  const T = ids.length;
  const values = new Array<number>(T).fill(0);
  for (const h of o.heads) for (let k = 0; k < T; k++) values[k]! += p.data[(h * T + o.query) * T + k]! / o.heads.length;
  const hs = o.heads.length === nHeads ? `mean over all ${nHeads} heads` : `mean over heads ${o.heads.join(', ')}`;
  return { sampleId: o.sampleId, label: `layer ${o.layer}, ${hs} (recomputed with ${model.info.id})`, tokens: tokenTexts(model, ids), query: o.query, values, highlight: [...o.highlight] };
}
