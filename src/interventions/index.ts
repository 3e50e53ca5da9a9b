/**
 * Attention-edge interventions: specs (JSON/zod), validation, hook factories, and
 * forwardWithIntervention; amplify, steering (kinds "set", "set-control") and patching (patch.ts). See docs/interventions.md,
 * docs/experiments/steer.md and docs/experiments/patch.md.
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
  EDIT_KINDS,
} from './spec.ts';
export type { EditKind, AttentionMaskSpec, Selector, ModelDims, MaskedEdge, EdgeRule, ResolvedEdit, ValidateOptions, SpecValidation } from './spec.ts';
export { attentionEdit } from './attention.ts';
export { setRow, setControlRow, amplifyMassRow, InfeasibleEditError, KEY_MASKED, KEY_VISIBLE, KEY_KNOCKED_OUT, MASS_EPS } from './rows.ts';
export type { OnInfeasible } from './rows.ts';
export { keyStateRecorder } from './key-states.ts';
export type { KeyStateRecorder } from './key-states.ts';
export { forwardWithIntervention, forwardWithInterventions, runCondition, withFullRecompute } from './forward.ts';
export { runConditionsIncremental, baselineStateHooks, scopeOfEdits, scopeOfActivationPatch, scopeOfPatternPatch, mergeScopes, fullRecomputeByDefault } from './incremental.ts';
export type { EditScope, BaselineState, IncrementalCondition, IncrementalOptions, ConditionOutput } from './incremental.ts';
export type { InterventionOptions, InterventionResult, RunOutput } from './forward.ts';
export { patchActivation, patchPattern, patternCoverage, identityMap, alignByPrefixSuffix, checkPositionMap } from './patch.ts';
export type { PositionMap, ActivationPatch, PatternPatch } from './patch.ts';
export { buildSemanticPositionMap, parseSemanticPositionMap, activationPositionMap, proportionalRegionMap, SemanticPositionMapSchema, POSITION_MAP_KINDS } from './position-map.ts';
export type { SemanticPositionMap, SemanticKeyEntry, PositionMapKind, PromptStructure } from './position-map.ts';
export { transplantPattern, transplantRow, transplantCoverage } from './transplant.ts';
export type { PatternTransplant, CarriedKey } from './transplant.ts';
export { matchedSteeringSpecs } from './steering.ts';
export type { MatchedSteeringOptions } from './steering.ts';
