/**
 * `plip study plan`: resolves a study without running it — models (configs, tokenizers, weights present
 * or not), data (corpus and prompt sets, checked against each model's tokenizer and context), the count
 * of items per phase, and estimated forward passes, time and peak memory per model (see cost.ts).
 *
 * Nothing here touches the network: a hub model is looked up in the Hugging Face cache; when it is not
 * cached, its `configDir` (a local copy of its config and tokenizer) stands in for planning.
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadCorpus } from '../corpus/load.ts';
import type { Corpus } from '../corpus/schema.ts';
import { findCachedSnapshot, hfCacheRoot } from '../io/resolve.ts';
import { resolveSpec } from '../model/families.ts';
import type { ModelSpec } from '../model/spec.ts';
import { loadHfTokenizer } from '../tokenize/hf.ts';
import type { PlipTokenizer } from '../tokenize/types.ts';
import { bytesPerWeight, costForCompute, decodeSeconds, loadCostModel, parameterCount, peakBytes, prefillSeconds, type CostModel } from './cost.ts';
import { loadStudyPrompts, type StudyPrompt } from './prompts.ts';
import { locatePrompts } from '../corpus/test-prompts.ts';
import { buildPairs } from '../experiments/transplant/pairs.ts';
import { PHASE_NUMBER, PHASES, type LoadedStudy, type PhaseName, type Study, type StudyModel } from './schema.ts';
import { analysisUnits, distinctUnits, resolveLayers } from './units.ts';
import { ARMS as TRANSPLANT_ARMS } from '../experiments/transplant/schema.ts';

/** How one model of the study resolved. */
export interface PlannedModel {
  id: string;
  /** Where its config came from: a local dir, an HF-cache snapshot, or the stand-in configDir. */
  source: 'local' | 'cache' | 'config-only';
  dir: string;
  family: string;
  nLayers: number;
  nHeads: number;
  nCtx: number;
  parameters: number;
  weightDtype: string;
  /** Activations entering the weight products (the study entry's `compute`; estimates use its cost). */
  compute: 'f32' | 'bf16';
  /** Bytes of the weights as stored (files when present, else parameters × dtype width). */
  weightBytes: number;
  weightsPresent: boolean;
  tokenizer: string | null;
  spec: ModelSpec;
}

export interface PlannedPhase {
  phase: PhaseName;
  roadmapPhase: number;
  /** Work items (what a shard or a resume counts: samples for phase 2, prompts or prompt pairs for 3–5). */
  items: number;
  /** Forward passes: prefill passes plus decode steps. */
  prefillPasses: number;
  decodeSteps: number;
  /** Estimated seconds on this kind of machine (cost model, not a measurement). */
  estSeconds: number;
  detail: string;
}

export interface ModelPlan {
  model: PlannedModel;
  phases: PlannedPhase[];
  /** Estimated peak resident bytes of one process running the study on this model. */
  estPeakBytes: number;
  estSeconds: number;
  /** Prompts or samples that cannot be used with this model (too long, name missing, …). */
  problems: string[];
  warnings: string[];
}

export interface StudyPlan {
  study: string;
  hash: string;
  data: { corpus: { path: string; samples: number; groups: Record<string, number> }; prompts: { python: number; rust: number } };
  models: ModelPlan[];
  cost: CostModel;
  /** True when every model and every data file resolved and no item is unusable. */
  ok: boolean;
}

