/**
 * Phase 3 of the roadmap: generation under knockout / amplify, with the generated tests scored for
 * preservation (does the test still call the function, with a fitting argument list, does it parse, does
 * it run?).
 *
 * One paired design per prompt (the same prompts in every condition, greedy decoding through the same
 * code path; only the hooks differ):
 *  - baseline: no edit;
 *  - knockout: at the unit's layers (all heads), every query from the marker's first token on — the rest
 *    of the prompt and every generated token, at each decoding step — gets −∞ on its scores to the
 *    function tokens (the whole spans of def/fn, the name, the parameters);
 *  - amplify: the same edges' unnormalised weights × 2 (+ ln 2 on the score; the roadmap's "double
 *    attention"), and × f for each extra level f;
 *  - controls: each edited condition repeated on matched random keys (same number of keys at a matched
 *    distance from the marker; src/experiments/shared/controls.ts), `controls` draws.
 * Generation stops at the end of the test (src/score/test-end.ts) or after `maxNewTokens`.
 * Statistics in ./stats.ts.
 *
 * @module
 */
import type { ResolvedEdit } from '../../interventions/spec.ts';
import type { HookedModel } from '../../model/model.ts';
import { sha256File } from '../../report/results.ts';
import { createRng } from '../../stats/rng.ts';
import { type Experiment, OptionError, checkContext } from '../contract.ts';
import { sampleControls } from '../shared/samples.ts';
import { type AnalysisUnit, type UnitMode, analysisUnits, distinctUnits } from '../shared/units.ts';
import { promptTokens, type LocatedPrompt, type PromptTokens, type TargetSet } from '../../corpus/test-prompts.ts';
import { type PreservationRecord, type PreservationSummary, preservationRecordSchema, preservationSummarySchema } from './schema.ts';
import { summarizePreservation } from './stats.ts';
import { generateTests, type Arm, type CompletionScorer, type GenerationInputBase } from '../shared/generated-test.ts';

export type { CompletionScore, CompletionScorer } from '../shared/generated-test.ts';
import { renderPreservation } from './render.ts';

export const PRESERVATION_SCHEMA_VERSION = 1;

/** The experiment's input: located prompts of both languages, the file they came from, and the scorer. */
export interface PreservationInput extends GenerationInputBase {
  prompts: LocatedPrompt[];
}

export interface PreservationOptions {
  /** Layers to edit (default: all). */
  layers?: readonly number[];
  modes?: readonly UnitMode[];
  window?: number;
  /** Edited conditions (default both). */
  conditions?: readonly ('knockout' | 'amplify')[];
  /** Extra amplification factors (> 0, ≠ 2) on the unnormalised weight. */
  levels?: readonly number[];
  /** Prompts per language (default 50). */
  n?: number;
  maxNewTokens?: number;
  /** Control draws per edited condition (default 1). */
  controls?: number;
  /** Query heads edited (default all). */
  heads?: readonly number[];
  /** Function tokens edited (default 'signature', the roadmap's; see prompts.ts). */
  targets?: TargetSet;
  /** α of the criteria, after Holm (default 0.05). */
  alpha?: number;
  /** Relative drop the roadmap asks of knockout (default 0.2). */
  dropThreshold?: number;
  /** Bootstrap resamples of the relative-change CI (default 2000). */
  nBoot?: number;
}

export interface PreservationConfig {
  units: AnalysisUnit[];
  arms: { condition: string; factor: number | null }[];
  heads: number[];
  targets: TargetSet;
  n: number;
  maxNewTokens: number;
  controls: number;
  alpha: number;
  dropThreshold: number;
  nBoot: number;
  /** The input's scorer (not a setting: it does not change what is measured, only how fast). */
  scorer: CompletionScorer;
}

interface Item {
  steps: number;
  keys: string[];
  lp: LocatedPrompt;
  pos: PromptTokens;
}

