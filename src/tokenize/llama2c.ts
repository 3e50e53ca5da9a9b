/**
 * The llama2.c tokenizer (`tokenizer.bin` / `tok512.bin`): a SentencePiece vocabulary exported with scores,
 * encoded and decoded exactly as llama2.c's `run.c` (`encode()` / `decode()`).
 *
 * File format: int32 `max_token_length`, then for each of `vocabSize` tokens: float32 score, int32 byte length,
 * the bytes. Pieces use a plain space where SentencePiece uses `▁`; BOS/EOS are stored as `"\n<s>\n"` /
 * `"\n</s>\n"`; ids 3..258 are the byte pieces `<0x00>`..`<0xFF>`.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { alignSurfaces } from './align.ts';
import { byteFallbackValue, utf8Decode, utf8Encode } from './bytes.ts';
import type { DecodeOptions, EncodeOptions, Encoding, PlipTokenizer } from './types.ts';

/** Error raised for an unreadable or malformed llama2.c tokenizer file; the message names the file. */
export class Llama2cTokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Llama2cTokenizerError';
  }
}

const UNK_ID = 0;
const BOS_ID = 1;
const EOS_ID = 2;
const BYTE_OFFSET = 3;

/** Bytes as a "binary string" (one char per byte) usable as a Map key; concatenation = byte concatenation. */
function binary(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** A {@link PlipTokenizer} for llama2.c tokenizer files. Build it with {@link loadLlama2cTokenizer}. */
export class Llama2cTokenizer implements PlipTokenizer {
  readonly vocabSize: number;
  readonly bosTokenId = BOS_ID;
  readonly eosTokenId = EOS_ID;
  /** llama2.c's `generate()` always encodes the prompt with BOS. */
  readonly addsBos = true;
  /** `max_token_length` from the file header. */
  readonly maxTokenLength: number;
  private readonly pieces: Uint8Array[];
  private readonly pieceStr: string[];
  private readonly scores: Float32Array;
  private readonly lookup = new Map<string, number>();

  /**
   * @param pieces - token bytes per id
   * @param scores - merge score per id
   * @param maxTokenLength - header value
   */
  constructor(pieces: Uint8Array[], scores: Float32Array, maxTokenLength: number) {
    this.pieces = pieces;
    this.scores = scores;
    this.maxTokenLength = maxTokenLength;
    this.vocabSize = pieces.length;
    this.pieceStr = pieces.map(binary);
    // run.c looks pieces up by bsearch over the sorted vocab; with unique pieces any lookup agrees.
    this.pieceStr.forEach((p, id) => {
      if (!this.lookup.has(p)) this.lookup.set(p, id);
    });
  }

  encode(text: string, opts?: EncodeOptions): number[] {
    const addSpecial = opts?.addSpecialTokens ?? true;
    const tokens: number[] = [];
    if (addSpecial) tokens.push(BOS_ID);
    const bytes = utf8Encode(text);
    if (bytes.length > 0) {
      const dummy = this.lookup.get(' ');
      // run.c pushes the lookup result unconditionally; a vocab without " " is not a llama2.c vocab.
      if (dummy === undefined) throw new Llama2cTokenizerError('vocabulary has no " " piece for the dummy prefix');
      tokens.push(dummy);
    }
    // One code point (UTF-8 sequence, at most 4 bytes) at a time; unknown ones fall back to byte ids.
    let i = 0;
    while (i < bytes.length) {
      let j = i + 1;
      while (j < bytes.length && (bytes[j]! & 0xc0) === 0x80 && j - i < 4) j++;
      const chunk = bytes.subarray(i, j);
      const id = this.lookup.get(binary(chunk));
      if (id !== undefined) tokens.push(id);
      else for (const b of chunk) tokens.push(b + BYTE_OFFSET);
      i = j;
    }
    // Repeatedly merge the adjacent pair whose concatenation is the best-scoring piece (first one on ties).
    for (;;) {
      let bestScore = -1e10;
      let bestId = -1;
      let bestIdx = -1;
      for (let k = 0; k < tokens.length - 1; k++) {
        const id = this.lookup.get(this.pieceStr[tokens[k]!]! + this.pieceStr[tokens[k + 1]!]!);
        if (id !== undefined && this.scores[id]! > bestScore) {
          bestScore = this.scores[id]!;
          bestId = id;
          bestIdx = k;
        }
      }
      if (bestIdx === -1) break;
      tokens.splice(bestIdx, 2, bestId);
    }
    return tokens;
  }

  encodeWithOffsets(text: string, opts?: EncodeOptions): Encoding {
    const ids = this.encode(text, opts);
    const surfaces = ids.map((id) => (id === BOS_ID || id === EOS_ID ? new Uint8Array(0) : this.surface(id)));
    const offsets = alignSurfaces(text, surfaces);
    return {
      ids,
      tokens: ids.map((id) => this.idToToken(id)!),
      offsets,
      special: ids.map((id) => id === BOS_ID || id === EOS_ID || id === UNK_ID),
    };
  }

  /** Bytes a token stands for (byte pieces → their byte). */
  private surface(id: number): Uint8Array {
    const p = this.pieces[id]!;
    if (id >= BYTE_OFFSET && id < BYTE_OFFSET + 256) {
      const b = byteFallbackValue(utf8Decode(p));
      if (b !== null) return Uint8Array.of(b);
    }
    return p;
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`token id ${id} out of range [0, ${this.vocabSize})`);
    }
  }

  /**
   * run.c `decode()` applied to each token in turn: the leading space of a piece that follows BOS is dropped and
   * `<0xNN>` pieces become raw bytes. Special tokens (unk, BOS, EOS) render as `<unk>`, `<s>`, `</s>` unless
   * skipped.
   */
  decode(ids: number[], opts?: DecodeOptions): string {
    const out: number[] = [];
    let prev = -1;
    for (const id of ids) {
      this.check(id);
      if (id === UNK_ID || id === BOS_ID || id === EOS_ID) {
        if (!opts?.skipSpecialTokens) for (const b of utf8Encode(this.tokenText(id))) out.push(b);
        prev = id;
        continue;
      }
      let piece = this.surface(id);
      if (prev === BOS_ID && piece[0] === 0x20) piece = piece.subarray(1);
      for (const b of piece) out.push(b);
      prev = id;
    }
    return utf8Decode(Uint8Array.from(out));
  }

  tokenText(id: number): string {
    this.check(id);
    if (id === UNK_ID || id === BOS_ID || id === EOS_ID) return utf8Decode(this.pieces[id]!).trim();
    return utf8Decode(this.surface(id));
  }

  idToToken(id: number): string | undefined {
    const p = this.pieces[id];
    return p === undefined ? undefined : utf8Decode(p);
  }
}