/** Resolves one model entry without loading weights. */
export function planModel(m: StudyModel): { model: PlannedModel; warnings: string[] } {
  const warnings: string[] = [];
  let dir: string;
  let source: PlannedModel['source'];
  let tokDir: string | undefined;
  if ('path' in m) {
    if (!existsSync(m.path) || !statSync(m.path).isDirectory()) throw new Error(`models '${m.id}': path ${m.path} is not a directory`);
    dir = m.path;
    source = 'local';
    tokDir = m.tokenizer;
  } else {
    tokDir = m.tokenizer;
    const cached = findCachedSnapshot(hfCacheRoot(), m.hub, m.revision);
    if (cached) {
      tokDir = undefined;
      dir = cached.dir;
      source = 'cache';
    } else if (m.configDir) {
      dir = m.configDir;
      source = 'config-only';
      warnings.push(`${m.hub}@${m.revision} is not in the Hugging Face cache (${hfCacheRoot()}); planned from configDir ${m.configDir}; 'study run' downloads it`);
    } else {
      throw new Error(`models '${m.id}': ${m.hub}@${m.revision} is not in the Hugging Face cache and no configDir is given; add "configDir" (a local copy of its config.json) to plan it offline`);
    }
  }
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new Error(`models '${m.id}': no config.json in ${dir}`);
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (e) {
    throw new Error(`${configPath}: invalid JSON (${(e as Error).message})`);
  }
  const { spec } = resolveSpec(config, configPath);
  const parameters = parameterCount(spec);
  const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
  const weightsPresent = files.length > 0;
  const dtype = weightsPresent ? spec.weightDtype : String((config as Record<string, unknown>)['torch_dtype'] ?? 'float32');
  const weightBytes = weightsPresent ? files.reduce((a, f) => a + statSync(join(dir, f)).size, 0) : parameters * bytesPerWeight(dtype);
  if (!weightsPresent) warnings.push(`no weights in ${dir}: sizes are computed from config.json (${dtype}); 'study run' needs the weights`);
  const tokenizerDir = tokDir ?? (existsSync(join(dir, 'tokenizer.json')) ? dir : undefined);
  if (!tokenizerDir) warnings.push(`no tokenizer.json for '${m.id}' (looked in ${dir}; set "tokenizer" to a directory that has one): prompt lengths are estimated at 1 token per 3 characters`);
  return {
    model: {
      id: m.id,
      source,
      dir,
      family: spec.family,
      nLayers: spec.nLayers,
      nHeads: spec.nHeads,
      nCtx: spec.nCtx,
      parameters,
      weightDtype: dtype,
      compute: m.compute ?? 'f32',
      weightBytes,
      weightsPresent,
      tokenizer: tokenizerDir ? join(tokenizerDir, 'tokenizer.json') : null,
      spec,
    },
    warnings,
  };
}

function tokenCounter(tok: PlipTokenizer | null): (text: string) => number {
  return tok ? (text) => tok.encode(text).length : (text) => Math.ceil(text.length / 3) + 1;
}

/** Plans a loaded study; throws only for what makes the whole study unusable (bad file, missing data). */
export async function planStudy(loaded: LoadedStudy, cost: CostModel = loadCostModel()): Promise<StudyPlan> {
  const { study } = loaded;
  const corpus = study.phases.knockout ? await loadCorpus(study.data.corpus) : null;
  const prompts = loadStudyPrompts(study.data.prompts);
  const models: ModelPlan[] = [];
  const located = study.phases.transplant ? (await locatePrompts([...prompts.python, ...prompts.rust])).located : [];
  for (const entry of study.models) {
    const { model, warnings } = planModel(entry);
    const tok = model.tokenizer ? loadHfTokenizer(model.tokenizer.replace(/\/tokenizer\.json$/, '')) : null;
    // phase 5 pairs as the experiment pairs them (their maps need the tokenizer); without one, min(#Python, #Rust)
    let pairs: number | null = null;
    if (study.phases.transplant && tok) pairs = (await buildPairs(located, tok, study.phases.transplant.n)).pairs.length;
    else if (study.phases.transplant) warnings.push('phase 5 pairs estimated as min(Python, Rust prompts): pairing needs the tokenizer');
    models.push(planForModel(study, model, corpus, prompts, tokenCounter(tok), warnings, costForCompute(cost, model.compute), pairs));
  }
  const groups: Record<string, number> = {};
  for (const s of corpus?.samples ?? []) groups[s.group] = (groups[s.group] ?? 0) + 1;
  return {
    study: study.name,
    hash: loaded.hash,
    data: {
      corpus: { path: study.data.corpus, samples: corpus?.samples.length ?? 0, groups },
      prompts: { python: prompts.python.length, rust: prompts.rust.length },
    },
    models,
    cost,
    ok: models.every((m) => m.problems.length === 0),
  };
}

