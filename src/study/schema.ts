/**
 * The study file (`plip study plan|run STUDY`): which models, which data, which phases of the roadmap
 * with which settings. JSON validated by zod; the schema is the only source of the types. Relative paths
 * resolve against the study file's folder (see {@link loadStudy}). Documented in docs/study.md.
 *
 * Defaults are the roadmap's values (shared/roadmap/PLIP-RS-INTERVENTION-ROADMAP.md): N = 50 prompts
 * per condition in phases 3–5, conditions baseline / knockout / amplify (amplify = double the edge's
 * unnormalised weight), over-steering at 15 % in phase 4, success when knockout lowers preservation by
 * more than 20 % (relative).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

/** Layer selection in the CLI's index-list grammar (`all`, `a..b`, `0,3`, …) or an explicit list. */
const layers = z.union([z.string().min(1), z.array(z.int().min(0)).min(1)]);
const mass = z.number().min(0).max(1);

const modelEntry = z.union([
  z.strictObject({
    /** Label used in results and reports. */
    id: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only (it names result folders)'),
    /** Local model directory (config.json, tokenizer.json, safetensors). */
    path: z.string().min(1),
    /** Tokenizer directory when the model directory has none (e.g. a config-only directory). */
    tokenizer: z.string().min(1).optional(),
    /** Activations entering the weight products (loadModel's `compute`): 'bf16' needs a bf16 checkpoint and avx512_bf16. */
    compute: z.enum(['f32', 'bf16']).optional(),
  }),
  z.strictObject({
    id: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only (it names result folders)'),
    /** Hugging Face repo id ORG/NAME. */
    hub: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected ORG/NAME'),
    /** Branch, tag or commit; pin a commit for a reproducible study. */
    revision: z.string().min(1).default('main'),
    /** Local directory with the same config (and tokenizer) used by `plan` when the weights are not cached. */
    configDir: z.string().min(1).optional(),
    /** Tokenizer directory used by `plan` when configDir has no tokenizer.json. */
    tokenizer: z.string().min(1).optional(),
    compute: z.enum(['f32', 'bf16']).optional(),
  }),
]);

const knockoutPhase = z.strictObject({
  layers: layers.default('all'),
  modes: z.array(z.enum(['per-layer', 'all-layers', 'window'])).min(1).default(['per-layer', 'all-layers', 'window']),
  window: z.int().min(1).default(2),
  controls: z.int().min(1).max(100).default(5),
  nPermutations: z.int().min(99).default(9999),
  /** Which function tokens are targets: the whole identifier spans of def/fn, name, parameters, or the corpus positions. */
  targets: z.enum(['spans', 'corpus']).default('spans'),
  /**
   * Smallest effect that counts (nats): the criterion needs the KL excess over matched controls (median per
   * language, mean pooled) to reach it as well as significance, so a significant but negligible change
   * (e.g. 1e-6 nats) is reported as not met.
   */
  minKl: z.number().min(0).default(0.01),
});

const preservationPhase = z.strictObject({
  layers: layers.default('all'),
  modes: z.array(z.enum(['per-layer', 'all-layers', 'window'])).min(1).default(['per-layer', 'all-layers', 'window']),
  window: z.int().min(1).default(2),
  conditions: z.array(z.enum(['baseline', 'knockout', 'amplify'])).min(2).default(['baseline', 'knockout', 'amplify']),
  /** Extra amplification factors on the unnormalised weight (amplify = 2). */
  levels: z.array(z.number().positive()).default([]),
  n: z.int().min(1).default(50),
  maxNewTokens: z.int().min(1).max(512).default(64),
  /** Matched-key control draws per edited condition. */
  controls: z.int().min(1).max(20).default(1),
  /** Relative drop in preservation the roadmap asks of knockout. */
  dropThreshold: z.number().gt(0).lt(1).default(0.2),
  execute: z.boolean().default(true),
});

