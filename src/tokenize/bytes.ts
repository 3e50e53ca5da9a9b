/**
 * Byte-level helpers shared by the tokenizers: the GPT-2 byte↔unicode table, UTF-8 encoding and the
 * mapping from UTF-8 byte positions to Unicode code point indices.
 *
 * @module
 */

/** GPT-2's `bytes_to_unicode()` table: byte value → printable character used in byte-level vocabularies. */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const table = new Array<string>(256);
  bs.forEach((b, i) => {
    table[b] = String.fromCharCode(cs[i]!);
  });
  return table;
})();

/** Inverse of {@link BYTE_TO_UNICODE}: printable character → byte value. */
export const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_UNICODE.map((c, b) => [c, b]));

const encoder = new TextEncoder();
const lenientDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** UTF-8 bytes of a string. */
export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Decode UTF-8 bytes, replacing invalid/partial sequences with U+FFFD (never throws, keeps a leading BOM). */
export function utf8Decode(bytes: Uint8Array | number[]): string {
  return lenientDecoder.decode(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
}

/**
 * Bytes represented by a byte-level (GPT-2 style) token string. Characters outside the table (which do not
 * occur in well-formed byte-level vocabularies) contribute their own UTF-8 bytes.
 */
export function byteLevelTokenBytes(token: string): number[] {
  const out: number[] = [];
  for (const ch of token) {
    const b = UNICODE_TO_BYTE.get(ch);
    if (b !== undefined) out.push(b);
    else for (const x of utf8Encode(ch)) out.push(x);
  }
  return out;
}

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

/** If `token` is a SentencePiece byte-fallback piece `<0xNN>`, its byte value; else `null`. */
export function byteFallbackValue(token: string): number | null {
  const m = BYTE_PIECE.exec(token);
  return m ? parseInt(m[1]!, 16) : null;
}

/**
 * For a string, the code point index of the character that contains each UTF-8 byte, plus the total number of
 * code points. `byteToCp[b]` is defined for `0 <= b < bytes.length`; a sentinel entry at `bytes.length` holds the
 * code point count.
 */
export function byteToCodePointMap(text: string): { bytes: Uint8Array; byteToCp: Int32Array; cpCount: number } {
  const bytes = utf8Encode(text);
  const byteToCp = new Int32Array(bytes.length + 1);
  let cp = 0;
  let b = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    const n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    for (let k = 0; k < n; k++) byteToCp[b++] = cp;
    cp++;
  }
  byteToCp[bytes.length] = cp;
  return { bytes, byteToCp, cpCount: cp };
}
