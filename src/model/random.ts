/**
 * Random-weight models with real dimensions (from a real config.json), for benchmarks and
 * tests that need size but not trained behaviour. Weights ~ N(0, std²) from a seeded stream;
 * norm weights 1, biases small.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRng } from '../stats/rng.ts';
import { selectBackend, type BackendName } from '../tensor/select.ts';
import { resolveSpec } from './families.ts';
import { HookedModel } from './model.ts';
import type { ModelSpec } from './spec.ts';
import type { LayerWeights, ModelWeights } from './weights.ts';

/**
 * Fast seeded fill: uniform on [-a, a] with a = std·√3 (so the standard deviation is `std`), from a
 * xorshift32 stream seeded by the named 'random-weights' stream. Random weights only need the right
 * scale, and billions of Box–Muller normals would dominate benchmark start-up.
 */
function fill(n: number, std: number, rng: { int(n: number): number }): Float32Array {
  const a = new Float32Array(n);
  let x = (rng.int(0x7fffffff) | 1) >>> 0;
  const scale = (2 * std * Math.sqrt(3)) / 4294967296;
  const off = std * Math.sqrt(3);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    a[i] = (x >>> 0) * scale - off;
  }
  return a;
}

/** Random weights for `spec` (float32; ~4·params bytes). */
export function randomWeights(spec: ModelSpec, seed = 0, std = 0.02): ModelWeights {
  const rng = createRng(seed, 'random-weights');
  const D = spec.dModel, Q = spec.nHeads * spec.dHead, KV = spec.nKvHeads * spec.dHead, M = spec.dMlp, V = spec.vocabSize;
  const ones = () => new Float32Array(D).fill(1);
  const ln = () => ({ w: ones(), b: spec.norm.kind === 'layernorm' ? new Float32Array(D) : null });
  const layers: LayerWeights[] = [];
  const hasBias = spec.family === 'gpt2' || spec.family === 'gpt_neox' || spec.family === 'starcoder2';
  const qkvBias = hasBias || spec.family === 'qwen2';
  for (let l = 0; l < spec.nLayers; l++) {
    layers.push({
      ln1: ln(),
      ln2: ln(),
      Wq: fill(Q * D, std, rng), bq: qkvBias ? fill(Q, std, rng) : null,
      Wk: fill(KV * D, std, rng), bk: qkvBias ? fill(KV, std, rng) : null,
      Wv: fill(KV * D, std, rng), bv: qkvBias ? fill(KV, std, rng) : null,
      Wo: fill(D * Q, std, rng), bo: hasBias ? fill(D, std, rng) : null,
      Wgate: spec.mlp.kind === 'gated' ? fill(M * D, std, rng) : null, bgate: null,
      Win: fill(M * D, std, rng), bin: hasBias ? fill(M, std, rng) : null,
      Wout: fill(D * M, std, rng), bout: hasBias ? fill(D, std, rng) : null,
    });
  }
  const embed = fill(V * D, std, rng);
  return {
    embed,
    posEmbed: spec.positional === 'learned' ? fill(spec.nCtx * D, std, rng) : null,
    layers,
    lnFinal: ln(),
    unembed: spec.tiedEmbeddings ? embed : fill(V * D, std, rng),
    unembedBias: null,
  };
}

/** A random-weight HookedModel with the dimensions of the config.json in `configDir`. */
export function randomModelFromConfig(configDir: string, opts: { seed?: number; backend?: BackendName; overrides?: Partial<ModelSpec> } = {}): HookedModel {
  const file = join(configDir, 'config.json');
  const { spec } = resolveSpec(JSON.parse(readFileSync(file, 'utf8')), file);
  Object.assign(spec, opts.overrides ?? {});
  const weights = randomWeights(spec, opts.seed ?? 0);
  return new HookedModel(spec, weights, selectBackend(opts.backend ?? 'auto'), null, { id: `random:${configDir}`, path: configDir, format: 'random' });
}
