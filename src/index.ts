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
export { loadModel, type LoadModelOptions } from './model/load.ts';
export { HookedModel, type ModelInfo, type CacheSelection } from './model/model.ts';
export { KVCache } from './model/kv-cache.ts';
export { forward, type ForwardOptions, type ForwardResult } from './model/forward.ts';
export { randomModelFromConfig, randomWeights } from './model/random.ts';

export type { Hook, HookFn, HookContext } from './hooks/types.ts';
export { ActivationCache } from './hooks/cache.ts';
export { MODEL_HOOKS, LAYER_HOOK_TEMPLATES, allHookNames, layerHook, parseHookName } from './hooks/names.ts';

export { generate, type GenerateOptions, type GenerateResult } from './generate/generate.ts';

export * from './tokenize/index.ts';
export { resolveModel } from './io/resolve.ts';
export { loadSafetensorsFile, loadSafetensorsDir, readSafetensorsHeader, writeSafetensorsFile, PlipFileError } from './io/safetensors.ts';

export * as stats from './stats/index.ts';
export { ResultsStore, type Provenance } from './report/results.ts';

export * from './corpus/index.ts';
export { mapSample, summarizeMappings } from './experiments/positions.ts';
export { runScan, scanSample, summarizeScan, type ScanOptions, type ScanResults } from './experiments/scan.ts';
export * from './interventions/index.ts';
export * from './metrics/index.ts';
export { runKnockout, type KnockoutOptions, type KnockoutRun } from './experiments/knockout.ts';