/**
 * Load a llama2.c tokenizer file.
 * @param binPath - path of `tokenizer.bin` / `tok512.bin`
 * @param vocabSize - number of tokens (the model header's `vocab_size`; the file does not store it)
 * @throws {@link Llama2cTokenizerError} if the file is unreadable or shorter than `vocabSize` tokens
 */
export function loadLlama2cTokenizer(binPath: string, vocabSize: number): Llama2cTokenizer {
  if (!Number.isInteger(vocabSize) || vocabSize <= BYTE_OFFSET + 256) {
    throw new Llama2cTokenizerError(`${binPath}: vocabSize must be an integer > ${BYTE_OFFSET + 256}, got ${vocabSize}`);
  }
  let buf: Buffer;
  try {
    buf = readFileSync(binPath);
  } catch (e) {
    throw new Llama2cTokenizerError(`cannot read llama2.c tokenizer ${binPath}: ${(e as Error).message}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const truncated = (what: string, at: number): Llama2cTokenizerError =>
    new Llama2cTokenizerError(`llama2.c tokenizer ${binPath} is truncated: ${what} at offset ${at} (file has ${buf.byteLength} bytes, vocabSize ${vocabSize})`);
  if (buf.byteLength < 4) throw truncated('max_token_length', 0);
  const maxTokenLength = view.getInt32(0, true);
  const pieces: Uint8Array[] = [];
  const scores = new Float32Array(vocabSize);
  let pos = 4;
  for (let i = 0; i < vocabSize; i++) {
    if (pos + 8 > buf.byteLength) throw truncated(`header of token ${i}`, pos);
    scores[i] = view.getFloat32(pos, true);
    const len = view.getInt32(pos + 4, true);
    pos += 8;
    if (len < 0 || pos + len > buf.byteLength) throw truncated(`bytes of token ${i} (length ${len})`, pos);
    pieces.push(new Uint8Array(buf.buffer, buf.byteOffset + pos, len).slice());
    pos += len;
  }
  return new Llama2cTokenizer(pieces, scores, maxTokenLength);
}
