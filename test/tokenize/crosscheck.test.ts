/**
 * Golden ids for tokenizers that llama.cpp's .out files do not cover, derived from independent paths:
 * - the same vocabulary through two sources: GGUF (ids, merges and the llama.cpp pre-type mapped to the HF
 *   pre-tokenizer) vs the model's own tokenizer.json (gpt-2 GGUF vs openai-community/gpt2; gpt-neox GGUF vs
 *   RedPajama-INCITE, a GPT-NeoX-20B tokenizer);
 * - a naive reference BPE (test/tokenize/helpers/ref-bpe.ts, no shared code with src/ or the library), itself
 *   validated on llama.cpp's goldens, vs the library path for SmolLM2 and Qwen2;
 * - round trips decode(encode(s)) == s;
 * - a few hand-checked id arrays.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadGgufTokenizer, type PlipTokenizer } from '../../src/tokenize/index.ts';
import { readGgufMetadata } from '../../src/tokenize/gguf.ts';
import { PRE, RefBpe } from './helpers/ref-bpe.ts';
import { CODE_STRINGS, CONFIGS, cachedHf, QWEN_DIR, SMOLLM2_DIR, VOCAB_DIR, corpusCodes, readGolden } from './helpers/common.ts';

const STRINGS = [...CODE_STRINGS, ...corpusCodes(), ...readGolden('gpt-2').map((c) => c.text)];
const noBos = { addSpecialTokens: false } as const;

function assertSameIds(a: { encode(s: string): number[] }, b: PlipTokenizer, label: string): void {
  for (const s of STRINGS) {
    assert.deepEqual(b.encode(s, noBos), a.encode(s), `${label}: ${JSON.stringify(s)}`);
  }
}

describe('reference BPE is itself correct on llama.cpp goldens', () => {
  for (const [name, pre] of [['gpt-2', PRE.gpt2], ['starcoder', PRE.digitsGpt2]] as const) {
    test(name, () => {
      const m = readGgufMetadata(join(VOCAB_DIR, `ggml-vocab-${name}.gguf`));
      const tokens = m.kv.get('tokenizer.ggml.tokens') as string[];
      const ref = new RefBpe(new Map(tokens.map((t, i) => [t, i])), m.kv.get('tokenizer.ggml.merges') as string[], pre);
      for (const c of readGolden(name)) assert.deepEqual(ref.encode(c.text), c.ids, JSON.stringify(c.text));
    });
  }
});

describe('two sources of one vocabulary agree', () => {
  test('gpt-2 GGUF vs openai-community/gpt2 tokenizer.json', () => {
    const gguf = loadGgufTokenizer(join(VOCAB_DIR, 'ggml-vocab-gpt-2.gguf'));
    const hf = cachedHf(join(CONFIGS, 'openai-community--gpt2'));
    assertSameIds({ encode: (s) => gguf.encode(s, noBos) }, hf, 'gpt-2');
    assert.equal(gguf.vocabSize, hf.vocabSize);
    for (const id of [0, 198, 15496, 50255, 50256]) assert.equal(gguf.idToToken(id), hf.idToToken(id));
  });
  test('gpt-neox GGUF vs RedPajama-INCITE tokenizer.json', () => {
    const gguf = loadGgufTokenizer(join(VOCAB_DIR, 'ggml-vocab-gpt-neox.gguf'));
    const hf = cachedHf(join(CONFIGS, 'togethercomputer--RedPajama-INCITE-7B-Base'));
    assertSameIds({ encode: (s) => gguf.encode(s, noBos) }, hf, 'gpt-neox');
    // Runs of spaces are added tokens in both (ids 50254..50276).
    assert.deepEqual(hf.encode('a    b', noBos), gguf.encode('a    b', noBos));
    assert.deepEqual(hf.encode('a    b', noBos), [66, 50274, 67]);
  });
});

describe('reference BPE vs library path', () => {
  test('SmolLM2 (digits + GPT-2 regex)', () => {
    const ref = RefBpe.fromTokenizerJson(join(SMOLLM2_DIR, 'tokenizer.json'), PRE.digitsGpt2);
    assertSameIds(ref, cachedHf(SMOLLM2_DIR), 'SmolLM2');
  });
  test('Qwen2 (NFC + Qwen2 regex)', () => {
    const ref = RefBpe.fromTokenizerJson(join(QWEN_DIR, 'tokenizer.json'), PRE.qwen2);
    assertSameIds(ref, cachedHf(QWEN_DIR), 'Qwen2');
  });
});

describe('hand-checked ids', () => {
  // How these were checked: each array was produced by the library path AND by the reference BPE above (equal),
  // every token string was read back (tokenText) and concatenates to the input, and the segmentation was traced
  // by hand against the model's pre-tokenisation regex. E.g. Qwen2's `[^\r\n\p{L}\p{N}]?\p{L}+` glues "_" to
  // "add" and its `[^\s\p{L}\p{N}]+[\r\n]*` glues "]" to the newline, while GPT-2's regex (SmolLM2) keeps "\n"
  // apart; SmolLM2 and Qwen2 both isolate digits, so " 2" is "Ġ" + "2". Well-known ids: gpt2 "Hello world" =
  // [15496, 995]; Qwen2 "Hello world" = [9707, 1879]; Mistral "Hello world" = [1, 22557, 1526].
  test('SmolLM2', () => {
    const t = cachedHf(SMOLLM2_DIR);
    assert.deepEqual(t.encode('>>> add(1, 2)\n3'), [36991, 803, 24, 33, 28, 216, 34, 25, 198, 35]);
    assert.deepEqual(t.encode('#[test]\nfn test_add() {'), [19, 75, 2129, 77, 198, 7853, 1028, 79, 2104, 1000, 1662]);
    const e = t.encodeWithOffsets('naïve 中文 🚀');
    assert.deepEqual(e.ids, [3546, 46494, 216, 28589, 29184, 15107, 244, 218]);
    assert.deepEqual(e.tokens, ['na', 'Ã¯ve', 'Ġ', 'ä¸Ń', 'æĸĩ', 'ĠðŁ', 'ļ', 'Ģ']);
    assert.deepEqual(e.offsets, [[0, 2], [2, 5], [5, 6], [6, 7], [7, 8], [8, 10], [9, 10], [9, 10]]);
  });
  test('Qwen2', () => {
    const t = cachedHf(QWEN_DIR);
    assert.deepEqual(t.encode('Hello world'), [9707, 1879]);
    assert.deepEqual(t.encode('>>> add(1, 2)\n3'), [20154, 912, 7, 16, 11, 220, 17, 340, 18]);
    const e = t.encodeWithOffsets('#[test]\nfn test_add() {');
    assert.deepEqual(e.ids, [13353, 1944, 921, 8822, 1273, 2891, 368, 314]);
    assert.deepEqual(e.ids.map((id) => t.tokenText(id)), ['#[', 'test', ']\n', 'fn', ' test', '_add', '()', ' {']);
    assert.deepEqual(t.encode('naïve 中文 🚀'), [3376, 37572, 586, 72858, 16744, 11162, 248, 222]);
  });
  test('gpt2 / gpt-2 GGUF', () => {
    assert.deepEqual(cachedHf(join(CONFIGS, 'openai-community--gpt2')).encode('Hello world'), [15496, 995]);
  });
});