/** The resolved options (validated; errors name the field). */
export function preservationConfig(model: HookedModel, o: PreservationOptions, scorer: CompletionScorer): PreservationConfig {
  const nL = model.spec.nLayers;
  const layers = o.layers ? [...o.layers] : Array.from({ length: nL }, (_, i) => i);
  for (const l of layers) if (!Number.isInteger(l) || l < 0 || l >= nL) throw new OptionError('layers', `layer ${l} is out of range 0..${nL - 1}`);
  const heads = o.heads ? [...o.heads] : Array.from({ length: model.spec.nHeads }, (_, h) => h);
  for (const h of heads) if (!Number.isInteger(h) || h < 0 || h >= model.spec.nHeads) throw new OptionError('heads', `head ${h} is out of range 0..${model.spec.nHeads - 1}`);
  const conditions = o.conditions ?? ['knockout', 'amplify'];
  if (conditions.length === 0) throw new OptionError('conditions', 'give at least one of knockout, amplify');
  const arms: PreservationConfig['arms'] = [];
  if (conditions.includes('knockout')) arms.push({ condition: 'knockout', factor: null });
  if (conditions.includes('amplify')) arms.push({ condition: 'amplify', factor: 2 });
  for (const f of o.levels ?? []) {
    if (!(Number.isFinite(f) && f > 0) || f === 2) throw new OptionError('levels', `extra amplification factors must be finite, > 0 and ≠ 2 (got ${f})`);
    arms.push({ condition: `amplify×${f}`, factor: f });
  }
  const int = (v: number | undefined, d: number, field: string, min: number): number => {
    const x = v ?? d;
    if (!Number.isInteger(x) || x < min) throw new OptionError(field, `must be an integer ≥ ${min} (got ${x})`);
    return x;
  };
  const alpha = o.alpha ?? 0.05;
  if (!(alpha > 0 && alpha < 1)) throw new OptionError('alpha', `must be in (0, 1) (got ${alpha})`);
  if (o.targets !== undefined && o.targets !== 'signature' && o.targets !== 'signature+name') throw new OptionError('targets', `must be 'signature' or 'signature+name' (got ${String(o.targets)})`);
  const dropThreshold = o.dropThreshold ?? 0.2;
  if (!(dropThreshold > 0 && dropThreshold < 1)) throw new OptionError('dropThreshold', `must be in (0, 1) (got ${dropThreshold})`);
  return {
    units: distinctUnits(analysisUnits(layers, o.modes ?? ['per-layer', 'all-layers', 'window'], o.window ?? 2)),
    arms,
    heads,
    targets: o.targets ?? 'signature',
    n: int(o.n, 50, 'n', 1),
    maxNewTokens: int(o.maxNewTokens, 64, 'maxNewTokens', 1),
    controls: int(o.controls, 1, 'controls', 1),
    alpha,
    dropThreshold,
    nBoot: int(o.nBoot, 2000, 'nBoot', 100),
    scorer,
  };
}

/** The edit of one arm: knockout or amplify(f) from every query ≥ `from` to `keys`. */
export function armEdit(arm: { factor: number | null }, layers: number[], heads: number[], from: number, until: number, keys: number[]): ResolvedEdit {
  const sources: number[] = [];
  for (let q = from; q < until; q++) sources.push(q);
  const rules = [{ sources, targets: keys }];
  if (arm.factor === null) return { kind: 'knockout', factor: 0, layers, heads, rules, edgesPerLayer: 0, dropped: [] };
  return { kind: 'amplify', factor: arm.factor, basis: 'logit', layers, heads, rules, edgesPerLayer: 0, dropped: [] };
}

