/**
 * Phase 5 of the roadmap: the Python→Rust attention transplant. Does the Rust recipient write a better test
 * (one that calls the function with a fitting argument list, parses, runs) when, at a layer, its rows take
 * the attention pattern of a Python donor — whose doctest marker attends more to the function's tokens?
 *
 * Per pair (Rust recipient, Python donor, Rust control donor; pairs.ts), greedy generation on the recipient
 * through one code path (src/experiments/shared/generated-test.ts), only the hooks differing:
 *  - baseline: no edit;
 *  - pattern: at each layer of the unit, every head, the donor's rows carried onto the recipient's keys
 *    through the semantic position map — marker rows from the donor's marker rows, test rows (the rest of
 *    the prompt and every generated token) from the donor's own test rows by offset (hooks.ts; `rows:
 *    'marker'` edits only the marker rows, as `transplantPattern` does), at every decoding step;
 *  - resid / attn_out: the donor's activations at the same aligned positions (`activationPositionMap`:
 *    every mapped recipient key and marker row) at `hook_resid_pre` / `hook_attn_out` — the value transplant;
 *  - control: the pattern transplant from the Rust control donor through the same kind of map, same rows;
 *  - shuffled: the Python pattern through the map with its function keys sent to matched random keys
 *    (pairs.ts `shuffledMap`; seeded per recipient), same rows.
 * Measures: the phase-3 scorers and the teacher-forced log p(NAME( | recipient prompt) under each arm;
 * `fnMass`, the last prompt row's mass on the function tokens, shows how much each pattern arm moved.
 * Statistics in ./stats.ts.
 *
 * @module
 */
import { generate } from '../../generate/generate.ts';
import type { Hook } from '../../hooks/types.ts';
import { patchActivation } from '../../interventions/patch.ts';
import { activationPositionMap, type SemanticPositionMap } from '../../interventions/position-map.ts';
import { continuationNll } from '../../metrics/continuation.ts';
import type { HookedModel } from '../../model/model.ts';
import { sha256File } from '../../report/results.ts';
import { promptOpenBraces, testEnd } from '../../score/test-end.ts';
import type { Tensor } from '../../tensor/tensor.ts';
import { promptTokens, type LocatedPrompt, type PromptTokens } from '../../corpus/test-prompts.ts';
import { type Experiment, type ExperimentRun, OptionError, type RunExtras, checkContext, runExperiment, splitRunOptions } from '../contract.ts';
import { generateScored, type CompletionScorer, type GenerationInputBase } from '../shared/generated-test.ts';
import { type AnalysisUnit, analysisUnits } from '../shared/units.ts';
import { transplantTestRows, type TransplantRows } from './hooks.ts';
import { buildPairs, shuffledMap, type TransplantPair } from './pairs.ts';
import { createRng } from '../../stats/rng.ts';
import { ARMS, type ArmName, type TransplantRecord, type TransplantSummary, transplantRecordSchema, transplantSummarySchema } from './schema.ts';
import { summarizeTransplant } from './stats.ts';
import { renderTransplant } from './render.ts';

export const TRANSPLANT_SCHEMA_VERSION = 1;

/** The experiment's input: the pairs (maps built), what could not be paired, and the scorer. */
export interface TransplantInput extends GenerationInputBase {
  pairs: TransplantPair[];
}

export interface TransplantOptions {
  /** Layers (default all). */
  layers?: readonly number[];
  /** 'per-layer' and/or 'all-layers' (default per-layer). */
  modes?: readonly ('per-layer' | 'all-layers')[];
  /** Pairs (default 50). */
  n?: number;
  maxNewTokens?: number;
  /** Recipient rows that take donor rows (default 'test': the marker's and every later row). */
  rows?: TransplantRows;
  /** Query heads of the pattern arms (default all). */
  heads?: readonly number[];
  /** α after Holm (default 0.05). */
  alpha?: number;
  /** Bootstrap resamples of the CIs (default 2000). */
  nBoot?: number;
  /** Monte Carlo sign flips of the log p tests (default 9999; exact for n ≤ 16). */
  nPermutations?: number;
}

export interface TransplantConfig {
  units: AnalysisUnit[];
  heads: number[];
  rows: TransplantRows;
  n: number;
  maxNewTokens: number;
  alpha: number;
  nBoot: number;
  nPermutations: number;
  scorer: CompletionScorer;
}

interface Item {
  steps: number;
  keys: string[];
  pair: TransplantPair;
  pos: PromptTokens;
}

