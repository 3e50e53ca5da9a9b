/**
 * Random-weight models with real dimensions (from a real config.json), for benchmarks and
 * tests that need size but not trained behaviour. Weights ~ N(0, std²) from a seeded stream;
 * norm weights 1, biases small.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRng } from '../stats/rng.ts';
import { selectBackend, type BackendName } from '../tensor/select.ts';
import { f32Weight, halfWeight, type WeightArray } from '../tensor/weight.ts';
import { writeSafetensorsFile, type TensorToWrite } from '../io/safetensors.ts';
import { resolveSpec } from './families.ts';
import { HookedModel } from './model.ts';
import type { ModelSpec } from './spec.ts';
import { expectedShape, type LayerWeights, type ModelWeights } from './weights.ts';

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

/**
 * The same stream as {@link fill}, rounded to bf16 (round-to-nearest-even) and kept as bit patterns;
 * widening the result gives exactly `bf16(fill(...))`.
 */
function fillBf16(n: number, std: number, rng: { int(n: number): number }): Uint16Array {
  const out = new Uint16Array(n);
  const CH = 1 << 16;
  const tmp = new Float32Array(CH);
  const u = new Uint32Array(tmp.buffer);
  let x = (rng.int(0x7fffffff) | 1) >>> 0;
  const scale = (2 * std * Math.sqrt(3)) / 4294967296;
  const off = std * Math.sqrt(3);
  for (let i0 = 0; i0 < n; i0 += CH) {
    const m = Math.min(CH, n - i0);
    for (let i = 0; i < m; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      tmp[i] = (x >>> 0) * scale - off;
    }
    // finite values only: RNE is (bits + 0x7fff + lsb) >> 16
    for (let i = 0; i < m; i++) {
      const b = u[i]!;
      out[i0 + i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
    }
  }
  return out;
}

/** Storage dtype of random matrices. */
export type RandomDtype = 'f32' | 'bf16';

/**
 * Random weights for `spec`: matrices float32 (~4·params bytes) or bf16 (~2·params bytes, the
 * same stream rounded), norms and biases float32.
 */
export function randomWeights(spec: ModelSpec, seed = 0, std = 0.02, dtype: RandomDtype = 'f32'): ModelWeights {
  const rng = createRng(seed, 'random-weights');
  const mat = (n: number): WeightArray => (dtype === 'bf16' ? halfWeight('bf16', fillBf16(n, std, rng)) : f32Weight(fill(n, std, rng)));
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
      Wq: mat(Q * D), bq: qkvBias ? fill(Q, std, rng) : null,
      Wk: mat(KV * D), bk: qkvBias ? fill(KV, std, rng) : null,
      Wv: mat(KV * D), bv: qkvBias ? fill(KV, std, rng) : null,
      Wo: mat(D * Q), bo: hasBias ? fill(D, std, rng) : null,
      Wgate: spec.mlp.kind === 'gated' ? mat(M * D) : null, bgate: null,
      Win: mat(M * D), bin: hasBias ? fill(M, std, rng) : null,
      Wout: mat(D * M), bout: hasBias ? fill(D, std, rng) : null,
    });
  }
  const embed = mat(V * D);
  return {
    embed,
    posEmbed: spec.positional === 'learned' ? mat(spec.nCtx * D) : null,
    layers,
    lnFinal: ln(),
    unembed: spec.tiedEmbeddings ? embed : mat(V * D),
    unembedBias: null,
  };
}

/** A random-weight HookedModel with the dimensions of the config.json in `configDir`. */
export function randomModelFromConfig(
  configDir: string,
  opts: { seed?: number; backend?: BackendName; overrides?: Partial<ModelSpec>; dtype?: RandomDtype } = {},
): HookedModel {
  const file = join(configDir, 'config.json');
  const { spec } = resolveSpec(JSON.parse(readFileSync(file, 'utf8')), file);
  Object.assign(spec, opts.overrides ?? {});
  const weights = randomWeights(spec, opts.seed ?? 0, 0.02, opts.dtype ?? 'f32');
  return new HookedModel(spec, weights, selectBackend(opts.backend ?? 'auto'), null, { id: `random:${configDir}`, path: configDir, format: 'random' });
}

/**
 * Writes a random-weight Hugging Face checkpoint (config.json + model.safetensors) with the dimensions of
 * `configDir`'s config into `outDir`, one tensor at a time (memory stays at one tensor, so a 7B
 * checkpoint can be written on a small machine). Matrices are random (uniform, std 0.02), norm weights 1,
 * biases small. Only families whose weight table maps every canonical weight to its own checkpoint key
 * (no fused or transposed tensors: llama, mistral, qwen2, gemma, starcoder2) are supported.
 * Returns the bytes of tensor data written.
 */
export function writeRandomCheckpoint(configDir: string, outDir: string, opts: { seed?: number; dtype?: 'BF16' | 'F32' } = {}): number {
  const file = join(configDir, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const { spec, family } = resolveSpec(config, file);
  if (Object.values(family.weights).some((w) => w.take)) {
    throw new Error(`writeRandomCheckpoint: family '${spec.family}' stores fused or transposed tensors; not supported`);
  }
  const dtype = opts.dtype ?? 'BF16';
  const rng = createRng(opts.seed ?? 0, 'random-checkpoint');
  const tensors: Record<string, TensorToWrite> = {};
  let bytes = 0;
  const add = (canonical: string, layer: number | null) => {
    const entry = family.weights[canonical];
    if (!entry) return;
    if (canonical === 'unembed.W_U' && spec.tiedEmbeddings) return;
    if (canonical === 'pos_embed.W_pos' && spec.positional !== 'learned') return;
    if (canonical.includes('mlp.W_gate') && spec.mlp.kind !== 'gated') return;
    const key = layer === null ? entry.key : entry.key.replace('{L}', String(layer));
    const shape = expectedShape(canonical, spec);
    const n = shape.reduce((a, b) => a * b, 1);
    const isNorm = /\bln(1|2|_final)\.w$/.test(canonical);
    const isVec = shape.length === 1;
    // effective norm scale 1 (Gemma multiplies by offset + w)
    const normOne = 1 - spec.norm.weightOffset;
    tensors[key] = {
      dtype,
      shape,
      data: () => {
        if (isNorm) return new Float32Array(n).fill(normOne);
        if (dtype === 'BF16' && !isVec) return fillBf16(n, 0.02, rng);
        return fill(n, isVec ? 0.002 : 0.02, rng);
      },
    };
    bytes += n * (dtype === 'BF16' ? 2 : 4);
  };
  for (const c of Object.keys(family.weights)) {
    if (c.includes('{L}')) for (let l = 0; l < spec.nLayers; l++) add(c, l);
    else add(c, null);
  }
  mkdirSync(outDir, { recursive: true });
  copyFileSync(file, join(outDir, 'config.json'));
  writeSafetensorsFile(join(outDir, 'model.safetensors'), tensors, { format: 'pt', generator: 'plip-ts writeRandomCheckpoint' });
  return bytes;
}
