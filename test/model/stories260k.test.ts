/**
 * The real pretrained llama2.c model stories260K reproduces its published greedy output
 * (../shared/README.md: llama2.c, temperature 0, prompt "Zoo", 60 steps incl. the BOS + prompt tokens).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadModel } from '../../src/model/load.ts';
import { generate } from '../../src/generate/generate.ts';

const DIR = '../shared/models/stories260K';
const GOLDEN =
  "Zoo was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but she didn't want to play with";

test('stories260K files are the published ones', () => {
  const h = createHash('sha256').update(readFileSync(`${DIR}/stories260K.bin`)).digest('hex');
  assert.equal(h, 'b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696');
});

for (const backend of ['ts', 'auto'] as const) {
  test(`stories260K greedy output equals llama2.c's published text (${backend})`, async () => {
    const m = await loadModel(DIR, { backend });
    assert.equal(m.spec.rotary?.style, 'interleaved');
    const prompt = m.tokenizer!.encode('Zoo');
    assert.equal(prompt[0], 1, 'BOS must be prepended');
    const steps = 60;
    const r = generate(m, prompt, { maxTokens: steps - prompt.length + 1, temperature: 0 });
    const text = m.tokenizer!.decode([...prompt, ...r.ids], { skipSpecialTokens: true });
    assert.equal(text, GOLDEN);
  });
}

test('stories260K: cached decoding equals full recomputation', async () => {
  const m = await loadModel(DIR, { backend: 'ts' });
  const ids = m.tokenizer!.encode('Zoo was a little girl named Lily.');
  const full = m.forward(ids).logits!.data;
  const kv = m.newKVCache();
  const V = m.spec.vocabSize;
  for (let t = 0; t < ids.length; t++) {
    const step = m.forward([ids[t]!], { kvCache: kv }).logits!.data;
    let d = 0;
    for (let i = 0; i < V; i++) d = Math.max(d, Math.abs(step[i]! - full[t * V + i]!));
    assert.ok(d <= 1e-4, `position ${t}: ${d}`);
  }
});
