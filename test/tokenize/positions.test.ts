/** charToToken / code point ↔ UTF-16 helpers, including the BOS shift. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  charToToken,
  codePointToUtf16,
  tokensInCharRange,
  utf16ToCodePoint,
  type Encoding,
} from '../../src/tokenize/index.ts';
import { CONFIGS, cachedHf } from './helpers/common.ts';

const enc = (offsets: Array<[number, number]>, special?: boolean[]): Encoding => ({
  ids: offsets.map((_, i) => i),
  tokens: offsets.map(() => ''),
  offsets,
  special: special ?? offsets.map(() => false),
});

test('charToToken: exact hits, BOS shift, shared spans', () => {
  // BOS, "Hello", " world"
  const e = enc([[0, 0], [0, 5], [5, 11]], [true, false, false]);
  assert.deepEqual(charToToken(e, 0), { token: 1, exact: true });
  assert.deepEqual(charToToken(e, 4), { token: 1, exact: true });
  assert.deepEqual(charToToken(e, 5), { token: 2, exact: true });
  assert.deepEqual(charToToken(e, 10), { token: 2, exact: true });
  // Past the end: nearest token, not exact.
  assert.deepEqual(charToToken(e, 11), { token: 2, exact: false });
  // Pieces of one character share a span: the first piece is returned.
  const p = enc([[0, 1], [1, 3], [2, 3], [2, 3], [3, 4]]);
  assert.deepEqual(charToToken(p, 2), { token: 1, exact: true });
  assert.deepEqual(charToToken(p, 1), { token: 1, exact: true });
  assert.deepEqual(charToToken(p, 3), { token: 4, exact: true });
});

test('charToToken: characters no token covers map to the nearest token', () => {
  // "a", (dropped "  "), "b" at 3
  const e = enc([[0, 1], [3, 4]]);
  assert.deepEqual(charToToken(e, 1), { token: 0, exact: false });
  assert.deepEqual(charToToken(e, 2), { token: 1, exact: false });
  assert.deepEqual(charToToken(enc([[0, 0]], [true]), 0), { token: 0, exact: false });
  assert.throws(() => charToToken(enc([]), 0), RangeError);
  assert.throws(() => charToToken(e, -1), RangeError);
});

test('real tokenizer: code point positions with BOS (Mistral) and without (gpt2)', () => {
  const text = '🚀 >>> add(1, 2)';
  const m = cachedHf(join(CONFIGS, 'mistralai--Mistral-7B-v0.1'));
  const em = m.encodeWithOffsets(text);
  assert.equal(em.ids[0], 1);
  const gt = charToToken(em, 2); // ">" at code point 2 (UTF-16 index 3)
  assert.equal(gt.exact, true);
  assert.equal(m.tokenText(em.ids[gt.token]!).trim(), '>>>');
  const g = cachedHf(join(CONFIGS, 'openai-community--gpt2'));
  const eg = g.encodeWithOffsets(text);
  const gg = charToToken(eg, 2);
  assert.equal(g.tokenText(eg.ids[gg.token]!), ' >>>');
  // Indices are into enc.ids: with BOS the same character sits one index further than in a BOS-less
  // encoding of the same pieces.
  const plain = m.encodeWithOffsets(text, { addSpecialTokens: false });
  assert.equal(charToToken(plain, 2).token, gt.token - 1);
  // Mistral: BOS, then a lone dummy-prefix "▁" (empty span), then "🚀"; empty spans never intersect.
  assert.deepEqual(em.tokens.slice(0, 3), ['<s>', '▁', '🚀']);
  assert.deepEqual(em.offsets.slice(0, 3), [[0, 0], [0, 0], [0, 1]]);
  assert.deepEqual(tokensInCharRange(em, 0, 1), [2]);
  assert.deepEqual(charToToken(em, 0), { token: 2, exact: true });
  assert.deepEqual(tokensInCharRange(eg, 0, 1), [0, 1, 2]); // gpt2: 🚀 is split over three byte-level pieces
});

test('code point <-> UTF-16 conversion', () => {
  const s = 'a🚀b中c';
  // code points: a(0) 🚀(1) b(2) 中(3) c(4); UTF-16: a(0) 🚀(1,2) b(3) 中(4) c(5)
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((c) => codePointToUtf16(s, c)), [0, 1, 3, 4, 5, 6]);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((u) => utf16ToCodePoint(s, u)), [0, 1, 1, 2, 3, 4, 5]);
  assert.throws(() => codePointToUtf16(s, 6), RangeError);
  assert.throws(() => utf16ToCodePoint(s, 7), RangeError);
  for (let c = 0; c <= 5; c++) assert.equal(utf16ToCodePoint(s, codePointToUtf16(s, c)), c);
});
