/**
 * Real Hugging Face config.json files (../shared/configs) resolve to the right architecture description.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolveSpec, SUPPORTED_MODEL_TYPES } from '../../src/model/families.ts';
import type { ModelSpec } from '../../src/model/spec.ts';

function spec(dir: string): ModelSpec {
  const f = `../shared/configs/${dir}/config.json`;
  return resolveSpec(JSON.parse(readFileSync(f, 'utf8')), f).spec;
}

test('CodeLlama-7b: llama, MHA, rope theta 1e6, untied', () => {
  const s = spec('codellama--CodeLlama-7b-hf');
  assert.equal(s.family, 'llama');
  assert.deepEqual([s.nLayers, s.dModel, s.nHeads, s.nKvHeads, s.dHead, s.dMlp, s.vocabSize], [32, 4096, 32, 32, 128, 11008, 32016]);
  assert.deepEqual(s.norm, { kind: 'rmsnorm', eps: 1e-5, weightOffset: 0 });
  assert.deepEqual(s.rotary, { style: 'half', theta: 1e6, rotaryDim: 128, scaling: null });
  assert.deepEqual(s.mlp, { kind: 'gated', act: 'silu' });
  assert.equal(s.tiedEmbeddings, false);
  assert.equal(s.bosTokenId, 1);
});

test('Mistral-7B: GQA 32/8 and sliding window 4096', () => {
  const s = spec('mistralai--Mistral-7B-v0.1');
  assert.equal(s.family, 'mistral');
  assert.deepEqual([s.nHeads, s.nKvHeads, s.dHead], [32, 8, 128]);
  assert.equal(s.slidingWindow, 4096);
  assert.equal(s.tiedEmbeddings, false);
});

test('Qwen2.5-Coder-0.5B: GQA 14/2, tied, theta 1e6, no sliding window', () => {
  const s = spec('Qwen--Qwen2.5-Coder-0.5B-Instruct');
  assert.equal(s.family, 'qwen2');
  assert.deepEqual([s.nLayers, s.dModel, s.nHeads, s.nKvHeads, s.dHead, s.dMlp, s.vocabSize], [24, 896, 14, 2, 64, 4864, 151936]);
  assert.equal(s.norm.eps, 1e-6);
  assert.equal(s.rotary!.theta, 1e6);
  assert.equal(s.tiedEmbeddings, true);
  assert.equal(s.slidingWindow, null);
  assert.equal(s.eosTokenId, 151645);
});

test('gemma-2b-it: head_dim 256, MQA, (1+w) RMSNorm, GeGLU tanh, sqrt(d) embedding scale, tied', () => {
  const s = spec('google--gemma-2b-it');
  assert.equal(s.family, 'gemma');
  assert.deepEqual([s.nHeads, s.nKvHeads, s.dHead, s.dModel], [8, 1, 256, 2048]);
  assert.equal(s.norm.weightOffset, 1);
  assert.equal(s.mlp.act, 'gelu_tanh', 'HF Gemma ignores hidden_act "gelu" and uses gelu_pytorch_tanh');
  assert.equal(s.embedScale, Math.fround(Math.sqrt(2048)));
  assert.equal(s.tiedEmbeddings, true);
  assert.equal(s.attnScale, 1 / 16);
  assert.equal(s.bosTokenId, 2);
});

test('codegemma-7b-it: 16 heads of 256 on a 3072 model', () => {
  const s = spec('unsloth--codegemma-7b-it');
  assert.deepEqual([s.nHeads, s.nKvHeads, s.dHead, s.dModel, s.nLayers], [16, 16, 256, 3072, 28]);
  assert.equal(s.mlp.act, 'gelu_tanh');
});

test('Phi-3-mini-128k: fused projections family, longrope scaling', () => {
  const s = spec('microsoft--Phi-3-mini-128k-instruct');
  assert.equal(s.family, 'phi3');
  assert.deepEqual([s.nHeads, s.nKvHeads, s.dHead, s.dMlp], [32, 32, 96, 8192]);
  assert.equal(s.rotary!.scaling?.type, 'longrope');
  const sc = s.rotary!.scaling as { shortFactor: number[]; originalMaxPositionEmbeddings: number };
  assert.equal(sc.shortFactor.length, 48);
  assert.equal(sc.originalMaxPositionEmbeddings, 4096);
});

test('gpt2: learned positions, LayerNorm, gelu_new, tied', () => {
  const s = spec('openai-community--gpt2');
  assert.equal(s.family, 'gpt2');
  assert.equal(s.positional, 'learned');
  assert.equal(s.rotary, null);
  assert.deepEqual(s.norm, { kind: 'layernorm', eps: 1e-5, weightOffset: 0 });
  assert.deepEqual(s.mlp, { kind: 'plain', act: 'gelu_tanh' });
  assert.deepEqual([s.nLayers, s.dModel, s.nHeads, s.dMlp, s.vocabSize, s.nCtx], [12, 768, 12, 3072, 50257, 1024]);
  assert.equal(s.tiedEmbeddings, true);
});

test('RedPajama-INCITE (gpt_neox): full rotary, sequential residual, untied', () => {
  const s = spec('togethercomputer--RedPajama-INCITE-7B-Base');
  assert.equal(s.family, 'gpt_neox');
  assert.equal(s.rotary!.rotaryDim, 128);
  assert.equal(s.parallelResidual, false);
  assert.equal(s.tiedEmbeddings, false);
  assert.equal(s.mlp.act, 'gelu');
});

test('unknown model_type is rejected with the list of supported ones', () => {
  assert.throws(
    () => resolveSpec({ model_type: 'mamba', hidden_size: 8 }, 'x/config.json'),
    (e: Error) => /x\/config.json: model_type 'mamba' is not supported/.test(e.message) && SUPPORTED_MODEL_TYPES.every((t) => e.message.includes(t)),
  );
});

test('missing and malformed config fields name the file and field', () => {
  const base = JSON.parse(readFileSync('../shared/configs/codellama--CodeLlama-7b-hf/config.json', 'utf8'));
  const { hidden_size: _h, ...noHidden } = base;
  assert.throws(() => resolveSpec(noHidden, 'c.json'), /c.json: required field 'hidden_size' is missing/);
  assert.throws(() => resolveSpec({ ...base, num_attention_heads: 'x' }, 'c.json'), /c.json: field 'num_attention_heads' must be a number/);
  assert.throws(() => resolveSpec({ ...base, num_key_value_heads: 5 }, 'c.json'), /num_key_value_heads.*must divide/);
  assert.throws(() => resolveSpec({ ...base, hidden_act: 'swiglu2' }, 'c.json'), /hidden_act.*not a supported activation/);
  assert.throws(() => resolveSpec([], 'c.json'), /expected a JSON object/);
});
