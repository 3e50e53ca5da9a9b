/**
 * GGUF metadata reader, GGUF → tokenizer.json conversion and llama.cpp's tokenizer golden tests
 * (NAME.gguf.inp / NAME.gguf.out, produced by Hugging Face tokenizers).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GgufError,
  ggufToTokenizerJson,
  loadGgufTokenizer,
  parseGgufMetadata,
  readGgufMetadata,
} from '../../src/tokenize/index.ts';
import { VOCAB_DIR, checkOffsets, readGolden } from './helpers/common.ts';

const GOLDEN_VOCABS = ['gpt-2', 'starcoder', 'refact', 'deepseek-coder'] as const;

describe('GGUF metadata', () => {
  test('reads the KV section of the real vocab files', () => {
    const m = readGgufMetadata(join(VOCAB_DIR, 'ggml-vocab-starcoder.gguf'));
    assert.equal(m.version, 3);
    assert.equal(m.tensorCount, 0);
    assert.equal(m.kv.get('tokenizer.ggml.model'), 'gpt2');
    assert.equal(m.kv.get('tokenizer.ggml.pre'), 'starcoder');
    assert.equal((m.kv.get('tokenizer.ggml.tokens') as string[]).length, 49152);
    assert.equal((m.kv.get('tokenizer.ggml.tokens') as string[])[0], '<|endoftext|>');
    assert.equal((m.kv.get('tokenizer.ggml.merges') as string[])[0], 'Ġ Ġ');
    assert.equal(m.kv.get('tokenizer.ggml.bos_token_id'), 0);
    const ds = readGgufMetadata(join(VOCAB_DIR, 'ggml-vocab-deepseek-coder.gguf'));
    assert.equal(ds.kv.get('tokenizer.ggml.add_bos_token'), true);
    assert.equal(ds.kv.get('llama.rope.scaling.factor'), 4);
    const neox = readGgufMetadata(join(VOCAB_DIR, 'ggml-vocab-gpt-neox.gguf'));
    assert.equal(neox.kv.has('tokenizer.ggml.pre'), false);
    assert.equal(neox.kv.get('general.architecture'), 'gptneox');
  });

  test('bad magic names the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'plip-gguf-'));
    const p = join(dir, 'bad.gguf');
    writeFileSync(p, Buffer.from('GGML\x03\x00\x00\x00 and some more bytes'));
    assert.throws(() => readGgufMetadata(p), (e: unknown) => e instanceof GgufError && /bad magic/.test(e.message) && e.message.includes(p));
    assert.throws(() => parseGgufMetadata(new Uint8Array([0x47, 0x47])), /not a GGUF file/);
  });

  test('unsupported version is rejected', () => {
    const buf = Buffer.alloc(24);
    buf.write('GGUF', 0, 'latin1');
    buf.writeUInt32LE(1, 4);
    assert.throws(() => parseGgufMetadata(buf, 'v1.gguf'), /unsupported GGUF version 1/);
  });

  test('truncation is reported with the file name, at every cut point tried', () => {
    const full = readFileSync(join(VOCAB_DIR, 'ggml-vocab-gpt-2.gguf'));
    for (const cut of [3, 8, 20, 30, 100, 1000, 50_000, full.length - 1]) {
      assert.throws(
        () => parseGgufMetadata(new Uint8Array(full.subarray(0, cut)), 'cut.gguf'),
        (e: unknown) => e instanceof GgufError && /cut\.gguf/.test(e.message) && /(truncated|not a GGUF)/.test(e.message),
        `cut at ${cut}`,
      );
    }
  });

  test('missing file is a GgufError naming the path', () => {
    assert.throws(() => readGgufMetadata('/nonexistent/x.gguf'), (e: unknown) => e instanceof GgufError && e.message.includes('/nonexistent/x.gguf'));
  });

  test('unsupported tokenizer model / pre type are reported', () => {
    const m = readGgufMetadata(join(VOCAB_DIR, 'ggml-vocab-gpt-2.gguf'));
    assert.throws(() => ggufToTokenizerJson(m, 'x.gguf', 'no-such-pre'), /pre-tokenizer type "no-such-pre" is not supported/);
    const kv = new Map(m.kv);
    kv.set('tokenizer.ggml.model', 'llama');
    assert.throws(() => ggufToTokenizerJson({ ...m, kv }, 'x.gguf'), /tokenizer model "llama" is not supported/);
  });
});

describe('GGUF tokenizers: llama.cpp golden tests (exact ids, no BOS)', () => {
  for (const name of GOLDEN_VOCABS) {
    test(name, async (t) => {
      const tok = loadGgufTokenizer(join(VOCAB_DIR, `ggml-vocab-${name}.gguf`));
      const cases = readGolden(name);
      assert.equal(cases.length, 46);
      for (const [i, c] of cases.entries()) {
        await t.test(`#${i} ${JSON.stringify(c.text).slice(0, 60)}`, () => {
          assert.deepEqual(tok.encode(c.text, { addSpecialTokens: false }), c.ids);
          const enc = tok.encodeWithOffsets(c.text, { addSpecialTokens: false });
          assert.deepEqual(enc.ids, c.ids);
          checkOffsets(tok, c.text, enc, name);
          assert.equal(tok.decode(c.ids), c.text, 'decode(encode(s)) == s');
        });
      }
    });
  }

  test('BOS policy from the GGUF keys', () => {
    const ds = loadGgufTokenizer(join(VOCAB_DIR, 'ggml-vocab-deepseek-coder.gguf'));
    assert.equal(ds.addsBos, true);
    assert.equal(ds.bosTokenId, 32013);
    assert.equal(ds.eosTokenId, 32014);
    assert.deepEqual(ds.encode('Hello'), [32013, ...ds.encode('Hello', { addSpecialTokens: false })]);
    const sc = loadGgufTokenizer(join(VOCAB_DIR, 'ggml-vocab-starcoder.gguf'));
    assert.equal(sc.addsBos, false);
    assert.equal(sc.bosTokenId, 0);
    assert.deepEqual(sc.encode('Hello world'), [8302, 5810]);
    // Control tokens in the text are single special tokens.
    const enc = sc.encodeWithOffsets('a<fim_prefix>b');
    assert.equal(enc.ids[1], 1);
    assert.equal(enc.special[1], true);
    assert.deepEqual(enc.offsets[1], [1, 13]);
  });
});