export const preservationExperiment: Experiment<PreservationInput, PreservationOptions, PreservationConfig, Item, PreservationRecord, PreservationSummary> = {
  name: 'preservation',
  schemaVersion: PRESERVATION_SCHEMA_VERSION,
  recordSchema: preservationRecordSchema,
  summarySchema: preservationSummarySchema,
  source: (input) => ({ path: input.path, sha256: input.sha256, nSamples: input.prompts.length }),
  configure(model, input, opts) {
    if (!model.tokenizer) throw new OptionError('model', 'the preservation experiment needs the model tokenizer');
    const config = preservationConfig(model, opts, input.scorer);
    const settings = {
      units: config.units.map((u) => u.id),
      arms: config.arms,
      heads: opts.heads ? config.heads : 'all',
      n: config.n,
      maxNewTokens: config.maxNewTokens,
      controls: config.controls,
      alpha: config.alpha,
      dropThreshold: config.dropThreshold,
      decoding: 'greedy',
      targets: config.targets,
      sources: 'marker first token → every later query, each decoding step',
    };
    return { config, settings };
  },
  plan(model, input, cfg) {
    const items: Item[] = [];
    const skipped = [...input.skipped];
    for (const lang of ['python', 'rust'] as const) {
      const ps = input.prompts.filter((p) => p.prompt.language === lang).slice(0, cfg.n);
      for (const lp of ps) {
        let pos: PromptTokens;
        try {
          pos = promptTokens(model.tokenizer!, lp, cfg.targets);
        } catch (e) {
          skipped.push({ id: lp.prompt.id, group: lang, reason: (e as Error).message });
          continue;
        }
        checkContext(model, lp.prompt.id, pos.ids.length + cfg.maxNewTokens, 'prompt + new tokens');
        items.push({ steps: 1 + cfg.units.length * cfg.arms.length * (1 + cfg.controls), keys: [lp.prompt.id], lp, pos });
      }
    }
    const caveats: string[] = [];
    for (const lang of ['python', 'rust'] as const) {
      const n = items.filter((i) => i.lp.prompt.language === lang).length;
      if (n < cfg.n) caveats.push(`${lang}: ${n} usable prompt(s), fewer than the ${cfg.n} asked for`);
    }
    return { items, skipped, caveats };
  },
  runItem(item, ctx) {
    if (ctx.has(item.lp.prompt.id)) {
      for (let i = 0; i < item.steps; i++) ctx.tick(item.lp.prompt.id);
      return;
    }
    const { model, config: cfg } = ctx;
    const { lp, pos } = item;
    const until = pos.ids.length + cfg.maxNewTokens;
    const ctl = sampleControls({ marker: { token: pos.marker.first }, targets: pos.targets, markerTokens: pos.avoid, excluded: [] }, cfg.controls, createRng(ctx.seed, `preservation/controls/${lp.prompt.id}`));
    // every condition of the prompt decoded together, in a fixed order: baseline, then unit × arm × (treated, controls)
    const arms: Arm[] = [{ edits: [] }];
    for (const unit of cfg.units)
      for (const arm of cfg.arms) for (const keys of [pos.targets, ...ctl.draws]) arms.push({ edits: [armEdit(arm, unit.layers, cfg.heads, pos.marker.first, until, keys)] });
    const outs = generateTests(model, lp, pos, arms, cfg.maxNewTokens, cfg.scorer).map((r) => r.outcome);
    let k = 0;
    const baseline = outs[k++]!;
    ctx.tick(lp.prompt.id);
    const units: PreservationRecord['units'] = cfg.units.map((unit) => ({
      unit,
      arms: cfg.arms.map((arm) => {
        const treated = outs[k++]!;
        const controls = ctl.draws.map(() => outs[k++]!);
        for (let t = 0; t <= ctl.draws.length; t++) ctx.tick(`${lp.prompt.id} ${unit.id} ${arm.condition}`);
        return { condition: arm.condition, factor: arm.factor, treated, controls };
      }),
    }));
    ctx.add({
      key: lp.prompt.id,
      id: lp.prompt.id,
      language: lp.prompt.language,
      name: lp.prompt.name,
      category: lp.prompt.category,
      marker: pos.marker,
      targets: pos.targets,
      controlKeys: ctl.draws,
      promptTokens: pos.ids.length,
      baseline,
      units,
    });
  },
  summarize: (records, ctx) => summarizePreservation(records, ctx.config, ctx.seed, ctx.plan.skipped, ctx.plan.caveats),
  render: renderPreservation,
};

/** Builds the experiment input from located prompts and a scorer (path hashed for provenance). */
export function preservationInput(path: string, located: { located: LocatedPrompt[]; skipped: PreservationInput['skipped'] }, scorer: CompletionScorer): PreservationInput {
  return { path, sha256: sha256File(path), prompts: located.located, skipped: located.skipped, scorer };
}
