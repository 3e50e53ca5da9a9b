/**
 * Shared check of a bundled organism against its PyTorch reference fixture (fixtures/NAME/golden.json, written
 * by scripts/reference/model_organism_ref.py): the weights are the fixture's, the model loads through the
 * normal Hugging Face path as the expected family, tokenizer ids, last-position logits (≤ 1e-4) and greedy
 * continuations (KV cache) match, and each continuation calls the function by name exactly when the
 * reference's did. Returns the fixture's prompts with what our engine generated.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadModel } from '../../src/model/load.ts';
import { generate } from '../../src/generate/generate.ts';
import type { HookedModel } from '../../src/model/model.ts';

export interface GoldenPrompt {
  group: string;
  id: string;
  name: string;
  text: string;
  ids: number[];
  last_logits: number[][];
  greedy_ids: number[];
  greedy_text: string;
  /** Whether the reference's greedy text calls the function (fixtures written with --pick). */
  calls?: boolean;
}

export async function checkOrganismGolden(name: string, family: string): Promise<{ model: HookedModel; prompts: (GoldenPrompt & { calledHere: boolean })[] }> {
  const dir = `models/${name}`;
  const golden = JSON.parse(readFileSync(`fixtures/${name}/golden.json`, 'utf8')) as { model_sha256: string; prompts: GoldenPrompt[] };
  const sha = createHash('sha256').update(readFileSync(`${dir}/model.safetensors`)).digest('hex');
  assert.equal(sha, golden.model_sha256, `fixture was generated from these weights (rerun scripts/reference/model_organism_ref.py --model ${dir} ...)`);
  const m = await loadModel(dir);
  assert.equal(m.info.format, 'hf');
  assert.equal(m.spec.family, family);
  const V = m.spec.vocabSize;
  const out: (GoldenPrompt & { calledHere: boolean })[] = [];
  for (const p of golden.prompts) {
    const ids = m.tokenizer!.encode(p.text);
    assert.deepEqual(ids, p.ids, `${p.id}: tokenizer ids`);
    const logits = m.forward(ids).logits!.data;
    const T = ids.length;
    p.last_logits.forEach((row, i) => {
      const t = T - p.last_logits.length + i;
      let d = 0;
      for (let v = 0; v < V; v++) d = Math.max(d, Math.abs(logits[t * V + v]! - row[v]!));
      assert.ok(d <= 1e-4, `${p.id}: logits at position ${t} differ by ${d}`);
    });
    const g = generate(m, ids, { maxTokens: p.greedy_ids.length, stopAtEos: false });
    assert.deepEqual(g.ids, p.greedy_ids, `${p.id}: greedy continuation`);
    const text = m.tokenizer!.decode(g.ids);
    const calledHere = text.startsWith(`${p.name}(`);
    if (p.calls !== undefined) assert.equal(calledHere, p.calls, `${p.id}: greedy text ${JSON.stringify(text)} calls ${p.name}: expected ${p.calls}`);
    out.push({ ...p, calledHere });
  }
  return { model: m, prompts: out };
}
