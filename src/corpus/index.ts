/**
 * Corpus loading, validation and pattern resolution (format 2.0). Positions are Unicode code point
 * offsets into each sample's `code`. See docs/corpus-format.md.
 *
 * @module
 */
export { CORPUS_FORMAT_VERSION, sampleSchema, targetPatternSchema } from './schema.ts';
export type { Corpus, CorpusLanguage, CorpusSample, RawSample, SignatureStyle } from './schema.ts';
export { CorpusError, codePointLength, corpusToJson, groupSamples, loadCorpus, parseCorpus, stripBom } from './load.ts';
export type { CorpusIssue } from './load.ts';
export { findFunctions, resolveSignatureTargets, signatureTargets } from './resolve.ts';
export type { FunctionSignature, SignatureTargets } from './resolve.ts';