const steeringPhase = z.strictObject({
  layers: layers.default('all'),
  modes: z.array(z.enum(['per-layer', 'all-layers', 'window'])).min(1).default(['per-layer', 'all-layers']),
  window: z.int().min(1).default(2),
  n: z.int().min(1).default(50),
  /** Dose-response levels as multiples of the Python level (1 = steered to the Python level). */
  multiples: z.array(z.number().min(0)).min(2).default([0, 0.5, 1, 1.5, 2, 3]),
  /** Over-steering: the roadmap's absolute 15 %, or k × the Python level. */
  overSteer: z.union([z.strictObject({ level: mass }), z.strictObject({ multiple: z.number().positive() })]).default({ level: 0.15 }),
  controls: z.int().min(1).max(20).default(1),
  maxNewTokens: z.int().min(1).max(512).default(64),
  execute: z.boolean().default(true),
});

const transplantPhase = z.strictObject({
  layers: layers.default('all'),
  n: z.int().min(1).default(50),
  maxNewTokens: z.int().min(1).max(512).default(64),
  execute: z.boolean().default(true),
});

export const studySchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  models: z.array(modelEntry).min(1),
  data: z.strictObject({
    /** PLIP corpus (format 2.0) for phase 2. */
    corpus: z.string().min(1),
    /** Prompt sets (phases 3–5): files of `{ python: [records], rust: [records] }`. */
    prompts: z.strictObject({ python: z.string().min(1), rust: z.string().min(1) }),
  }),
  phases: z.strictObject({
    knockout: knockoutPhase.optional(),
    preservation: preservationPhase.optional(),
    steering: steeringPhase.optional(),
    transplant: transplantPhase.optional(),
  }),
  /** α for every criterion, after Holm correction within a model. */
  alpha: z.number().gt(0).lt(1).default(0.05),
  seed: z.int().min(0).default(0),
});

export type StudyFile = z.input<typeof studySchema>;
export type Study = z.output<typeof studySchema>;
export type StudyModel = Study['models'][number];
export type PhaseName = keyof Study['phases'];
export const PHASES: readonly PhaseName[] = ['knockout', 'preservation', 'steering', 'transplant'];
/** The roadmap's phase number of each phase. */
export const PHASE_NUMBER: Record<PhaseName, number> = { knockout: 2, preservation: 3, steering: 4, transplant: 5 };

/** A validated study with its paths made absolute and the hash that identifies it (for resume and merge). */
export interface LoadedStudy {
  path: string;
  study: Study;
  /** sha256 of the canonical JSON of the validated study (defaults filled, paths as written in the file). */
  hash: string;
}

/** Reads and validates a study file; errors name the file and the field. Relative paths resolve against its folder. */
export function loadStudy(path: string): LoadedStudy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'study file not found' : (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new Error(`${path}: malformed JSON (${(e as Error).message})`);
  }
  const parsed = studySchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
    throw new Error(`${path}: invalid study file:\n  ${issues.join('\n  ')}`);
  }
  const study = parsed.data;
  const ids = new Set<string>();
  for (const [i, m] of study.models.entries()) {
    if (ids.has(m.id)) throw new Error(`${path}: models[${i}].id '${m.id}' is used twice; model ids name result folders and must be unique`);
    ids.add(m.id);
  }
  if (!Object.values(study.phases).some((p) => p !== undefined)) throw new Error(`${path}: phases: no phase is enabled (give at least one of ${PHASES.join(', ')})`);
  // hashed before paths are made absolute, so shards run from different checkouts agree
  const hash = createHash('sha256').update(canonicalJson(study)).digest('hex');
  const base = dirname(resolve(path));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  study.data.corpus = abs(study.data.corpus);
  study.data.prompts = { python: abs(study.data.prompts.python), rust: abs(study.data.prompts.rust) };
  for (const m of study.models) {
    if ('path' in m) {
      m.path = abs(m.path);
      if (m.tokenizer) m.tokenizer = abs(m.tokenizer);
    } else {
      if (m.configDir) m.configDir = abs(m.configDir);
      if (m.tokenizer) m.tokenizer = abs(m.tokenizer);
    }
  }
  return { path: resolve(path), study, hash };
}

/** JSON with sorted keys, so equal studies hash equally whatever the key order in the file. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
