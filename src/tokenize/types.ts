/**
 * Public tokenizer interfaces of PLIP-TS.
 *
 * @module
 */

/** Result of {@link PlipTokenizer.encodeWithOffsets}. All arrays have the same length as `ids`. */
export interface Encoding {
  /** Token ids, including the BOS/EOS tokens added by the tokenizer when `addSpecialTokens` is on. */
  ids: number[];
  /** Token strings as in the vocab. */
  tokens: string[];
  /**
   * `[start, end)` character span of each token in the ORIGINAL input string, in Unicode CODE POINTS (not UTF-16
   * units, not bytes). Special tokens added by the tokenizer (BOS) get `[0, 0]` and `special[i] = true`. A token
   * that covers only part of a multi-byte character (byte-fallback / byte-level pieces) gets the span of the whole
   * character(s) it touches; consecutive such tokens therefore may share a span. A token that consists only of
   * text the tokenizer inserted (e.g. a lone SentencePiece dummy-prefix `▁`) gets an empty span at its position.
   */
  offsets: Array<[number, number]>;
  /** `true` for special tokens: those added by the tokenizer (BOS/EOS) and special added tokens found in the text. */
  special: boolean[];
}

/** Options of {@link PlipTokenizer.encode} / {@link PlipTokenizer.encodeWithOffsets}. */
export interface EncodeOptions {
  /** Add the model's special tokens (BOS when {@link PlipTokenizer.addsBos}). Default `true`. */
  addSpecialTokens?: boolean;
}

/** Options of {@link PlipTokenizer.decode}. */
export interface DecodeOptions {
  /** Drop special tokens (BOS, EOS, special added tokens) from the output. Default `false`. */
  skipSpecialTokens?: boolean;
  /**
   * Apply the Hugging Face "clean up tokenization spaces" rewrite (`" ."` → `"."`, `" n't"` → `"n't"`, ...).
   * Default: the tokenizer's `clean_up_tokenization_spaces` setting (false when absent). Ignored by tokenizers
   * without such a setting (llama2.c).
   */
  cleanUpTokenizationSpaces?: boolean;
}

/** A tokenizer as used by the rest of PLIP-TS: ids, offsets in code points, and BOS policy. */
export interface PlipTokenizer {
  /** Number of token ids (highest id + 1), including added tokens. */
  readonly vocabSize: number;
  /** Id of the BOS token, or `null` if the model has none. */
  readonly bosTokenId: number | null;
  /** Id of the EOS token, or `null` if unknown. */
  readonly eosTokenId: number | null;
  /** Whether encode() prepends BOS by default — exactly as the model's tokenizer_config / post_processor says. */
  readonly addsBos: boolean;
  /** Token ids of `text`. */
  encode(text: string, opts?: EncodeOptions): number[];
  /** Token ids of `text` with code point offsets into `text`. */
  encodeWithOffsets(text: string, opts?: EncodeOptions): Encoding;
  /** Text of a token id sequence. */
  decode(ids: number[], opts?: DecodeOptions): string;
  /** Text of a single token as it would appear decoded (for reports); partial UTF-8 bytes show as U+FFFD. */
  tokenText(id: number): string;
  /** Vocabulary string of a token id, or `undefined` when out of range. */
  idToToken(id: number): string | undefined;
}
