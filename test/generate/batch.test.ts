/**
 * Batched generation: every sequence of a batch gets exactly the tokens it gets alone — greedy and sampled
 * (each request has its own seeded stream, so the batch size never changes a sample) — and stops on its own
 * condition (EOS, stop string, max tokens, context), with per-request hooks at its own positions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/model/load.ts';
import { loadBlasBackend } from '../../src/tensor/select.ts';
import { generate, generateBatch, type GenerateRequest, type GenerateResult } from '../../src/generate/generate.ts';
import { attentionEdit, resolveSpecs } from '../../src/interventions/index.ts';
import type { Tensor } from '../../src/tensor/tensor.ts';
import type { HookContext } from '../../src/hooks/types.ts';

const backends: Array<'ts' | 'blas'> = ['ts'];
if (loadBlasBackend() || process.env.CI === 'true') backends.push('blas');

function sameResult(a: GenerateResult, b: GenerateResult, what: string): void {
  assert.deepEqual(a.ids, b.ids, `${what}: tokens`);
  assert.equal(a.stop, b.stop, `${what}: stop reason`);
  assert.equal(a.logprobs.length, b.logprobs.length);
  a.logprobs.forEach((x, i) => assert.ok(Math.abs(x - b.logprobs[i]!) <= 1e-4, `${what}: logprob ${i} ${x} vs ${b.logprobs[i]}`));
}

for (const backend of backends) {
  test(`greedy and sampled batches equal each request alone, at every batch size (stories260K, ${backend})`, async () => {
    const m = await loadModel('../shared/models/stories260K', { backend });
    const tok = m.tokenizer!;
    const texts = ['Once upon a time', 'Lily', 'The dog ran to the park and', 'Zoo', 'One day, a little girl named Sue'];
    const reqs: GenerateRequest[] = texts.map((t, i) => ({
      promptIds: tok.encode(t),
      maxTokens: 6 + 3 * i,
      // two greedy, three sampled with their own seeds and settings
      ...(i < 2 ? {} : { temperature: 0.9, seed: 11 + i, topK: i === 3 ? 20 : 0, topP: i === 4 ? 0.9 : 1 }),
      stopAtEos: false,
    }));
    const alone = reqs.map((r) => generate(m, r.promptIds, r));
    for (const bs of [1, 2, 5]) {
      const done: number[] = [];
      const got = generateBatch(m, reqs, { batchSize: bs, onDone: (i) => done.push(i) });
      got.forEach((g, i) => sameResult(g, alone[i]!, `batch size ${bs} request ${i}`));
      assert.deepEqual([...done].sort(), [0, 1, 2, 3, 4], 'onDone once per request');
    }
    // reproducible per request: the same seed gives the same sample whatever its neighbours
    const dup = generateBatch(m, [reqs[3]!, { ...reqs[3]!, seed: 99 }, reqs[3]!], { batchSize: 3 });
    assert.deepEqual(dup[0]!.ids, dup[2]!.ids);
    assert.notDeepEqual(dup[0]!.ids, dup[1]!.ids, 'another seed samples differently');
  });
}

test('each sequence stops on its own condition: EOS, stop string, max tokens, context', async () => {
  const m = await loadModel('../shared/models/stories260K', { backend: 'ts' });
  const tok = m.tokenizer!;
  const p = tok.encode('Once upon a time');
  const eos = m.spec.eosTokenId as number;
  // force EOS as the argmax at absolute position p.length + 2 (a per-request hook on the logits)
  const forceEos = {
    name: 'hook_logits',
    fn: (t: Tensor, ctx: HookContext) => {
      const V = t.shape[2]!;
      for (let r = 0; r < ctx.queryPositions.length; r++) if (ctx.queryPositions[r] === p.length + 2) t.data[r * V + eos] = 1e4;
    },
  };
  const free = generate(m, p, { maxTokens: 12, stopAtEos: false });
  const stopText = tok.decode(free.ids.slice(0, 4), { skipSpecialTokens: true }).slice(-3);
  const reqs: GenerateRequest[] = [
    { promptIds: p, maxTokens: 12, hooks: [forceEos] },
    { promptIds: p, maxTokens: 12, stopSequences: [stopText], stopAtEos: false },
    { promptIds: p, maxTokens: 5, stopAtEos: false },
    { promptIds: Array.from({ length: m.spec.nCtx - 2 }, (_, i) => p[i % p.length]!), maxTokens: 10, stopAtEos: false },
    { promptIds: p, maxTokens: 12, stopAtEos: false },
  ];
  const got = generateBatch(m, reqs, { batchSize: 5 });
  assert.equal(got[0]!.stop, 'eos');
  assert.equal(got[0]!.ids.length, 4);
  assert.equal(got[0]!.ids[3], eos);
  assert.equal(got[1]!.stop, 'stop_sequence');
  assert.ok(tok.decode(got[1]!.ids, { skipSpecialTokens: true }).includes(stopText));
  assert.ok(got[1]!.ids.length <= 4);
  assert.equal(got[2]!.stop, 'max_tokens');
  assert.equal(got[2]!.ids.length, 5);
  assert.equal(got[3]!.stop, 'context');
  assert.equal(got[3]!.promptIds.length + got[3]!.ids.length, m.spec.nCtx + 1, 'the last token is generated from a full context, never fed');
  assert.deepEqual(got[4]!.ids, free.ids, 'the unedited neighbour is untouched by the others\' hooks and stops');
  got.forEach((g, i) => sameResult(g, generate(m, reqs[i]!.promptIds, reqs[i]!), `request ${i}`));
});

test('per-request intervention hooks in a batch: each row decodes as it does alone, at its own positions', async () => {
  const m = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
  const prompts = [[29, 87, 76, 87, 95], [29, 87], [5, 17, 23, 64, 8, 20, 30]];
  const edit = attentionEdit(resolveSpecs([{ kind: 'knockout', layers: 'all', heads: 'all', edges: [{ sources: '*', targets: [1] }] }], m, 20));
  const seen: number[][] = [];
  const spy = { name: 'blocks.0.attn.hook_pattern', fn: (_t: Tensor, ctx: HookContext) => void seen.push([...ctx.queryPositions]) };
  const reqs: GenerateRequest[] = prompts.map((promptIds, i) => ({ promptIds, maxTokens: 6, stopAtEos: false, hooks: i === 1 ? [...edit, spy] : i === 2 ? edit : [] }));
  const got = generateBatch(m, reqs, { batchSize: 3 });
  got.forEach((g, i) => sameResult(g, generate(m, reqs[i]!.promptIds, { ...reqs[i]!, hooks: i === 1 ? edit : reqs[i]!.hooks }), `row ${i}`));
  assert.deepEqual(seen, [[0, 1], [2], [3], [4], [5], [6]], 'row 1 hook sees its own absolute positions');
  const plain = generate(m, prompts[2]!, { maxTokens: 6, stopAtEos: false });
  assert.notDeepEqual(plain.logprobs, got[2]!.logprobs, 'the edit changes the generation');
});

test('generateBatch rejects bad options naming the request', async () => {
  const m = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
  assert.throws(() => generateBatch(m, [{ promptIds: [1], maxTokens: 2 }], { batchSize: 0 }), /batchSize: must be a positive integer/);
  assert.throws(() => generateBatch(m, [{ promptIds: [1], maxTokens: 2 }, { promptIds: [], maxTokens: 2 }]), /empty prompt.*request 1/);
  assert.throws(() => generateBatch(m, [{ promptIds: [1], maxTokens: 2, stopSequences: ['x'] }]), /tokenizer/);
  assert.deepEqual(generateBatch(m, []), []);
});
