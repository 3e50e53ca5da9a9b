/**
 * PLIP-TS statistics toolkit: seeded RNG streams, descriptive statistics, two-sample
 * and paired tests, effect sizes with bootstrap CIs and multiple-comparison correction.
 *
 * Conventions shared by every function: non-finite inputs throw (naming the index),
 * empty inputs to tests throw, undefined results are `null` with a `note` (never NaN).
 *
 * @module
 */
export { createRng, streamSeedWords, fnv1a64, mix64 } from './rng.ts';
export type { Rng } from './rng.ts';
export { mean, variance, sd, median, quantile, quantiles, summarize } from './describe.ts';
export type { Summary } from './describe.ts';
export {
  welchT,
  mannWhitneyU,
  mannWhitneyNullPmf,
  MWU_EXACT_MAX_CELLS,
  wilcoxonSignedRank,
  WILCOXON_EXACT_MAX_N,
  permutationTest,
  pairedPermutationTest,
  PAIRED_EXACT_MAX_N,
} from './tests.ts';
export type {
  WelchResult,
  MannWhitneyOptions,
  MannWhitneyResult,
  WilcoxonOptions,
  WilcoxonResult,
  PermutationOptions,
  PairedPermutationOptions,
  PermutationResult,
  TwoSampleStatistic,
} from './tests.ts';
export {
  hedgesG,
  pairedEffect,
  rankBiserial,
  matchedPairsRankBiserial,
  bootstrapCI,
  bootstrapCI1,
  bootstrapSamples,
  bcaLevels,
} from './effect.ts';
export type {
  HedgesGResult,
  PairedEffectResult,
  RankBiserialResult,
  MatchedRankBiserialResult,
  BootstrapCI,
  BootstrapOptions,
  BcaLevels,
  SampleStatistic,
} from './effect.ts';
export { holm, benjaminiHochberg } from './correct.ts';
export { wilson, mcnemarExact, mcnemarPaired, minMcNemarP } from './proportion.ts';
export type { Proportion, McNemar } from './proportion.ts';
export { normalCdf, normalSf, normalQuantile, tCdf } from './special.ts';
export type { Alternative } from './validate.ts';
