/**
 * Generation: the KV-cache decode path equals full recomputation; seeded sampling is reproducible;
 * hooks apply at every step with absolute positions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/model/load.ts';
import { generate, pick } from '../../src/generate/generate.ts';
import type { Tensor } from '../../src/tensor/tensor.ts';
import type { HookContext } from '../../src/hooks/types.ts';
import { logSoftmaxTs } from '../../src/metrics/distribution.ts';

const DIR = '../shared/models/stories260K';

test('greedy generation with the KV cache equals argmax over full recomputation at every step', async () => {
  const m = await loadModel(DIR, { backend: 'ts' });
  const prompt = m.tokenizer!.encode('Once upon a time');
  const r = generate(m, prompt, { maxTokens: 20 });
  const seq = [...prompt];
  for (const id of r.ids) {
    const lg = m.forward(seq, { logits: 'last' }).logits!.data;
    let best = 0;
    for (let i = 1; i < lg.length; i++) if (lg[i]! > lg[best]!) best = i;
    assert.equal(id, best);
    seq.push(id);
  }
});

test('greedy logprobs are the log-softmax of the step logits at the chosen id (native sums or TypeScript)', async () => {
  const m = await loadModel(DIR, { backend: 'ts' });
  const prompt = m.tokenizer!.encode('Once upon a time');
  const r = generate(m, prompt, { maxTokens: 12 });
  const seq = [...prompt];
  r.ids.forEach((id, s) => {
    const lp = logSoftmaxTs(m.forward(seq, { logits: 'last' }).logits!.data);
    // the decode step's logits are the KV-cache path's, equal to full recomputation within float32 rounding
    assert.ok(Math.abs(r.logprobs[s]! - lp[id]!) <= 1e-5, `step ${s}: ${r.logprobs[s]} vs ${lp[id]}`);
    seq.push(id);
  });
});

test('seeded sampling is reproducible; different seeds differ', async () => {
  const m = await loadModel(DIR, { backend: 'ts' });
  const prompt = m.tokenizer!.encode('Lily');
  const a = generate(m, prompt, { maxTokens: 30, temperature: 1, seed: 7 });
  const b = generate(m, prompt, { maxTokens: 30, temperature: 1, seed: 7 });
  const c = generate(m, prompt, { maxTokens: 30, temperature: 1, seed: 8 });
  assert.deepEqual(a.ids, b.ids);
  assert.deepEqual(a.logprobs, b.logprobs);
  assert.notDeepEqual(a.ids, c.ids);
  assert.ok(a.logprobs.every((x) => x <= 0 && Number.isFinite(x)));
});

test('hooks run at every decoding step and see the growing absolute positions', async () => {
  const m = await loadModel(DIR, { backend: 'ts' });
  const prompt = m.tokenizer!.encode('Zoo');
  const seen: number[][] = [];
  const hook = { name: 'blocks.0.attn.hook_pattern', fn: (_t: Tensor, ctx: HookContext) => void seen.push([...ctx.queryPositions]) };
  generate(m, prompt, { maxTokens: 3, hooks: [hook] });
  assert.deepEqual(seen, [[0, 1, 2, 3], [4], [5]]);
});

test('pick: top-k 1 is greedy; top-p keeps the nucleus; invalid options are rejected', async () => {
  const logits = Float32Array.from([0, 3, 1, 2]);
  assert.equal(pick(logits, 1, 1, 1, () => 0.99).id, 1);
  assert.equal(pick(logits, 0, 0, 1, () => 0.5).id, 1);
  // top-p 0.5: only token 1 (p ≈ 0.64) survives
  for (const u of [0, 0.3, 0.99]) assert.equal(pick(logits, 1, 0, 0.5, () => u).id, 1);
  const m = await loadModel(DIR, { backend: 'ts' });
  assert.throws(() => generate(m, [1], { maxTokens: -1 }), /maxTokens: must be a non-negative integer/);
  assert.throws(() => generate(m, [1], { maxTokens: 2, temperature: -1 }), /temperature/);
  assert.throws(() => generate(m, [], { maxTokens: 2 }), /empty prompt/);
});
