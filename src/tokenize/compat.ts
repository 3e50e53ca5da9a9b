/**
 * Rewrites of a `tokenizer.json` that make `@huggingface/tokenizers` (JS) segment text exactly like the Rust
 * `tokenizers` library that produced the models' reference tokenisations.
 *
 * Known divergences of `@huggingface/tokenizers` 0.2.0 from Rust, fixed here by an equivalent configuration:
 * - `Digits`: JS splits on `\d` (ASCII 0-9 only); Rust splits on `char::is_numeric` (Unicode `\p{N}`: `½`, `²`,
 *   `٣`, ...). Rewritten as a `Split` on `\p{N}` (individual digits) or `\p{N}+`, behaviour Isolated.
 * - `ByteLevel` with `use_regex`: JS uses the GPT-2 regex with JS `\s` (which adds U+FEFF and misses U+0085);
 *   Rust's `\s` is Unicode White_Space. Rewritten as `Split` with the same regex (the library translates `\s` to
 *   `\p{White_Space}` for `Split` patterns) followed by `ByteLevel` without regex.
 *
 * @module
 */

/** The GPT-2 pre-tokenisation regex used by `ByteLevel` (`use_regex: true`). */
export const GPT2_SPLIT_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

type Json = Record<string, unknown>;

function isObj(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function rewritePreTokenizer(pt: unknown): unknown {
  if (!isObj(pt)) return pt;
  switch (pt['type']) {
    case 'Sequence': {
      const list = Array.isArray(pt['pretokenizers']) ? (pt['pretokenizers'] as unknown[]) : [];
      const flat: unknown[] = [];
      for (const p of list) {
        const r = rewritePreTokenizer(p);
        if (isObj(r) && r['type'] === 'Sequence' && Array.isArray(r['pretokenizers'])) flat.push(...(r['pretokenizers'] as unknown[]));
        else flat.push(r);
      }
      return { ...pt, pretokenizers: flat };
    }
    case 'Digits':
      return {
        type: 'Split',
        pattern: { Regex: pt['individual_digits'] === true ? '\\p{N}' : '\\p{N}+' },
        behavior: 'Isolated',
        invert: false,
      };
    case 'ByteLevel': {
      const useRegex = pt['use_regex'] !== false;
      if (!useRegex || pt['add_prefix_space'] === true) return pt; // prefix space must precede the split
      return {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: GPT2_SPLIT_REGEX }, behavior: 'Isolated', invert: false },
          { ...pt, use_regex: false },
        ],
      };
    }
    default:
      return pt;
  }
}

/**
 * Return a copy of `tokenizerJson` whose pre-tokenizer is rewritten for Rust-equivalent segmentation (see the
 * module documentation). Other sections are shared, not copied.
 */
export function rustCompatibleTokenizerJson(tokenizerJson: Json): Json {
  if (!('pre_tokenizer' in tokenizerJson)) return tokenizerJson;
  return { ...tokenizerJson, pre_tokenizer: rewritePreTokenizer(tokenizerJson['pre_tokenizer']) };
}
