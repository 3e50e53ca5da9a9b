/**
 * Phase 4 of the roadmap: steer Rust tests' attention to the function up to the Python level during
 * generation, and score the tests (the phase-3 scorers; compilation and the executed `assert_eq!` check
 * argument types and expected values).
 *
 * Per Rust prompt and unit (layers edited together), at each dose — a multiple k of the calibrated Python
 * level of each (layer, head) (k = 1 is "steered"; the roadmap's over-steering is an absolute 15 % or
 * k × the Python level) — every query from the marker's first token on, at every decoding step:
 *  - treated: set(ℓ_lh) on the function tokens F of head h of layer l, with the control keys C held
 *    (their weights unchanged), the other keys O rescaled;
 *  - control: set-control(ℓ_lh): the same mass Δ = ℓ − m_F moves onto matched random keys C instead,
 *    F keeps its natural mass, O pays exactly as in the treated row (src/interventions/rows.ts).
 * So treated and control differ only in where Δ goes — the control cannot itself be a function knockout.
 * Levels beyond reach are capped (mass ≤ 1). Statistics in ./stats.ts.
 *
 * @module
 */
import type { ResolvedEdit } from '../../interventions/spec.ts';
import type { HookedModel } from '../../model/model.ts';
import { createRng } from '../../stats/rng.ts';
import { promptTokens, type PromptTokens } from '../../corpus/test-prompts.ts';
import { type Experiment, OptionError, checkContext } from '../contract.ts';
import { sampleControls } from '../shared/samples.ts';
import { type AnalysisUnit, type UnitMode, analysisUnits, distinctUnits } from '../shared/units.ts';
import { generateTests, type Arm } from '../shared/generated-test.ts';
import type { PreservationInput } from '../preservation/experiment.ts';
import { calibrate, type Calibration } from './calibration.ts';
import { steerGenRecordSchema, steerGenSummarySchema, type SteerGenRecord, type SteerGenSummary } from './schema.ts';
import { summarizeSteerGen } from './stats.ts';
import { renderSteerGen } from './render.ts';

export const STEER_GEN_SCHEMA_VERSION = 1;

export interface SteerGenOptions {
  layers?: readonly number[];
  modes?: readonly UnitMode[];
  window?: number;
  /** Dose-response multiples of the Python level (default [0, 0.5, 1, 1.5, 2, 3]); 1 is added when absent. */
  multiples?: readonly number[];
  /** Over-steering: an absolute level (default 0.15, the roadmap's) or a multiple of the Python level. */
  overSteer?: { level: number } | { multiple: number };
  /** Rust prompts (and Python prompts for the calibration) (default 50). */
  n?: number;
  maxNewTokens?: number;
  controls?: number;
  /** A calibration computed earlier (`plip calibrate`); computed from the input when absent. */
  calibration?: Calibration;
  alpha?: number;
  nPermutations?: number;
}

export interface SteerGenConfig {
  units: AnalysisUnit[];
  doses: { label: string; multiple: number | null; absolute: number | null }[];
  n: number;
  maxNewTokens: number;
  controls: number;
  alpha: number;
  nPermutations: number;
  calibration: Calibration;
  scorer: PreservationInput['scorer'];
}

interface Item {
  steps: number;
  keys: string[];
  lp: PreservationInput['prompts'][number];
  pos: PromptTokens;
}

/** The level ℓ of (layer, head) at a dose, capped to [0, 1]. */
export function doseLevel(dose: SteerGenConfig['doses'][number], python: number): number {
  return Math.min(1, Math.max(0, dose.absolute ?? dose.multiple! * python));
}

/** The edits of one dose on one unit: one set (treated) or set-control (control) per (layer, head). */
export function doseEdits(kind: 'treated' | 'control', dose: SteerGenConfig['doses'][number], unit: AnalysisUnit, cal: Calibration, nHeads: number, from: number, until: number, targets: number[], controlKeys: number[]): ResolvedEdit[] {
  const sources: number[] = [];
  for (let q = from; q < until; q++) sources.push(q);
  const out: ResolvedEdit[] = [];
  for (const l of unit.layers) {
    for (let h = 0; h < nHeads; h++) {
      const level = doseLevel(dose, cal.python[l]![h]!);
      const rules = kind === 'treated' ? [{ sources, targets, hold: controlKeys }] : [{ sources, targets: controlKeys, match: targets }];
      out.push({ kind: kind === 'treated' ? 'set' : 'set-control', factor: 1, level, onInfeasible: 'cap', layers: [l], heads: [h], rules, edgesPerLayer: 0, dropped: [] });
    }
  }
  return out;
}

