/**
 * Tokenizers for PLIP-TS: Hugging Face tokenizer.json directories, GGUF vocabularies and llama2.c tokenizer files,
 * all exposed as {@link PlipTokenizer} with code point offsets and an explicit BOS policy.
 *
 * @module
 */
export type { DecodeOptions, EncodeOptions, Encoding, PlipTokenizer } from './types.ts';
export {
  HfTokenizer,
  TokenizerLoadError,
  createHfTokenizer,
  loadHfTokenizer,
  resolveSpecialTokenPolicy,
  type HfTokenizerSources,
  type SpecialTokenPolicy,
} from './hf.ts';
export { Llama2cTokenizer, Llama2cTokenizerError, loadLlama2cTokenizer } from './llama2c.ts';
export {
  GgufError,
  GgufTokenType,
  GgufType,
  SUPPORTED_GGUF_PRE_TYPES,
  ggufToTokenizerJson,
  loadGgufTokenizer,
  parseGgufMetadata,
  readGgufMetadata,
  type GgufMetadata,
  type GgufTokenizerFiles,
  type GgufValue,
} from './gguf.ts';
export { charToToken, codePointToUtf16, tokensInCharRange, utf16ToCodePoint, type TokenAtChar } from './positions.ts';
export { alignSurfaces } from './align.ts';
