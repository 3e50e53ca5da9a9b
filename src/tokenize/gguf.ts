/**
 * Minimal GGUF (v2/v3) metadata reader and conversion of a GGUF tokenizer vocabulary into a
 * Hugging Face `tokenizer.json`-equivalent object.
 *
 * Only the header and the key/value metadata section are parsed; tensor infos and data are ignored, so
 * vocabulary-only GGUF files (as shipped by llama.cpp for its tokenizer tests) and full model files both work.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { HfTokenizer } from './hf.ts';

/** GGUF metadata value types (gguf.h `enum gguf_type`). */
export enum GgufType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** A decoded metadata value. 64-bit integers are returned as `number` when safe, else `bigint`. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

/** Parsed GGUF header and metadata. */
export interface GgufMetadata {
  /** File format version (2 or 3). */
  version: number;
  /** Number of tensors declared in the header (not parsed further). */
  tensorCount: number;
  /** All metadata key/value pairs in file order. */
  kv: Map<string, GgufValue>;
}

/** Error raised for malformed or unsupported GGUF input; the message names the file. */
export class GgufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GgufError';
  }
}

const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian

class Reader {
  private pos = 0;
  private readonly view: DataView;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false });
  constructor(
    private readonly buf: Uint8Array,
    private readonly name: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.byteLength) {
      throw new GgufError(
        `GGUF file ${this.name} is truncated: needed ${n} byte(s) for ${what} at offset ${this.pos}, file has ${this.buf.byteLength}`,
      );
    }
  }
  u8(): number { this.need(1, 'uint8'); return this.view.getUint8(this.pos++); }
  i8(): number { this.need(1, 'int8'); return this.view.getInt8(this.pos++); }
  u16(): number { this.need(2, 'uint16'); const v = this.view.getUint16(this.pos, true); this.pos += 2; return v; }
  i16(): number { this.need(2, 'int16'); const v = this.view.getInt16(this.pos, true); this.pos += 2; return v; }
  u32(): number { this.need(4, 'uint32'); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
  i32(): number { this.need(4, 'int32'); const v = this.view.getInt32(this.pos, true); this.pos += 4; return v; }
  f32(): number { this.need(4, 'float32'); const v = this.view.getFloat32(this.pos, true); this.pos += 4; return v; }
  f64(): number { this.need(8, 'float64'); const v = this.view.getFloat64(this.pos, true); this.pos += 8; return v; }
  u64(): number | bigint {
    this.need(8, 'uint64');
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  i64(): number | bigint {
    this.need(8, 'int64');
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  /** A count/length (uint64); rejects values that cannot fit in the remaining bytes. */
  count(what: string, minElemBytes: number): number {
    const v = this.u64();
    const remaining = this.buf.byteLength - this.pos;
    if (typeof v === 'bigint' || v * minElemBytes > remaining) {
      throw new GgufError(
        `GGUF file ${this.name} is truncated or corrupt: ${what} = ${String(v)} at offset ${this.pos - 8} exceeds the ${remaining} remaining byte(s)`,
      );
    }
    return v;
  }
  str(): string {
    const n = this.count('string length', 1);
    const s = this.utf8.decode(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  get offset(): number { return this.pos; }
}

const ELEM_MIN_BYTES: Record<number, number> = {
  [GgufType.UINT8]: 1, [GgufType.INT8]: 1, [GgufType.BOOL]: 1,
  [GgufType.UINT16]: 2, [GgufType.INT16]: 2,
  [GgufType.UINT32]: 4, [GgufType.INT32]: 4, [GgufType.FLOAT32]: 4,
  [GgufType.UINT64]: 8, [GgufType.INT64]: 8, [GgufType.FLOAT64]: 8,
  [GgufType.STRING]: 8, [GgufType.ARRAY]: 12,
};

function readValue(r: Reader, type: number, name: string, key: string): GgufValue {
  switch (type) {
    case GgufType.UINT8: return r.u8();
    case GgufType.INT8: return r.i8();
    case GgufType.UINT16: return r.u16();
    case GgufType.INT16: return r.i16();
    case GgufType.UINT32: return r.u32();
    case GgufType.INT32: return r.i32();
    case GgufType.FLOAT32: return r.f32();
    case GgufType.BOOL: return r.u8() !== 0;
    case GgufType.STRING: return r.str();
    case GgufType.UINT64: return r.u64();
    case GgufType.INT64: return r.i64();
    case GgufType.FLOAT64: return r.f64();
    case GgufType.ARRAY: {
      const elemType = r.u32();
      const minBytes = ELEM_MIN_BYTES[elemType];
      if (minBytes === undefined) {
        throw new GgufError(`GGUF file ${name}: key "${key}" has an array of unknown element type ${elemType}`);
      }
      const n = r.count(`array length of "${key}"`, minBytes);
      const out: GgufValue[] = new Array<GgufValue>(n);
      for (let i = 0; i < n; i++) out[i] = readValue(r, elemType, name, key);
      return out;
    }
    default:
      throw new GgufError(`GGUF file ${name}: key "${key}" has unknown value type ${type} at offset ${r.offset - 4}`);
  }
}

/**
 * Parse the header and metadata key/value section of a GGUF file held in memory.
 * @param buf - file contents (at least the header and metadata section)
 * @param name - file name used in error messages
 * @throws {@link GgufError} on bad magic, unsupported version, truncation or unknown value types
 */
export function parseGgufMetadata(buf: Uint8Array, name = '<buffer>'): GgufMetadata {
  const r = new Reader(buf, name);
  if (buf.byteLength < 4) throw new GgufError(`${name} is not a GGUF file: only ${buf.byteLength} byte(s)`);
  const magic = r.u32();
  if (magic !== GGUF_MAGIC) {
    const shown = Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new GgufError(`${name} is not a GGUF file: bad magic bytes ${shown} (expected 47 47 55 46 = "GGUF")`);
  }
  const version = r.u32();
  if (version !== 2 && version !== 3) {
    throw new GgufError(`${name}: unsupported GGUF version ${version} (supported: 2, 3)`);
  }
  const tensorCount = r.u64();
  const kvCount = r.count('metadata key/value count', 13);
  const kv = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = r.str();
    const type = r.u32();
    kv.set(key, readValue(r, type, name, key));
  }
  return { version, tensorCount: typeof tensorCount === 'bigint' ? Number(tensorCount) : tensorCount, kv };
}

/** Read a GGUF file from disk and parse its metadata. See {@link parseGgufMetadata}. */
export function readGgufMetadata(path: string): GgufMetadata {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new GgufError(`cannot read GGUF file ${path}: ${(e as Error).message}`);
  }
  return parseGgufMetadata(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
}

// ---------------------------------------------------------------------------------------------------------------
// GGUF vocabulary → tokenizer.json
// ---------------------------------------------------------------------------------------------------------------

/** llama.cpp token types (`llama_token_type`). */
export enum GgufTokenType {
  UNDEFINED = 0,
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

const BYTE_LEVEL_DECODER = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
const BYTE_LEVEL_REGEX = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
const BYTE_LEVEL_NO_REGEX = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false };
const isolated = (regex: string): Record<string, unknown> => ({
  type: 'Split',
  pattern: { Regex: regex },
  behavior: 'Isolated',
  invert: false,
});

/**
 * Hugging Face pre-tokenizer (and normalizer) of the models behind each llama.cpp `tokenizer.ggml.pre` type.
 * These are the `tokenizer.json` sections of the original models, which llama.cpp's own regex lists
 * (`llama-vocab.cpp`) re-implement; the llama.cpp golden tests were produced with them.
 */
const PRE_TOKENIZERS: Record<string, { pre: unknown; normalizer: unknown }> = {
  // GPT-2 / MPT / OLMo: plain byte-level with the GPT-2 regex.
  'gpt-2': { pre: BYTE_LEVEL_REGEX, normalizer: null },
  mpt: { pre: BYTE_LEVEL_REGEX, normalizer: { type: 'NFC' } },
  olmo: { pre: BYTE_LEVEL_REGEX, normalizer: null },
  // GPT-NeoX-20B (files converted before `pre` existed have no key): byte-level, NFC normaliser.
  'gpt-neox': { pre: BYTE_LEVEL_REGEX, normalizer: { type: 'NFC' } },
  // StarCoder family: individual digits, then byte-level.
  starcoder: { pre: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, BYTE_LEVEL_REGEX] }, normalizer: null },
  refact: { pre: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, BYTE_LEVEL_REGEX] }, normalizer: null },
  smollm: { pre: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, BYTE_LEVEL_REGEX] }, normalizer: null },
  // DeepSeek-Coder: newline, letters, punctuation, CJK splits, individual digits, then byte-level without regex.
  'deepseek-coder': {
    pre: {
      type: 'Sequence',
      pretokenizers: [
        isolated('[\r\n]'),
        isolated('\\s?\\p{L}+'),
        isolated('\\s?\\p{P}+'),
        isolated('[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+'),
        { type: 'Digits', individual_digits: true },
        BYTE_LEVEL_NO_REGEX,
      ],
    },
    normalizer: null,
  },
  // Qwen2 / Llama-3 style single-regex splits.
  qwen2: {
    pre: {
      type: 'Sequence',
      pretokenizers: [
        isolated("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
        BYTE_LEVEL_NO_REGEX,
      ],
    },
    normalizer: { type: 'NFC' },
  },
  'llama-bpe': {
    pre: {
      type: 'Sequence',
      pretokenizers: [
        isolated("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
        BYTE_LEVEL_NO_REGEX,
      ],
    },
    normalizer: null,
  },
};
PRE_TOKENIZERS['default'] = PRE_TOKENIZERS['gpt-2']!;

/** Supported values of `tokenizer.ggml.pre` (a missing key is read as `default`, GPT-2 style). */
export const SUPPORTED_GGUF_PRE_TYPES: readonly string[] = Object.keys(PRE_TOKENIZERS);

/** A tokenizer.json-equivalent object and the tokenizer_config.json-equivalent settings built from GGUF metadata. */
export interface GgufTokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

function stringArray(kv: Map<string, GgufValue>, key: string, name: string): string[] {
  const v = kv.get(key);
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new GgufError(`GGUF file ${name}: metadata "${key}" is missing or not an array of strings`);
  }
  return v as string[];
}