/** The resolved options (validated; errors name the field). */
export function transplantConfig(model: HookedModel, o: TransplantOptions, scorer: CompletionScorer): TransplantConfig {
  const nL = model.spec.nLayers;
  const layers = o.layers ? [...o.layers] : Array.from({ length: nL }, (_, i) => i);
  if (layers.length === 0) throw new OptionError('layers', 'selected no layer');
  for (const l of layers) if (!Number.isInteger(l) || l < 0 || l >= nL) throw new OptionError('layers', `layer ${l} is out of range 0..${nL - 1}`);
  const heads = o.heads ? [...o.heads] : Array.from({ length: model.spec.nHeads }, (_, h) => h);
  for (const h of heads) if (!Number.isInteger(h) || h < 0 || h >= model.spec.nHeads) throw new OptionError('heads', `head ${h} is out of range 0..${model.spec.nHeads - 1}`);
  const modes = o.modes ?? ['per-layer'];
  for (const m of modes) if (m !== 'per-layer' && m !== 'all-layers') throw new OptionError('mode', `'${String(m)}' is not a transplant mode (use per-layer, all-layers)`);
  const rows = o.rows ?? 'test';
  if (rows !== 'test' && rows !== 'marker') throw new OptionError('rows', `must be 'test' or 'marker' (got ${String(rows)})`);
  const int = (v: number | undefined, d: number, field: string, min: number): number => {
    const x = v ?? d;
    if (!Number.isInteger(x) || x < min) throw new OptionError(field, `must be an integer ≥ ${min} (got ${x})`);
    return x;
  };
  const alpha = o.alpha ?? 0.05;
  if (!(alpha > 0 && alpha < 1)) throw new OptionError('alpha', `must be in (0, 1) (got ${alpha})`);
  return {
    units: analysisUnits(layers, modes, 1),
    heads,
    rows,
    n: int(o.n, 50, 'n', 1),
    maxNewTokens: int(o.maxNewTokens, 64, 'maxNewTokens', 1),
    alpha,
    nBoot: int(o.nBoot, 2000, 'nBoot', 100),
    nPermutations: int(o.nPermutations, 9999, 'nPermutations', 1),
    scorer,
  };
}

/** The donor's own greedy test (same stop rule as the recipient's) and the run whose rows are transplanted. */
function donorRun(model: HookedModel, lp: LocatedPrompt, maxNewTokens: number, names: string[]): { ids: number[]; completion: string; cache: Map<string, Tensor> } {
  const pos = promptTokens(model.tokenizer!, lp);
  const lang = lp.prompt.language;
  const open = lang === 'rust' ? Math.max(1, promptOpenBraces(lp.prompt.prompt)) : 1;
  const r = generate(model, pos.ids, { maxTokens: maxNewTokens, stopWhen: (text) => testEnd(lang, text, open) !== null });
  const ids = [...pos.ids, ...r.ids];
  let completion = model.tokenizer!.decode(r.ids, { skipSpecialTokens: true });
  const end = testEnd(lang, completion, open);
  if (end !== null) completion = completion.slice(0, end);
  const { cache } = model.runWithCache(ids, { names });
  return { ids, completion, cache: new Map(names.map((n) => [n, cache.get(n)])) };
}

/**
 * Token ids of the recipient prompt + `NAME(` and where `NAME(` starts, or null when they do not extend
 * the prompt's tokens. A Rust prompt that does not end in `(` (e.g. after `fn test_x() {`) is bridged with
 * `    assert_eq!(` first; only the `NAME(` tokens are scored.
 */
export function callTokens(model: HookedModel, lp: LocatedPrompt): { ids: number[]; from: number } | null {
  const p = lp.prompt.prompt;
  const bridge = p.trimEnd().endsWith('(') || lp.prompt.language !== 'rust' ? '' : `${p.endsWith('\n') ? '' : '\n'}    assert_eq!(`;
  const head = model.tokenizer!.encode(p + bridge);
  const full = model.tokenizer!.encode(p + bridge + lp.prompt.name + '(');
  if (full.length <= head.length || head.some((t, i) => full[i] !== t)) return null;
  return { ids: full, from: head.length - 1 };
}

function callLogprob(model: HookedModel, call: { ids: number[]; from: number } | null, hooks: readonly Hook[]): number | null {
  if (!call) return null;
  const { logits } = model.forward(call.ids, { hooks: [...hooks] });
  const nll = continuationNll(logits!.data, model.spec.vocabSize, call.ids, call.from, call.ids.length - 1);
  return -nll.reduce((a, x) => a + x, 0);
}

