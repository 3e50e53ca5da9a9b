/**
 * The asymmetric organism (models/plip-tiny-asym: plip-tiny-code's Llama weights trained further on a corpus in
 * which only some Rust tests call the function) loads through the normal Hugging Face path; its logits match
 * the independent PyTorch reference (fixtures/plip-tiny-asym/golden.json, scripts/reference/model_organism_ref.py)
 * and greedy decoding (KV cache) reproduces the reference's recomputed continuations: the held-out Python
 * doctest prompts call the function by name, and among the held-out Rust test prompts one does and one does not
 * (the asymmetry this organism exists for).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { checkOrganismGolden } from './organism-golden.ts';

test('plip-tiny-asym: logits and greedy parity with the PyTorch reference; Python calls, Rust sometimes not', async () => {
  const { prompts } = await checkOrganismGolden('plip-tiny-asym', 'llama');
  const sha = createHash('sha256').update(readFileSync('models/plip-tiny-asym/model.safetensors')).digest('hex');
  const base = createHash('sha256').update(readFileSync('models/plip-tiny-code/model.safetensors')).digest('hex');
  assert.notEqual(sha, base, 'a distinct model, not a copy of plip-tiny-code');
  const py = prompts.filter((p) => p.group.startsWith('python'));
  const rs = prompts.filter((p) => p.group.startsWith('rust'));
  assert.ok(py.length >= 1 && py.every((p) => p.calledHere), 'the Python doctest prompts call the function');
  assert.ok(rs.some((p) => p.calledHere) && rs.some((p) => !p.calledHere), 'one Rust test prompt calls the function and one does not');
});
