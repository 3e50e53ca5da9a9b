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
import { loadModel } from '../../src/model/load.ts';
import { generate } from '../../src/generate/generate.ts';

const DIR = 'models/plip-tiny-asym';
interface Golden {
  model_sha256: string;
  prompts: Array<{ group: string; id: string; name: string; text: string; ids: number[]; last_logits: number[][]; greedy_ids: number[]; greedy_text: string; calls: boolean }>;
}

test('plip-tiny-asym: logits and greedy parity with the PyTorch reference; Python calls, Rust sometimes not', async () => {
  const golden = JSON.parse(readFileSync('fixtures/plip-tiny-asym/golden.json', 'utf8')) as Golden;
  const sha = createHash('sha256').update(readFileSync(`${DIR}/model.safetensors`)).digest('hex');
  assert.equal(sha, golden.model_sha256, 'fixture was generated from these weights (rerun scripts/reference/model_organism_ref.py --model models/plip-tiny-asym ...)');
  const base = createHash('sha256').update(readFileSync('models/plip-tiny-code/model.safetensors')).digest('hex');
  assert.notEqual(sha, base, 'a distinct model, not a copy of plip-tiny-code');
  const m = await loadModel(DIR);
  assert.equal(m.info.format, 'hf');
  assert.equal(m.spec.family, 'llama');
  const V = m.spec.vocabSize;
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
    assert.equal(text.startsWith(`${p.name}(`), p.calls, `${p.id}: greedy text ${JSON.stringify(text)} calls ${p.name}: expected ${p.calls}`);
  }
  const py = golden.prompts.filter((p) => p.group.startsWith('python'));
  const rs = golden.prompts.filter((p) => p.group.startsWith('rust'));
  assert.ok(py.length >= 1 && py.every((p) => p.calls), 'the Python doctest prompts call the function');
  assert.ok(rs.some((p) => p.calls) && rs.some((p) => !p.calls), 'one Rust test prompt calls the function and one does not');
});
