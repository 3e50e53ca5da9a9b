/**
 * Character ↔ token position helpers. This module is THE place where the BOS shift is handled: token indices
 * returned here are indices into `enc.ids`, so they already include the BOS (and any other added token).
 *
 * Character positions are Unicode code point indices, like {@link Encoding.offsets}. Use
 * {@link utf16ToCodePoint} / {@link codePointToUtf16} to convert from / to JavaScript string indices.
 *
 * @module
 */
import type { Encoding } from './types.ts';

/** Result of {@link charToToken}. */
export interface TokenAtChar {
  /** Index into `enc.ids` (BOS included). */
  token: number;
  /** `true` when the token's span contains the character; `false` when the nearest token was taken instead. */
  exact: boolean;
}

/**
 * The token whose span contains code point `charPos`. When several tokens share the character (pieces of one
 * multi-byte character), the first of them. When no token contains it (e.g. whitespace the tokenizer dropped),
 * the nearest token with a non-empty span (the earlier one on a tie) and `exact: false`.
 *
 * @param enc - an encoding from {@link PlipTokenizer.encodeWithOffsets}
 * @param charPos - code point index into the encoded text
 * @throws RangeError if `charPos` is negative or not an integer, or the encoding has no tokens
 */
export function charToToken(enc: Encoding, charPos: number): TokenAtChar {
  if (!Number.isInteger(charPos) || charPos < 0) throw new RangeError(`charPos must be a non-negative integer, got ${charPos}`);
  const n = enc.offsets.length;
  if (n === 0) throw new RangeError('charToToken: the encoding has no tokens');
  // Offsets are monotone: binary search for the last token whose start <= charPos.
  let lo = 0;
  let hi = n - 1;
  let last = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (enc.offsets[mid]![0] <= charPos) {
      last = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // Walk back over tokens starting at or before charPos to find the first one containing it.
  let found = -1;
  for (let i = last; i >= 0; i--) {
    const [s, e] = enc.offsets[i]!;
    if (s <= charPos && charPos < e) found = i;
    else if (e <= charPos && e > s) break; // a non-empty token ending before charPos: nothing earlier can contain it
  }
  if (found >= 0) return { token: found, exact: true };

  let best = -1;
  let bestDist = Infinity;
  for (let i = 0; i < n; i++) {
    const [s, e] = enc.offsets[i]!;
    if (e <= s) continue;
    const d = charPos < s ? s - charPos : charPos - (e - 1);
    if (d < bestDist) {
      bestDist = d;
      best = i;
    }
  }
  if (best < 0) {
    // Only empty spans (e.g. just BOS): the last token at or before the position, else the first.
    best = Math.max(last, 0);
  }
  return { token: best, exact: false };
}

/**
 * Token indices (into `enc.ids`) whose spans intersect the code point range `[start, end)`.
 * Tokens with empty spans (BOS, inserted prefixes) are never included.
 */
export function tokensInCharRange(enc: Encoding, start: number, end: number): number[] {
  const out: number[] = [];
  enc.offsets.forEach(([s, e], i) => {
    if (e > s && s < end && e > start) out.push(i);
  });
  return out;
}

/**
 * Convert a code point index of `text` into a UTF-16 index (a JavaScript string index).
 * @throws RangeError if `cp` is outside `[0, number of code points]`
 */
export function codePointToUtf16(text: string, cp: number): number {
  if (!Number.isInteger(cp) || cp < 0) throw new RangeError(`code point index must be a non-negative integer, got ${cp}`);
  let u = 0;
  let c = 0;
  while (c < cp) {
    if (u >= text.length) throw new RangeError(`code point index ${cp} is past the end of the text (${c} code points)`);
    const code = text.charCodeAt(u);
    u += code >= 0xd800 && code <= 0xdbff && u + 1 < text.length && (text.charCodeAt(u + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
    c++;
  }
  return u;
}

/**
 * Convert a UTF-16 index of `text` into a code point index. An index pointing at the low half of a surrogate
 * pair maps to the code point of that pair.
 * @throws RangeError if `u16` is outside `[0, text.length]`
 */
export function utf16ToCodePoint(text: string, u16: number): number {
  if (!Number.isInteger(u16) || u16 < 0 || u16 > text.length) {
    throw new RangeError(`UTF-16 index ${u16} is outside [0, ${text.length}]`);
  }
  let u = 0;
  let c = 0;
  while (u < u16) {
    const code = text.charCodeAt(u);
    const w = code >= 0xd800 && code <= 0xdbff && u + 1 < text.length && (text.charCodeAt(u + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
    if (u + w > u16) break; // inside a surrogate pair
    u += w;
    c++;
  }
  return c;
}
