/**
 * The bundled model organism (models/plip-tiny-code) loads through the normal Hugging Face path, its
 * tokenizer agrees with the project's Python reference encoder, its logits match the independent PyTorch
 * reference (fixtures/plip-tiny-code/golden.json, scripts/reference/model_organism_ref.py) and greedy decoding (KV cache) reproduces the reference's
 * recomputed continuation, which calls the (held-out) function by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadModel } from '../../src/model/load.ts';
import { generate } from '../../src/generate/generate.ts';

const DIR = 'models/plip-tiny-code';
interface Golden {
  model_sha256: string;
  prompts: Array<{ group: string; id: string; name: string; text: string; ids: number[]; last_logits: number[][]; greedy_ids: number[]; greedy_text: string }>;
}

test('model organism: HF load, tokenizer, logits and greedy parity with the PyTorch reference', async () => {
  const golden = JSON.parse(readFileSync('fixtures/plip-tiny-code/golden.json', 'utf8')) as Golden;
  const sha = createHash('sha256').update(readFileSync(`${DIR}/model.safetensors`)).digest('hex');
  assert.equal(sha, golden.model_sha256, 'fixture was generated from these weights (rerun scripts/reference/model_organism_ref.py)');
  const m = await loadModel(DIR);
  assert.equal(m.info.format, 'hf');
  assert.equal(m.spec.family, 'llama');
  for (const p of golden.prompts) {
    const ids = m.tokenizer!.encode(p.text);
    assert.deepEqual(ids, p.ids, `${p.id}: tokenizer ids`);
    const logits = m.forward(ids).logits!.data;
    const V = m.spec.vocabSize;
    const T = ids.length;
    p.last_logits.forEach((row, i) => {
      const t = T - p.last_logits.length + i;
      let d = 0;
      for (let v = 0; v < V; v++) d = Math.max(d, Math.abs(logits[t * V + v]! - row[v]!));
      assert.ok(d <= 1e-4, `${p.id}: logits at position ${t} differ by ${d}`);
    });
    const g = generate(m, ids, { maxTokens: p.greedy_ids.length, stopAtEos: false });
    assert.deepEqual(g.ids, p.greedy_ids, `${p.id}: greedy continuation`);
    // The organism's defining behaviour, through our engine: the test it writes calls the function by name.
    assert.ok(m.tokenizer!.decode(g.ids).startsWith(`${p.name}(`), `${p.id}: greedy text ${JSON.stringify(m.tokenizer!.decode(g.ids))} calls ${p.name}`);
  }
  assert.ok(golden.prompts.length >= 2 && golden.prompts.some((p) => p.group.startsWith('rust')), 'Python and Rust prompts are covered');
});