/**
 * Convert the tokenizer metadata of a GGUF file into a tokenizer.json-equivalent object (BPE model with vocab and
 * merges, the Hugging Face pre-tokenizer of the `tokenizer.ggml.pre` type, ByteLevel decoder) and tokenizer_config
 * settings (BOS/EOS tokens, `add_bos_token`). Control tokens become special added tokens, user-defined tokens
 * non-special added tokens, as llama.cpp treats both as unsplittable.
 * @param meta - parsed GGUF metadata
 * @param name - file name for error messages
 * @param preOverride - pre-tokenizer type to use instead of `tokenizer.ggml.pre` (e.g. `gpt-neox` for files
 *   converted before the key existed)
 */
export function ggufToTokenizerJson(meta: GgufMetadata, name = '<gguf>', preOverride?: string): GgufTokenizerFiles {
  const kv = meta.kv;
  const model = kv.get('tokenizer.ggml.model');
  if (model !== 'gpt2') {
    throw new GgufError(`GGUF file ${name}: tokenizer model "${String(model)}" is not supported (only "gpt2" byte-level BPE)`);
  }
  const arch = kv.get('general.architecture');
  const preKey = kv.get('tokenizer.ggml.pre');
  const pre = preOverride ?? (typeof preKey === 'string' ? preKey : arch === 'gptneox' ? 'gpt-neox' : 'default');
  const preCfg = PRE_TOKENIZERS[pre];
  if (!preCfg) {
    throw new GgufError(`GGUF file ${name}: pre-tokenizer type "${pre}" is not supported (supported: ${SUPPORTED_GGUF_PRE_TYPES.join(', ')})`);
  }
  const tokens = stringArray(kv, 'tokenizer.ggml.tokens', name);
  const merges = stringArray(kv, 'tokenizer.ggml.merges', name);
  const typesRaw = kv.get('tokenizer.ggml.token_type');
  const types = Array.isArray(typesRaw) ? (typesRaw as number[]) : [];
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  const added: Array<Record<string, unknown>> = [];
  tokens.forEach((t, id) => {
    if (!(t in vocab)) vocab[t] = id;
    const ty = types[id] ?? GgufTokenType.NORMAL;
    if (ty === GgufTokenType.CONTROL || ty === GgufTokenType.USER_DEFINED) {
      const special = ty === GgufTokenType.CONTROL;
      added.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: !special, special });
    }
  });
  const tokenAt = (key: string): string | null => {
    const id = kv.get(key);
    return typeof id === 'number' && id >= 0 && id < tokens.length ? tokens[id]! : null;
  };
  const tokenizerJson: Record<string, unknown> = {
    version: '1.0',
    added_tokens: added,
    normalizer: preCfg.normalizer,
    pre_tokenizer: preCfg.pre,
    post_processor: null,
    decoder: BYTE_LEVEL_DECODER,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: tokenAt('tokenizer.ggml.unknown_token_id'),
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
  const addBos = kv.get('tokenizer.ggml.add_bos_token');
  const addEos = kv.get('tokenizer.ggml.add_eos_token');
  const tokenizerConfig: Record<string, unknown> = {
    bos_token: tokenAt('tokenizer.ggml.bos_token_id'),
    eos_token: tokenAt('tokenizer.ggml.eos_token_id'),
    // llama.cpp's default for BPE vocabularies without the key is not to add BOS.
    add_bos_token: typeof addBos === 'boolean' ? addBos : false,
    add_eos_token: typeof addEos === 'boolean' ? addEos : false,
    clean_up_tokenization_spaces: false,
  };
  return { tokenizerJson, tokenizerConfig };
}

/**
 * Load the tokenizer of a GGUF file (vocabulary-only or full model) as a {@link PlipTokenizer}-compatible
 * {@link HfTokenizer}, going through the same `@huggingface/tokenizers` path as tokenizer.json files.
 * @param path - GGUF file
 * @param opts.pre - pre-tokenizer type overriding `tokenizer.ggml.pre`
 * @throws {@link GgufError} for unreadable, malformed or unsupported files
 */
export function loadGgufTokenizer(path: string, opts: { pre?: string } = {}): HfTokenizer {
  const meta = readGgufMetadata(path);
  const { tokenizerJson, tokenizerConfig } = ggufToTokenizerJson(meta, path, opts.pre);
  return new HfTokenizer({ tokenizerJson, tokenizerConfig, name: path });
}
