/**
 * The bundled model organism (models/plip-tiny-code) loads through the normal Hugging Face path, its logits
 * match the independent PyTorch reference (fixtures/plip-tiny-code/golden.json, scripts/reference/model_organism_ref.py)
 * and greedy decoding (KV cache) reproduces the reference's recomputed continuation, which calls the
 * (held-out) function by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkOrganismGolden } from './organism-golden.ts';

test('model organism: HF load, tokenizer, logits and greedy parity with the PyTorch reference', async () => {
  const { prompts } = await checkOrganismGolden('plip-tiny-code', 'llama');
  // The organism's defining behaviour, through our engine: the test it writes calls the function by name.
  for (const p of prompts) assert.ok(p.calledHere, `${p.id}: greedy text calls ${p.name}`);
  assert.ok(prompts.length >= 2 && prompts.some((p) => p.group.startsWith('rust')), 'Python and Rust prompts are covered');
});