export const steerGenExperiment: Experiment<PreservationInput, SteerGenOptions, SteerGenConfig, Item, SteerGenRecord, SteerGenSummary> = {
  name: 'steer-generation',
  schemaVersion: STEER_GEN_SCHEMA_VERSION,
  recordSchema: steerGenRecordSchema,
  summarySchema: steerGenSummarySchema,
  source: (input) => ({ path: input.path, sha256: input.sha256, nSamples: input.prompts.length }),
  configure(model, input, o) {
    if (!model.tokenizer) throw new OptionError('model', 'steering during generation needs the model tokenizer');
    const nL = model.spec.nLayers;
    const layers = o.layers ? [...o.layers] : Array.from({ length: nL }, (_, i) => i);
    for (const l of layers) if (!Number.isInteger(l) || l < 0 || l >= nL) throw new OptionError('layers', `layer ${l} is out of range 0..${nL - 1}`);
    const multiples = [...new Set([...(o.multiples ?? [0, 0.5, 1, 1.5, 2, 3]), 1])].sort((a, b) => a - b);
    for (const k of multiples) if (!(Number.isFinite(k) && k >= 0)) throw new OptionError('multiples', `must be finite and ≥ 0 (got ${k})`);
    const over = o.overSteer ?? { level: 0.15 };
    if ('level' in over && !(over.level >= 0 && over.level <= 1)) throw new OptionError('overSteer', `an absolute level must be in [0, 1] (got ${over.level})`);
    if ('multiple' in over && !(over.multiple > 0)) throw new OptionError('overSteer', `a multiple must be > 0 (got ${over.multiple})`);
    const doses: SteerGenConfig['doses'] = multiples.map((k) => ({ label: k === 1 ? 'steered (×1)' : `×${k}`, multiple: k, absolute: null }));
    doses.push('level' in over ? { label: `over-steered (${(100 * over.level).toFixed(0)}%)`, multiple: null, absolute: over.level } : { label: `over-steered (×${over.multiple})`, multiple: over.multiple, absolute: null });
    const int = (v: number | undefined, d: number, f: string, min: number) => {
      const x = v ?? d;
      if (!Number.isInteger(x) || x < min) throw new OptionError(f, `must be an integer ≥ ${min} (got ${x})`);
      return x;
    };
    const n = int(o.n, 50, 'n', 1);
    const maxNewTokens = int(o.maxNewTokens, 64, 'maxNewTokens', 1);
    const alpha = o.alpha ?? 0.05;
    if (!(alpha > 0 && alpha < 1)) throw new OptionError('alpha', `must be in (0, 1) (got ${alpha})`);
    const calibration = o.calibration ?? calibrate(model, input.prompts, { n, maxNewTokens, targets: 'signature', scorer: input.scorer, modelId: model.info.id });
    if (calibration.python.length !== nL || calibration.python[0]!.length !== model.spec.nHeads) throw new OptionError('calibration', `is for ${calibration.python.length} layers × ${calibration.python[0]!.length} heads, the model has ${nL} × ${model.spec.nHeads}`);
    const config: SteerGenConfig = {
      units: distinctUnits(analysisUnits(layers, o.modes ?? ['per-layer', 'all-layers'], o.window ?? 2)),
      doses,
      n,
      maxNewTokens,
      controls: int(o.controls, 1, 'controls', 1),
      alpha,
      nPermutations: int(o.nPermutations, 9999, 'nPermutations', 99),
      calibration,
      scorer: input.scorer,
    };
    const settings = { units: config.units.map((u) => u.id), doses, n, maxNewTokens, controls: config.controls, alpha, calibration: { python: calibration.python, rust: calibration.rust }, decoding: 'greedy' };
    return { config, settings };
  },
  plan(model, input, cfg) {
    const items: Item[] = [];
    const skipped = [...input.skipped.filter((s) => s.group === 'rust')];
    for (const lp of input.prompts.filter((p) => p.prompt.language === 'rust').slice(0, cfg.n)) {
      let pos: PromptTokens;
      try {
        pos = promptTokens(model.tokenizer!, lp);
      } catch (e) {
        skipped.push({ id: lp.prompt.id, group: 'rust', reason: (e as Error).message });
        continue;
      }
      checkContext(model, lp.prompt.id, pos.ids.length + cfg.maxNewTokens, 'prompt + new tokens');
      items.push({ steps: 1 + cfg.units.length * cfg.doses.length * (1 + cfg.controls), keys: [lp.prompt.id], lp, pos });
    }
    const caveats = items.length < cfg.n ? [`rust: ${items.length} usable prompt(s), fewer than the ${cfg.n} asked for`] : [];
    return { items, skipped, caveats };
  },
  runItem(item, ctx) {
    const id = item.lp.prompt.id;
    if (ctx.has(id)) {
      for (let i = 0; i < item.steps; i++) ctx.tick(id);
      return;
    }
    const { model, config: cfg } = ctx;
    const { lp, pos } = item;
    const until = pos.ids.length + cfg.maxNewTokens;
    const ctl = sampleControls({ marker: { token: pos.marker.first }, targets: pos.targets, markerTokens: pos.avoid, excluded: [] }, cfg.controls, createRng(ctx.seed, `steer-generation/controls/${id}`));
    // every condition decoded together, in a fixed order: baseline, then unit × dose × (treated, controls)
    const nH = model.spec.nHeads;
    const arms: Arm[] = [{ edits: [] }];
    for (const unit of cfg.units)
      for (const dose of cfg.doses) {
        arms.push({ edits: doseEdits('treated', dose, unit, cfg.calibration, nH, pos.marker.first, until, pos.targets, ctl.draws[0]!) });
        for (const keys of ctl.draws) arms.push({ edits: doseEdits('control', dose, unit, cfg.calibration, nH, pos.marker.first, until, pos.targets, keys) });
      }
    const outs = generateTests(model, lp, pos, arms, cfg.maxNewTokens, cfg.scorer).map((r) => r.outcome);
    let k = 0;
    const baseline = outs[k++]!;
    ctx.tick(id);
    const units: SteerGenRecord['units'] = cfg.units.map((unit) => ({
      unit,
      doses: cfg.doses.map((dose) => {
        const treated = outs[k++]!;
        const controls = ctl.draws.map(() => outs[k++]!);
        for (let t = 0; t <= ctl.draws.length; t++) ctx.tick(`${id} ${unit.id} ${dose.label}`);
        return { label: dose.label, multiple: dose.multiple, absolute: dose.absolute, treated, controls };
      }),
    }));
    ctx.add({ key: id, id, name: lp.prompt.name, category: lp.prompt.category, marker: pos.marker, targets: pos.targets, controlKeys: ctl.draws, baseline, units });
  },
  summarize: (records, ctx) => summarizeSteerGen(records, ctx.config, ctx.seed, ctx.plan.skipped, ctx.plan.caveats),
  render: renderSteerGen,
};
