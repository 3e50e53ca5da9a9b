/**
 * loadModel: a local directory, a Hugging Face id (HF cache, else hub download), or a llama2.c
 * checkpoint → HookedModel. This is the one entry point the CLI and experiments use.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bf16ComputeBackend, bf16ComputeRefusal, selectBackend, type BackendName } from '../tensor/select.ts';
import { PlipOptionError } from '../io/errors.ts';
import { loadSafetensorsDirStored } from '../io/safetensors.ts';
import { resolveModel } from '../io/resolve.ts';
import { loadHfTokenizer, loadLlama2cTokenizer } from '../tokenize/index.ts';
import { resolveSpec } from './families.ts';
import { LLAMA2C_FAMILY, llama2cSpec, readLlama2c } from './llama2c.ts';
import { HookedModel, type ModelInfo } from './model.ts';
import type { PlipTokenizer } from '../tokenize/types.ts';
import type { RawTensor, TensorSource } from './weights.ts';
import type { ModelSpec } from './spec.ts';
import { assembleWeights, productMatrices } from './weights.ts';

/**
 * Directory of the bundled model organism `models/plip-tiny-code` (absolute, inside this package, so it
 * works from any working directory and from an installed package): `loadModel(BUNDLED_MODEL)`.
 */
export const BUNDLED_MODEL = fileURLToPath(new URL('../../models/plip-tiny-code', import.meta.url));

export interface LoadModelOptions {
  backend?: BackendName;
  revision?: string;
  /** Hub download options (see src/io/resolve.ts). */
  hubUrl?: string;
  cacheDir?: string;
  token?: string;
  progress?: boolean;
  allowDownload?: boolean;
  /** Load without a tokenizer (token-id inputs only). */
  noTokenizer?: boolean;
  /** Hash cached (or local HF-layout) files against their blob names before use; see src/io/resolve.ts. */
  verify?: boolean;
  /**
   * 'bf16': products of the bf16 weight matrices take activations rounded to bf16 (AVX512-BF16; see
   * withBf16Compute). Default 'f32': float32 activations, the float32 product of the stored weights.
   */
  compute?: 'f32' | 'bf16';
}

/** Loads a model from a directory, a Hugging Face id or a llama2.c `.bin` checkpoint. */
export async function loadModel(idOrPath: string, opts: LoadModelOptions = {}): Promise<HookedModel> {
  const compute = opts.compute ?? 'f32';
  if (compute !== 'f32' && compute !== 'bf16') throw new PlipOptionError('compute', `must be 'f32' or 'bf16' (got '${String(compute)}')`);
  if (compute === 'bf16') {
    const refusal = bf16ComputeRefusal(opts.backend); // before reading gigabytes
    if (refusal) throw refusal;
  }
  const m = await loadModelF32(idOrPath, opts);
  return compute === 'bf16' ? withBf16Compute(m) : m;
}

/**
 * `m` with its bf16 weight products taken in bf16 (tensor/select.ts bf16ComputeBackend): activations entering
 * them rounded to bf16, float32 sums; norms, attention and the residual stream stay float32. Its info says
 * compute 'bf16', so results record it and a resume under the other mode is refused. Needs every matrix the
 * forward multiplies by (productMatrices) stored as bf16.
 */
export function withBf16Compute(m: HookedModel): HookedModel {
  const other = productMatrices(m.weights).find((w) => w.dtype !== 'bf16');
  if (other) throw new PlipOptionError('compute', `bf16 needs a bf16 checkpoint; ${m.info.path} holds ${other.dtype} weight matrices (use 'f32')`);
  return new HookedModel(m.spec, m.weights, bf16ComputeBackend(m.backend), m.tokenizer, { ...m.info, compute: 'bf16' });
}

