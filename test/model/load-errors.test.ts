/**
 * Bad input at load time: every case is a clear error naming the file and field — never a NaN,
 * a hang or a stack trace (the CLI prints `error: …` and exits 1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/model/load.ts';
import { loadSafetensorsFile, writeSafetensorsFile } from '../../src/io/safetensors.ts';

function copyTiny(family = 'llama'): string {
  const dir = mkdtempSync(join(tmpdir(), 'plip-bad-'));
  cpSync(`fixtures/tiny/${family}`, dir, { recursive: true });
  return dir;
}

test('missing weight file', async () => {
  const dir = copyTiny();
  rmSync(join(dir, 'model.safetensors'));
  await assert.rejects(loadModel(dir, { noTokenizer: true }), /model\.safetensors/);
});

test('truncated weight file names the file', async () => {
  const dir = copyTiny();
  const f = join(dir, 'model.safetensors');
  truncateSync(f, Math.floor(statSync(f).size * 0.7));
  await assert.rejects(loadModel(dir, { noTokenizer: true }), (e: Error) => e.message.includes('model.safetensors') && /truncat|short|size|bytes/i.test(e.message));
});

test('a tensor missing from the checkpoint is named', async () => {
  const dir = copyTiny();
  const f = join(dir, 'model.safetensors');
  const t = loadSafetensorsFile(f);
  const keep: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const [k, v] of t) if (k !== 'model.layers.1.mlp.up_proj.weight') keep[k] = { dtype: 'F32', shape: v.shape, data: v.data };
  writeSafetensorsFile(f, keep);
  await assert.rejects(loadModel(dir, { noTokenizer: true }), /'model\.layers\.1\.mlp\.up_proj\.weight'.*missing/);
});

test('config that does not match the weights names the tensor and both shapes', async () => {
  const dir = copyTiny();
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  cfg.intermediate_size += 8;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  await assert.rejects(loadModel(dir, { noTokenizer: true }), /gate_proj\.weight' has shape \[\d+, \d+\] but config\.json implies \[\d+, \d+\]/);
});

test('malformed config.json and unknown architecture', async () => {
  const dir = copyTiny();
  writeFileSync(join(dir, 'config.json'), '{"model_type": "llama", ');
  await assert.rejects(loadModel(dir, { noTokenizer: true }), /config\.json: invalid JSON/);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'rwkv' }));
  await assert.rejects(loadModel(dir, { noTokenizer: true }), /model_type 'rwkv' is not supported\. Supported: llama, mistral, qwen2, gemma, phi3, starcoder2, gpt2, gpt_neox/);
});

test('a tokenizer larger than the model vocabulary is rejected', async () => {
  const dir = copyTiny();
  copyFileSync('../shared/tokenizers/smollm2-135m/tokenizer.json', join(dir, 'tokenizer.json'));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ add_bos_token: false }));
  await assert.rejects(loadModel(dir), /tokenizer\.json has \d+ tokens but config\.json vocab_size is \d+/);
});

test('truncated llama2.c checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'plip-l2c-'));
  copyFileSync('../shared/models/stories260K/stories260K.bin', join(dir, 'stories260K.bin'));
  copyFileSync('../shared/models/stories260K/tok512.bin', join(dir, 'tok512.bin'));
  truncateSync(join(dir, 'stories260K.bin'), 500_000);
  await assert.rejects(loadModel(dir), /stories260K\.bin: file is 500000 bytes but the header implies \d+; the checkpoint is truncated/);
});

test('CLI: errors are one line on stderr with exit code 1, no stack trace', () => {
  const dir = copyTiny();
  rmSync(join(dir, 'model.safetensors'));
  const r = spawnSync(process.execPath, ['bin/plip.mjs', 'inspect', '--model', dir], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^error: .*model\.safetensors/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const bad = spawnSync(process.execPath, ['bin/plip.mjs', 'run', '--model', '../shared/models/stories260K', '--prompt', 'x', '--max-tokens', 'ten'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--max-tokens must be an integer/);
});

test('CLI: run, logits and inspect on the real stories260K model', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'plip-cli-')), 'logits.json');
  const run = spawnSync(process.execPath, ['bin/plip.mjs', 'run', '--model', '../shared/models/stories260K', '--prompt', 'Zoo', '--max-tokens', '8'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), 'Zoo was a little girl named Lily', 'first 8 greedy tokens of the published output');
  const lg = spawnSync(process.execPath, ['bin/plip.mjs', 'logits', '--model', '../shared/models/stories260K', '--text', 'Zoo was', '--out', out], { encoding: 'utf8' });
  assert.equal(lg.status, 0, lg.stderr);
  const doc = JSON.parse(readFileSync(out, 'utf8')) as { tokens: number[]; logits: number[][] };
  assert.equal(doc.tokens[0], 1);
  assert.equal(doc.logits.length, doc.tokens.length);
  assert.ok(doc.logits.every((r) => r.length === 512 && r.every(Number.isFinite)));
  const ins = spawnSync(process.execPath, ['bin/plip.mjs', 'inspect', '--model', '../shared/models/stories260K', '--json'], { encoding: 'utf8' });
  assert.equal(ins.status, 0, ins.stderr);
  const j = JSON.parse(ins.stdout);
  assert.equal(j.spec.rotary.style, 'interleaved');
  assert.ok(j.hooks.includes('blocks.4.attn.hook_pattern'));
});

test('GPT-2 checkpoints with bare Hub names (h.0…, wte.weight) and attn.bias buffers load identically', async () => {
  const dir = copyTiny('gpt2');
  const f = join(dir, 'model.safetensors');
  const t = loadSafetensorsFile(f);
  const renamed: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const [k, v] of t) renamed[k.replace(/^transformer\./, '')] = { dtype: 'F32', shape: v.shape, data: v.data };
  renamed['h.0.attn.bias'] = { dtype: 'F32', shape: [1, 1, 4, 4], data: new Float32Array(16).fill(1) };
  writeSafetensorsFile(f, renamed);
  const a = await loadModel(dir, { noTokenizer: true, backend: 'ts' });
  const b = await loadModel('fixtures/tiny/gpt2', { noTokenizer: true, backend: 'ts' });
  assert.deepEqual(a.forward([1, 2, 3]).logits!.data, b.forward([1, 2, 3]).logits!.data);
});

test('a tensor the family table requires (StarCoder2 LayerNorm bias) is never silently dropped', async () => {
  const dir = copyTiny('starcoder2');
  const f = join(dir, 'model.safetensors');
  const t = loadSafetensorsFile(f);
  const keep: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const [k, v] of t) if (k !== 'model.layers.0.input_layernorm.bias') keep[k] = { dtype: 'F32', shape: v.shape, data: v.data };
  writeSafetensorsFile(f, keep);
  await assert.rejects(loadModel(dir, { noTokenizer: true }), /'model\.layers\.0\.input_layernorm\.bias'.*missing/);
});

test('generation_config.json eos ids are merged into the stop set; malformed ones are named', async () => {
  const dir = copyTiny();
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [7, 9] }));
  const m = await loadModel(dir, { noTokenizer: true });
  const eos = [m.spec.eosTokenId].flat();
  assert.ok(eos.includes(7) && eos.includes(9));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 'x' }));
  await assert.rejects(loadModel(dir, { noTokenizer: true }), /generation_config\.json: eos_token_id must be/);
});

test('library messages name the option field, never a CLI flag', async () => {
  const dir = copyTiny();
  rmSync(join(dir, 'config.json'));
  await assert.rejects(loadModel(dir, { noTokenizer: true }), (e: Error) => /no config\.json/.test(e.message) && !/--[a-z]/.test(e.message));
  const tok = copyTiny();
  rmSync(join(tok, 'tokenizer.json'), { force: true });
  await assert.rejects(loadModel(tok), (e: Error) => /tokenizer\.json is missing/.test(e.message) && /noTokenizer: true/.test(e.message) && !/--[a-z]/.test(e.message));
});
