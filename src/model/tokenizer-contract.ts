/**
 * The tokenizer contract the engine relies on (implemented in src/tokenize/).
 * Token offsets are [start, end) spans in Unicode CODE POINTS of the original string.
 */
export interface TokenEncoding {
  ids: number[];
  tokens: string[];
  offsets: Array<[number, number]>;
  special: boolean[];
}

export interface PlipTokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /** Whether encode() prepends BOS by default, as the model's tokenizer config says. */
  readonly addsBos: boolean;
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  encodeWithOffsets(text: string, opts?: { addSpecialTokens?: boolean }): TokenEncoding;
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  tokenText(id: number): string;
  idToToken(id: number): string | undefined;
}