async function loadModelF32(idOrPath: string, opts: LoadModelOptions): Promise<HookedModel> {
  const backend = selectBackend(opts.backend ?? 'auto');
  if (existsSync(idOrPath) && statSync(idOrPath).isFile()) {
    if (idOrPath.endsWith('.bin')) return loadLlama2cModel(idOrPath, idOrPath, opts);
    throw new Error(`${idOrPath}: a model must be a directory (Hugging Face layout), a Hugging Face id, or a llama2.c .bin checkpoint`);
  }
  let dir = idOrPath;
  let info: Partial<ModelInfo> = {};
  if (!existsSync(idOrPath) || opts.verify) {
    const r = await resolveModel(idOrPath, {
      verify: opts.verify,
      revision: opts.revision,
      hubUrl: opts.hubUrl,
      cacheDir: opts.cacheDir,
      token: opts.token,
      progress: opts.progress,
      allowDownload: opts.allowDownload,
    });
    dir = r.dir;
    info = { revision: r.revision, commitHash: r.commitHash };
  }
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) {
    const ckpt = findLlama2cCheckpoint(dir);
    if (ckpt) return loadLlama2cModel(ckpt, idOrPath, opts);
    throw new Error(`${dir}: no config.json (Hugging Face layout) and no llama2.c .bin checkpoint found; a model is a directory with config.json and *.safetensors, a Hugging Face id (ORG/NAME), or a llama2.c .bin file`);
  }
  const configText = readFileSync(configPath, 'utf8');
  let config: unknown;
  try {
    config = JSON.parse(configText);
  } catch (e) {
    throw new Error(`${configPath}: invalid JSON (${(e as Error).message})`);
  }
  const { spec, family } = resolveSpec(config, configPath);
  applyGenerationConfig(spec, dir);
  // F16/BF16 tensors stay 16-bit: the model holds its checkpoint's size, not a float32 copy.
  const tensors = loadSafetensorsDirStored(dir);
  const source: TensorSource = {
    origin: dir,
    names: () => [...tensors.keys()],
    get: (name): RawTensor | undefined => tensors.get(name),
  };
  const dtypes = new Set([...tensors.values()].map((t) => t.dtype));
  spec.weightDtype = [...dtypes].join('+') || spec.weightDtype;
  const weights = assembleWeights(spec, family, source);
  tensors.clear();
  let tokenizer: PlipTokenizer | null = null;
  if (!opts.noTokenizer) {
    if (!existsSync(join(dir, 'tokenizer.json'))) {
      throw new Error(`${dir}: tokenizer.json is missing; add the model's tokenizer.json, or load with the option noTokenizer: true and pass token ids`);
    }
    tokenizer = loadHfTokenizer(dir);
    checkTokenizerFits(tokenizer, spec.vocabSize, dir);
  }
  return new HookedModel(spec, weights, backend, tokenizer, {
    id: idOrPath,
    path: dir,
    format: 'hf',
    ...info,
    configHash: sha256(configText),
  });
}

/**
 * generation_config.json (optional): its eos_token_id (a number or a list, e.g. chat models that stop on
 * both <|im_end|> and <|endoftext|>) is merged into the spec's end-of-sequence ids used by generation.
 */
function applyGenerationConfig(spec: ModelSpec, dir: string): void {
  const path = join(dir, 'generation_config.json');
  if (!existsSync(path)) return;
  let g: unknown;
  try {
    g = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${(e as Error).message}); fix or delete the file`);
  }
  const eos = (g as Record<string, unknown> | null)?.['eos_token_id'];
  if (eos === undefined || eos === null) return;
  const ids = Array.isArray(eos) ? eos : [eos];
  if (!ids.every((x) => Number.isInteger(x) && (x as number) >= 0)) throw new Error(`${path}: eos_token_id must be a token id or a list of token ids`);
  const merged = new Set<number>([spec.eosTokenId ?? []].flat().concat(ids as number[]));
  spec.eosTokenId = merged.size === 1 ? [...merged][0]! : [...merged];
}

function loadLlama2cModel(ckpt: string, id: string, opts: LoadModelOptions): HookedModel {
  const backend = selectBackend(opts.backend ?? 'auto');
  const { header, source } = readLlama2c(ckpt);
  const spec = llama2cSpec(header);
  const weights = assembleWeights(spec, LLAMA2C_FAMILY, source);
  let tokenizer: PlipTokenizer | null = null;
  if (!opts.noTokenizer) {
    const tokPath = findLlama2cTokenizer(dirname(ckpt), header.vocabSize);
    if (!tokPath) throw new Error(`${dirname(ckpt)}: no llama2.c tokenizer (tok${header.vocabSize}.bin or tokenizer.bin) next to ${basename(ckpt)}`);
    tokenizer = loadLlama2cTokenizer(tokPath, header.vocabSize);
  }
  return new HookedModel(spec, weights, backend, tokenizer, { id, path: ckpt, format: 'llama2c', configHash: sha256(JSON.stringify(header)) });
}

function findLlama2cCheckpoint(dir: string): string | null {
  const bins = readdirSync(dir).filter((f) => f.endsWith('.bin') && !/^tok(enizer|\d+)/.test(f));
  return bins.length === 1 ? join(dir, bins[0]!) : null;
}

function findLlama2cTokenizer(dir: string, vocab: number): string | null {
  for (const f of [`tok${vocab}.bin`, 'tokenizer.bin']) if (existsSync(join(dir, f))) return join(dir, f);
  return null;
}

/** The tokenizer must not produce ids the embedding matrix lacks (padding rows beyond it are fine). */
function checkTokenizerFits(tok: PlipTokenizer, vocabSize: number, dir: string): void {
  if (tok.vocabSize > vocabSize) {
    throw new Error(`${dir}: tokenizer.json has ${tok.vocabSize} tokens but config.json vocab_size is ${vocabSize}; the tokenizer does not belong to this model`);
  }
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
