/**
 * Attention-edge interventions: specs (JSON/zod), validation, hook factories, and
 * forwardWithIntervention; steering (kind "set") and patching (patch.ts). See docs/interventions.md,
 * docs/steering.md and docs/patching.md.
 *
 * @module
 */
export {
  AttentionMaskSpecSchema,
  InterventionSpecError,
  parseSpecs,
  parseSpecJson,
  parseListArg,
  expandSelector,
  validateSpec,
  resolveSpecs,
} from './spec.ts';
export type { AttentionMaskSpec, Selector, ModelDims, MaskedEdge, EdgeRule, ResolvedEdit, ValidateOptions, SpecValidation } from './spec.ts';
export { attentionEdit } from './attention.ts';
export { forwardWithIntervention, runCondition } from './forward.ts';
export type { InterventionOptions, InterventionResult, RunOutput } from './forward.ts';
export { patchActivation, patchPattern, patternCoverage, identityMap, alignByPrefixSuffix, checkPositionMap } from './patch.ts';
export type { PositionMap, ActivationPatch, PatternPatch } from './patch.ts';