/** Mean over heads and `layers` of the last prompt row's mass on `keys`, under `hooks`. */
function fnMass(model: HookedModel, ids: number[], layers: number[], keys: number[], hooks: readonly Hook[]): number {
  const names = layers.map((L) => `blocks.${L}.attn.hook_pattern`);
  const { cache } = model.runWithCache(ids, { names }, { hooks: [...hooks] });
  let s = 0;
  let n = 0;
  const T = ids.length;
  for (const name of names) {
    const t = cache.get(name);
    const H = t.shape[1]!;
    for (let h = 0; h < H; h++) {
      for (const k of keys) s += t.data[(h * T + (T - 1)) * T + k]!;
      n++;
    }
  }
  return Math.min(1, Math.max(0, s / n));
}

const functionKeys = (map: SemanticPositionMap) => [...map.recipient.regions.def, ...map.recipient.regions.name, ...map.recipient.regions.params.flat()].sort((a, b) => a - b);

/** The hooks of one arm at one unit (fresh hooks per call: key-state recorders hold per-forward scratch). */
export function armHooks(arm: ArmName, layers: readonly number[], d: { python: Map<string, Tensor>; rust: Map<string, Tensor> }, pair: Pick<TransplantPair, 'map' | 'controlMap'> & { shuffledMap: SemanticPositionMap }, cfg: Pick<TransplantConfig, 'rows' | 'heads'>): Hook[] {
  switch (arm) {
    case 'shuffled':
      return layers.flatMap((L) => transplantTestRows({ layer: L, donor: d.python.get(`blocks.${L}.attn.hook_pattern`)!, map: pair.shuffledMap, rows: cfg.rows, heads: cfg.heads }));
    case 'pattern':
      return layers.flatMap((L) => transplantTestRows({ layer: L, donor: d.python.get(`blocks.${L}.attn.hook_pattern`)!, map: pair.map, rows: cfg.rows, heads: cfg.heads }));
    case 'control':
      return layers.flatMap((L) => transplantTestRows({ layer: L, donor: d.rust.get(`blocks.${L}.attn.hook_pattern`)!, map: pair.controlMap, rows: cfg.rows, heads: cfg.heads }));
    case 'resid':
    case 'attn_out': {
      const positions = activationPositionMap(pair.map);
      const suffix = arm === 'resid' ? 'hook_resid_pre' : 'hook_attn_out';
      return layers.map((L) => patchActivation({ hook: `blocks.${L}.${suffix}`, donor: d.python.get(`blocks.${L}.${suffix}`)!, positions }));
    }
  }
}

