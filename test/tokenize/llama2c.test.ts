/** llama2.c tokenizer (stories260K tok512.bin): encode/decode exactly as run.c. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Llama2cTokenizerError, loadLlama2cTokenizer } from '../../src/tokenize/index.ts';
import { CODE_STRINGS, TOK512, checkOffsets, corpusCodes } from './helpers/common.ts';

const tok = loadLlama2cTokenizer(TOK512, 512);

test('header and vocabulary', () => {
  assert.equal(tok.vocabSize, 512);
  assert.equal(tok.maxTokenLength, 7);
  assert.equal(tok.bosTokenId, 1);
  assert.equal(tok.eosTokenId, 2);
  assert.equal(tok.addsBos, true);
  assert.equal(tok.idToToken(1), '\n<s>\n');
  assert.equal(tok.idToToken(3 + 0x41), '<0x41>');
  assert.equal(tok.idToToken(512), undefined);
  assert.equal(tok.tokenText(1), '<s>');
  assert.equal(tok.tokenText(3 + 0x41), 'A');
});

test('"Zoo" encodes as run.c: BOS, dummy-prefix " ", "Z", "oo"', () => {
  // run.c encode(): BOS; " " (dummy prefix, id 410); per-char lookup Z=469, o=?, o=?; then the best-scoring
  // merge "oo" (id 347, score -88). " Z", "Zoo" and " Zoo" are not in the 512-piece vocabulary.
  assert.deepEqual(tok.encode('Zoo'), [1, 410, 469, 347]);
  assert.deepEqual(tok.encode('Zoo', { addSpecialTokens: false }), [410, 469, 347]);
  const enc = tok.encodeWithOffsets('Zoo');
  assert.deepEqual(enc.tokens, ['\n<s>\n', ' ', 'Z', 'oo']);
  assert.deepEqual(enc.offsets, [[0, 0], [0, 0], [0, 1], [1, 3]]);
  assert.deepEqual(enc.special, [true, false, false, false]);
  // run.c decode(): the piece after BOS loses its leading space.
  assert.equal(tok.decode(enc.ids, { skipSpecialTokens: true }), 'Zoo');
  assert.equal(tok.decode(enc.ids), '<s>Zoo');
});

test('empty text has no dummy prefix', () => {
  assert.deepEqual(tok.encode(''), [1]);
  assert.deepEqual(tok.encode('', { addSpecialTokens: false }), []);
});

test('merges by score, byte fallback = byte + 3, decode turns <0xNN> into bytes', () => {
  const ids = tok.encode('Once upon a time, there was a little girl named Lily.');
  assert.deepEqual(ids, [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426]);
  // "中" is not a piece: its 3 UTF-8 bytes fall back to ids 0xE4+3, 0xB8+3, 0xAD+3.
  assert.deepEqual(tok.encode('中', { addSpecialTokens: false }), [410, 0xe4 + 3, 0xb8 + 3, 0xad + 3]);
  for (const s of [...CODE_STRINGS, ...corpusCodes(), 'café 中文 🚀\tx']) {
    const enc = tok.encodeWithOffsets(s);
    checkOffsets(tok, s, enc, 'llama2c');
    assert.equal(tok.decode(enc.ids, { skipSpecialTokens: true }), s, JSON.stringify(s));
  }
});

test('truncated or unreadable files are reported', () => {
  const full = readFileSync(TOK512);
  const dir = mkdtempSync(join(tmpdir(), 'plip-l2c-'));
  const p = join(dir, 'cut.bin');
  writeFileSync(p, full.subarray(0, 1000));
  assert.throws(() => loadLlama2cTokenizer(p, 512), (e: unknown) => e instanceof Llama2cTokenizerError && e.message.includes(p) && /truncated/.test(e.message));
  assert.throws(() => loadLlama2cTokenizer(TOK512, 600), /truncated/);
  assert.throws(() => loadLlama2cTokenizer(join(dir, 'nope.bin'), 512), /cannot read/);
  assert.throws(() => tok.decode([512]), RangeError);
});
