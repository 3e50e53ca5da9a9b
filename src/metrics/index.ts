/**
 * Metrics comparing baseline and intervened model outputs (KL in nats, top-k overlap, Δprob/Δlogit of the
 * baseline top token, teacher-forced continuation loss and perplexity).
 *
 * @module
 */
export { logSoftmax, klDivergence, klFromLogProbs, topK, jaccard, compareDistributions, KahanSum } from './distribution.ts';
export type { TokenProb, DistributionComparison } from './distribution.ts';
export { continuationNll, compareContinuation } from './continuation.ts';
export type { ContinuationComparison } from './continuation.ts';