function planForModel(
  study: Study,
  model: PlannedModel,
  corpus: Corpus | null,
  prompts: { python: StudyPrompt[]; rust: StudyPrompt[] },
  countTokens: (s: string) => number,
  warnings: string[],
  cost: CostModel,
  pairs: number | null,
): ModelPlan {
  const problems: string[] = [];
  const phases: PlannedPhase[] = [];
  let maxContext = 0;
  const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const promptLens = (lang: 'python' | 'rust', n: number, newTokens: number): number[] => {
    const sel = prompts[lang].slice(0, n);
    if (sel.length < n) problems.push(`${lang} prompts: ${sel.length} available, the study asks for ${n}`);
    return sel.map((p) => {
      const len = countTokens(p.prompt);
      if (len + newTokens > model.nCtx) problems.push(`${lang} prompt '${p.id}': ${len} + ${newTokens} new tokens exceed the context of ${model.nCtx}`);
      maxContext = Math.max(maxContext, len + newTokens);
      return len;
    });
  };
  const phaseCost = (phase: PhaseName, items: number, prefillPasses: number, prefillTokens: number, decodeSteps: number, detail: string, scored = 0, executed = false): void => {
    const estSeconds =
      prefillSeconds(model.parameters, prefillTokens, cost) + decodeSeconds(model.weightBytes, model.parameters, decodeSteps, cost) + (prefillPasses + decodeSteps / Math.max(1, cost.decodeBatch)) * cost.perPassSeconds + scored * (cost.scoreSeconds + (executed ? cost.executeSeconds : 0));
    phases.push({ phase, roadmapPhase: PHASE_NUMBER[phase], items, prefillPasses, decodeSteps, estSeconds, detail });
  };
  for (const phase of PHASES) {
    const s = study.phases[phase];
    if (!s) continue;
    const layers = resolveLayers(s.layers, model.nLayers, `phases.${phase}.layers`);
    if (phase === 'knockout') {
      const k = study.phases.knockout!;
      const units = analysisUnits(layers, k.modes, k.window);
      const samples = corpus!.samples;
      const lens = samples.map((x) => {
        const n = countTokens(x.code);
        if (n > model.nCtx) problems.push(`corpus sample '${x.id}': ${n} tokens exceed the context of ${model.nCtx}`);
        maxContext = Math.max(maxContext, n);
        return n;
      });
      const conditions = samples.length * units.length * (1 + k.controls);
      const passes = conditions + samples.length;
      // edited conditions recompute only positions ≥ the marker in layers ≥ the edit (measured ratio)
      const tokens = (conditions / cost.incrementalSpeedup + samples.length) * mean(lens);
      phaseCost(phase, samples.length, passes, tokens, 0, `${samples.length} samples × ${units.length} units; baseline + knockout + ${k.controls} controls`);
    } else if (phase === 'preservation') {
      const p = study.phases.preservation!;
      const units = distinctUnits(analysisUnits(layers, p.modes, p.window));
      const edited = p.conditions.filter((c) => c !== 'baseline').length + p.levels.length;
      const lens = [...promptLens('python', p.n, p.maxNewTokens), ...promptLens('rust', p.n, p.maxNewTokens)];
      const gens = lens.length * (1 + units.length * edited * (1 + p.controls));
      phaseCost(phase, lens.length, gens, gens * mean(lens), gens * p.maxNewTokens, `${lens.length} prompts × (baseline + ${units.length} units × ${edited} edited conditions × (treated + ${p.controls} controls)), ≤ ${p.maxNewTokens} new tokens`, gens, p.execute);
    } else if (phase === 'steering') {
      const p = study.phases.steering!;
      const units = distinctUnits(analysisUnits(layers, p.modes, p.window));
      const lens = promptLens('rust', p.n, p.maxNewTokens);
      const calib = promptLens('python', p.n, 0).length + lens.length;
      const arms = (p.multiples.length + 1) * (1 + p.controls);
      const gens = lens.length * (1 + units.length * arms);
      phaseCost(phase, lens.length, gens + calib, (gens + calib) * mean(lens), (gens + calib) * p.maxNewTokens, `${lens.length} Rust prompts × (baseline + ${units.length} units × ${p.multiples.length + 1} levels × (steered + ${p.controls} controls)); calibration ${calib} generations`, gens, p.execute);
    } else {
      const p = study.phases.transplant!;
      const units = analysisUnits(layers, ['per-layer'], 1);
      const n = pairs ?? Math.min(promptLens('python', p.n, 0).length, promptLens('rust', p.n, p.maxNewTokens).length);
      if (pairs !== null) promptLens('rust', pairs, p.maxNewTokens);
      // arms of src/experiments/transplant: pattern, two controls, activation transplants at resid_pre and attn_out
      const arms = TRANSPLANT_ARMS.length;
      const gens = n * (1 + units.length * arms);
      phaseCost(phase, n, gens + n, (gens + n) * 128, gens * p.maxNewTokens, `${n} Python→Rust pairs × (baseline + ${units.length} layers × ${arms} arms: ${TRANSPLANT_ARMS.join(', ')})`, gens, p.execute);
    }
  }
  return {
    model,
    phases,
    estPeakBytes: peakBytes(model.spec, model.weightBytes, Math.max(maxContext, 1), cost),
    estSeconds: phases.reduce((a, p) => a + p.estSeconds, 0),
    problems: [...new Set(problems)],
    warnings,
  };
}
