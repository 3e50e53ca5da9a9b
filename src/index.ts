/**
 * PLIP-TS public library API.
 *
 * Positions are absolute TOKEN positions (BOS included) everywhere except at the corpus boundary,
 * where character positions are Unicode code points; conversions live in src/tokenize/positions.ts.
 * Log-probabilities and KL divergences are in nats.
 */
export { Tensor } from './tensor/tensor.ts';
export type { MatmulBackend } from './tensor/backend.ts';
export { selectBackend, loadBlasBackend, type BackendName } from './tensor/select.ts';

export type { ModelSpec, NormSpec, RotarySpec, RopeScaling, Activation } from './model/spec.ts';
export { FAMILIES, SUPPORTED_MODEL_TYPES, resolveSpec } from './model/families.ts';
export { loadModel, BUNDLED_MODEL, type LoadModelOptions } from './model/load.ts';
export { HookedModel, type ModelInfo, type CacheSelection } from './model/model.ts';
export { KVCache } from './model/kv-cache.ts';
export { forward, forwardBatch, type ForwardOptions, type ForwardResult, type BatchRow, type BatchForwardOptions, type BatchForwardResult } from './model/forward.ts';
export { randomModelFromConfig, randomWeights, writeRandomCheckpoint, type RandomDtype } from './model/random.ts';
// Weights stay in their checkpoint dtype (bf16/f16 resident, float32 accumulation): docs/benchmarks.md
export { f32Weight, halfWeight, widenInto, widenWeight, weightBytes, weightLength, weightValue, type WeightArray, type WeightDtype, type F32Weight, type HalfWeight } from './tensor/weight.ts';
export { modelWeightBytes, widenModelWeights, type ModelWeights } from './model/weights.ts';
export { bf16BitsToF32Bits, f16BitsToF32Bits, f32BitsToBf16, f32BitsToF16 } from './io/dtype.ts';

export type { Hook, HookFn, HookContext } from './hooks/types.ts';
export { ActivationCache } from './hooks/cache.ts';
export { MODEL_HOOKS, LAYER_HOOK_TEMPLATES, HOOK_REQUIREMENTS, allHookNames, explainMissingHook, hookPointsOf, layerHook, parseHookName } from './hooks/names.ts';
export type { HookFeatures, HookRequirement, LayerHookSuffix, LayerHookTemplate } from './hooks/names.ts';

export { generate, generateBatch, type GenerateOptions, type GenerateResult, type GenerateRequest, type BatchGenerateOptions } from './generate/generate.ts';
export { readPromptsFile, promptLineSchema, type PromptLine } from './generate/prompts-file.ts';

export * from './tokenize/index.ts';
export { resolveModel, hfCacheRoot, type ResolveOptions, type ResolvedModel } from './io/resolve.ts';
export { PlipHubError, PlipOptionError, type PlipHubErrorKind } from './io/errors.ts';
export { checkSnapshotFiles, type CacheProblem } from './io/cache-verify.ts';
export { parseIndexList, parseIndexSelection, checkIndexListSyntax, IndexListError, INDEX_LIST_HELP } from './cli/indices.ts';
export { progressBar, type Progress, type ProgressOptions } from './report/progress.ts';
export { loadSafetensorsFile, loadSafetensorsDir, readSafetensorsHeader, writeSafetensorsFile, PlipFileError } from './io/safetensors.ts';

export * as stats from './stats/index.ts';
export { ResultsStore, type Provenance } from './report/results.ts';

export * from './corpus/index.ts';
export { mapSample, summarizeMappings } from './corpus/positions.ts';
export { loadPromptSet, loadCopyingPrompts, type PromptSet, type CopyingPrompt } from './corpus/prompts.ts';
export { runExperiment, checkContext, OptionError, type Experiment, type ExperimentRun, type RunOptions, type Plan, type SkippedItem } from './experiments/contract.ts';
export { drawMatchedControls, CONTROL_TOLERANCE } from './experiments/shared/controls.ts';
export { analysisUnits, type AnalysisUnit } from './experiments/shared/units.ts';
export { runScan, scanExperiment, scanSample, summarizeScan, type ScanOptions, type ScanResults } from './experiments/scan/experiment.ts';
export { scanResultsSchema, scanRecordSchema, scanSummarySchema } from './experiments/scan/schema.ts';
export { copyingExperiment, runCopying, type CopyingOptions, type CopyingRun } from './experiments/copying/experiment.ts';
export { copyingResultsSchema, copyingRecordSchema, copyingSummarySchema } from './experiments/copying/schema.ts';
export { steerExperiment, runSteer, type SteerOptions, type SteerRun } from './experiments/steer/experiment.ts';
export { steerResultsSchema, steerRecordSchema, steerSummarySchema } from './experiments/steer/schema.ts';
export { patchExperiment, runPatching, type PatchOptions, type PatchRun } from './experiments/patch/experiment.ts';
export { patchResultsSchema, patchRecordSchema, patchSummarySchema } from './experiments/patch/schema.ts';
export { knockoutResultsSchema, knockoutRecordSchema, knockoutSummarySchema } from './experiments/knockout/schema.ts';
export * from './interventions/index.ts';
export * from './metrics/index.ts';
export { knockoutExperiment, runKnockout, type KnockoutOptions, type KnockoutRun } from './experiments/knockout/experiment.ts';
export { preservationExperiment, PRESERVATION_SCHEMA_VERSION } from './experiments/preservation/experiment.ts';
export { preservationRecordSchema, preservationSummarySchema } from './experiments/preservation/schema.ts';
export { steerGenExperiment, STEER_GEN_SCHEMA_VERSION } from './experiments/steer-generation/experiment.ts';
export { steerGenRecordSchema, steerGenSummarySchema } from './experiments/steer-generation/schema.ts';
export { transplantExperiment, runTransplant, TRANSPLANT_SCHEMA_VERSION } from './experiments/transplant/experiment.ts';
export { transplantRecordSchema, transplantSummarySchema } from './experiments/transplant/schema.ts';