export const transplantExperiment: Experiment<TransplantInput, TransplantOptions, TransplantConfig, Item, TransplantRecord, TransplantSummary> = {
  name: 'transplant',
  schemaVersion: TRANSPLANT_SCHEMA_VERSION,
  recordSchema: transplantRecordSchema,
  summarySchema: transplantSummarySchema,
  source: (input) => ({ path: input.path, sha256: input.sha256, nSamples: input.pairs.length }),
  configure(model, input, opts) {
    if (!model.tokenizer) throw new OptionError('model', 'the transplant experiment needs the model tokenizer');
    const config = transplantConfig(model, opts, input.scorer);
    const settings = {
      units: config.units.map((u) => u.id),
      arms: ['baseline', ...ARMS],
      rows: config.rows,
      heads: opts.heads ? config.heads : 'all',
      n: config.n,
      maxNewTokens: config.maxNewTokens,
      alpha: config.alpha,
      decoding: 'greedy',
      pairing: 'Rust recipients in file order; Python donor of the same name, else the next unused one with as many parameters; control donor: the next Rust prompt with as many parameters',
      control: 'pattern transplant from the Rust control donor through the same kind of map',
      shuffled: 'Python pattern through the map with function keys sent to matched random keys',
    };
    return { config, settings };
  },
  plan(model, input, cfg) {
    const items: Item[] = [];
    const skipped = [...input.skipped];
    for (const pair of input.pairs.slice(0, cfg.n)) {
      const id = pair.recipient.prompt.id;
      let pos: PromptTokens;
      try {
        pos = promptTokens(model.tokenizer!, pair.recipient);
      } catch (e) {
        skipped.push({ id, group: 'rust', reason: (e as Error).message });
        continue;
      }
      if (pos.ids.length !== pair.map.recipient.nTokens) throw new Error(`pair '${id}': the position map was built for ${pair.map.recipient.nTokens} recipient tokens, the model's tokenizer gives ${pos.ids.length} (build the input with this model's tokenizer)`);
      checkContext(model, id, pos.ids.length + cfg.maxNewTokens, 'prompt + new tokens');
      checkContext(model, pair.donor.prompt.id, pair.map.donor.nTokens + cfg.maxNewTokens, 'donor prompt + its own test');
      checkContext(model, pair.controlDonor.prompt.id, pair.controlMap.donor.nTokens + cfg.maxNewTokens, 'control donor prompt + its own test');
      items.push({ steps: 1 + cfg.units.length * ARMS.length, keys: [id], pair, pos });
    }
    const caveats: string[] = [];
    if (items.length < cfg.n) caveats.push(`${items.length} usable pair(s), fewer than the ${cfg.n} asked for`);
    return { items, skipped, caveats };
  },
  runItem(item, ctx) {
    const id = item.pair.recipient.prompt.id;
    if (ctx.has(id)) {
      for (let i = 0; i < item.steps; i++) ctx.tick(id);
      return;
    }
    const { model, config: cfg } = ctx;
    const { pair, pos } = item;
    const layers = [...new Set(cfg.units.flatMap((u) => u.layers))].sort((a, b) => a - b);
    const pyNames = layers.flatMap((L) => [`blocks.${L}.attn.hook_pattern`, `blocks.${L}.hook_resid_pre`, `blocks.${L}.hook_attn_out`]);
    const py = donorRun(model, pair.donor, cfg.maxNewTokens, pyNames);
    const rs = donorRun(model, pair.controlDonor, cfg.maxNewTokens, layers.map((L) => `blocks.${L}.attn.hook_pattern`));
    const d = { python: py.cache, rust: rs.cache };
    const call = callTokens(model, pair.recipient);
    const keys = functionKeys(pair.map);
    const shuffled = shuffledMap(pair.map, [...pos.avoid, ...pos.targets, ...keys], createRng(ctx.seed, `transplant/shuffle/${id}`));
    const maps = { map: pair.map, controlMap: pair.controlMap, shuffledMap: shuffled.map };
    const baseline = { outcome: generateScored(model, pair.recipient, pos, [], cfg.maxNewTokens, cfg.scorer), logpCall: callLogprob(model, call, []) };
    ctx.tick(id);
    const units: TransplantRecord['units'] = cfg.units.map((unit) => {
      const arms = ARMS.map((arm) => {
        const hooks = () => armHooks(arm, unit.layers, d, maps, cfg);
        const outcome = generateScored(model, pair.recipient, pos, [], cfg.maxNewTokens, cfg.scorer, hooks());
        const r = { arm, outcome, logpCall: callLogprob(model, call, hooks()), fnMass: arm === 'pattern' || arm === 'control' || arm === 'shuffled' ? fnMass(model, pos.ids, unit.layers, keys, hooks()) : null };
        ctx.tick(`${id} ${unit.id} ${arm}`);
        return r;
      });
      return { unit, fnMassBaseline: fnMass(model, pos.ids, unit.layers, keys, []), arms };
    });
    const donor = (lp: LocatedPrompt, run: { ids: number[]; completion: string }) => ({ id: lp.prompt.id, name: lp.prompt.name, language: lp.prompt.language, completion: run.completion, tokens: run.ids.length });
    ctx.add({
      key: id,
      id,
      name: pair.recipient.prompt.name,
      category: pair.recipient.prompt.category,
      pairing: pair.pairing,
      donor: donor(pair.donor, py),
      controlDonor: donor(pair.controlDonor, rs),
      map: pair.map,
      controlMap: pair.controlMap,
      shuffledMap: shuffled.map,
      shuffledKeys: shuffled.keys,
      promptTokens: pos.ids.length,
      baseline,
      units,
    });
  },
  summarize: (records, ctx) => summarizeTransplant(records, ctx.config, ctx.seed, ctx.plan.skipped, ctx.plan.caveats),
  render: renderTransplant,
};

/**
 * Builds the experiment input: pairs the located prompts (pairs.ts) and builds their maps with the model's
 * tokenizer; `limit` pairs at most (the run's `n`; pairing is in file order, so a prefix is the same pairs).
 */
export async function transplantInput(path: string, located: { located: LocatedPrompt[]; skipped: TransplantInput['skipped'] }, model: HookedModel, scorer: CompletionScorer, limit = Infinity): Promise<TransplantInput> {
  if (!model.tokenizer) throw new Error('the transplant experiment needs the model tokenizer');
  const { pairs, skipped } = await buildPairs(located.located, model.tokenizer, limit);
  return { path, sha256: sha256File(path), pairs, skipped: [...located.skipped, ...skipped], scorer };
}

/** Library entry: {@link transplantExperiment} through the contract's runner. */
export function runTransplant(model: HookedModel, input: TransplantInput, o: TransplantOptions & RunExtras): ExperimentRun<TransplantRecord, TransplantSummary, TransplantConfig> {
  const { options, run } = splitRunOptions(o);
  return runExperiment(transplantExperiment, model, input, { ...run, options });
}
