/**
 * The second-family organism (models/plip-tiny-qwen2: Qwen2 layout with q/k/v biases, 6 layers, trained from
 * scratch) loads through the normal Hugging Face path as a qwen2 model; its logits match the independent
 * PyTorch reference (fixtures/plip-tiny-qwen2/golden.json, scripts/reference/model_organism_ref.py) and greedy
 * decoding (KV cache) reproduces the reference's continuations, which call the held-out functions by name in
 * both languages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkOrganismGolden } from './organism-golden.ts';

test('plip-tiny-qwen2: Qwen2 layout, logits and greedy parity with the PyTorch reference; both languages call', async () => {
  const { model, prompts } = await checkOrganismGolden('plip-tiny-qwen2', 'qwen2');
  assert.equal(model.spec.nLayers, 6);
  assert.ok(model.weights.layers.every((L) => L.bq && L.bk && L.bv), 'q/k/v biases (the Qwen2 layout)');
  assert.ok(model.weights.layers.some((L) => L.bq!.some((x) => x !== 0)), 'the biases were trained (not all zero)');
  for (const lang of ['python', 'rust']) {
    const mine = prompts.filter((p) => p.group.startsWith(lang));
    assert.ok(mine.length >= 2 && mine.every((p) => p.calledHere), `the ${lang} prompts call the function by name`);
  }
});
