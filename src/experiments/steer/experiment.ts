/**
 * The steering experiment: SET the attention from a test marker (Python `>>>`, Rust `#[test]`) to the
 * function's tokens to a chosen level, and measure the dose-response against the same levels put on
 * matched random keys.
 *
 * For every applicable sample, every analysis unit (layers, as in `plip knockout`) and every level ℓ:
 *   steer     kind "set": at the marker row of the unit's layers (selected heads), the function tokens
 *             together get attention mass ℓ; the other visible keys share 1 − ℓ in their own proportions
 *             (src/interventions/attention.ts) — so the row stays a distribution and ONLY the marker →
 *             function mass changes;
 *   control   the same level on as many matched random keys (same draw rule as the knockout controls);
 * both compared with the sample's baseline: KL at the marker (nats), Δlogit of the baseline top-1 token,
 * and ΔNLL of the teacher-forced continuation (the corpus's real test line, nats/token; negative = the
 * steered model predicts the real test better). The attention mass actually reached is measured from the
 * edited pattern and recorded (`massError`), so a steer that silently does nothing cannot go unnoticed.
 *
 * Calibration (`calibrateTo: GROUP`): the mean baseline marker → function mass of GROUP's samples, per
 * (layer, head), is the level given to the samples of the other groups ("if Rust markers attended to the
 * function as much as Python markers do, …"), with the same per-head levels on the control keys.
 *
 * Baseline and steered runs go through forwardWithInterventions / runCondition (one code path; the steered keys and their controls at one level are rows of one batched pass). Samples
 * whose targets all lie after the marker (causally masked edges) are recorded as not applicable.
 *
 * @module
 */
import type { Corpus, CorpusSample } from '../../corpus/schema.ts';
import type { HookedModel } from '../../model/model.ts';
import type { AttentionMaskSpec } from '../../interventions/spec.ts';
import { forwardWithInterventions, runCondition, type InterventionResult, type RunOutput } from '../../interventions/forward.ts';
import { createRng } from '../../stats/rng.ts';
import { type Experiment, type ExperimentRun, OptionError, type RunExtras, splitRunOptions, runExperiment } from '../contract.ts';
import { checkMarkerOptions, prepareCorpusItems } from '../knockout/experiment.ts';
import { sampleControls, selectSamples, type MarkerSample, type TargetMode } from '../shared/samples.ts';
import { analysisUnits, type AnalysisUnit as KnockoutUnit, type UnitMode as KnockoutMode } from '../shared/units.ts';
import { STEER_SCHEMA_VERSION, steerRecordSchema, steerSummarySchema, type SteerCalibration, type SteerCondition, type SteerControlMean, type SteerOkRecord, type SteerRecord, type SteerSummary } from './schema.ts';
import { summarizeSteer, type SteerStatsOptions } from './stats.ts';
import { renderSteerSummary } from './render.ts';

export { STEER_SCHEMA_VERSION };
export type { SteerCalibration, SteerCondition, SteerControlMean, SteerOkRecord, SteerRecord };

/** Default dose levels (attention mass, 0..1). */
export const DEFAULT_LEVELS: readonly number[] = [0, 0.05, 0.1, 0.2, 0.4, 0.7, 1];

export interface SteerOptions extends Omit<SteerStatsOptions, 'seed'> {
  /** Layers to test (default: all). */
  layers?: readonly number[];
  /** Analysis units built from `layers` (default ['per-layer']). */
  modes?: readonly KnockoutMode[];
  window?: number;
  /** Query heads to steer (default all). */
  heads?: readonly number[] | 'all';
  /** Dose levels: attention mass of the marker → function edges, each in [0, 1] (default {@link DEFAULT_LEVELS}). */
  levels?: readonly number[];
  /** Group whose mean baseline mass (per layer and head) is given to the other groups' samples (default none). */
  calibrateTo?: string;
  /** Matched random-key control draws per sample (default 3). */
  controls?: number;
  topK?: number;
  /** Token of a multi-token marker whose row is steered and measured (default 'last', as `plip knockout`). */
  markerToken?: 'first' | 'last';
  /** Target tokens: whole function-identifier spans (default) or the corpus positions (as `plip knockout`). */
  targets?: TargetMode;
  /** Keys below this token position are never steered or used as controls (default 1: BOS excluded). */
  minKey?: number;
  groups?: readonly string[];
  limit?: number;
}

/** The settings that determine the records (results header; compared on resume). */
export function steerSettings(model: HookedModel, o: SteerOptions) {
  return {
    layers: [...(o.layers ?? range(model.spec.nLayers))],
    modes: [...(o.modes ?? (['per-layer'] as const))] as KnockoutMode[],
    window: o.window ?? 2,
    heads: o.heads === undefined || o.heads === 'all' ? range(model.spec.nHeads) : [...o.heads],
    levels: [...(o.levels ?? DEFAULT_LEVELS)],
    calibrateTo: o.calibrateTo ?? null,
    controls: o.controls ?? 3,
    topK: o.topK ?? 10,
    markerToken: o.markerToken ?? ('last' as const),
    targets: o.targets ?? ('spans' as const),
    minKey: o.minKey ?? 1,
    groups: o.groups ? [...o.groups] : null,
    limit: o.limit ?? null,
  };
}
type Settings = ReturnType<typeof steerSettings>;

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function checkOptions(model: HookedModel, corpus: Corpus, st: Settings): void {
  checkMarkerOptions(model, { layers: st.layers, heads: st.heads, minKey: st.minKey, controls: st.controls, limit: st.limit, targets: st.targets, markerToken: st.markerToken }, 'steering');
  if (st.levels.length === 0) throw new OptionError('levels', 'no levels given');
  for (const v of st.levels) if (!(Number.isFinite(v) && v >= 0 && v <= 1)) throw new OptionError('levels', `${v} is not an attention mass in [0, 1]`);
  if (new Set(st.levels).size !== st.levels.length) throw new OptionError('levels', 'duplicate levels');
  if (st.calibrateTo !== null && !corpus.groups.includes(st.calibrateTo)) throw new OptionError('calibrateTo', `corpus has no group '${st.calibrateTo}' (groups: ${corpus.groups.join(', ')})`);
}

/** A corpus sample prepared for steering, or the reason it is not applicable. */
function prepare(prepared: MarkerSample, st: Settings): { ks: MarkerSample } | { reason: string } {
  const ks: MarkerSample = { ...prepared, targets: [...prepared.targets], notes: [...prepared.notes] };
  const below = ks.targets.filter((t) => t < st.minKey);
  if (below.length) {
    ks.targets = ks.targets.filter((t) => t >= st.minKey);
    ks.notes.push(`target token(s) ${below.join(', ')} below --min-key ${st.minKey}: not steered`);
  }
  if (ks.targets.length) return { ks };
  return {
    reason:
      `not applicable: no target token at or before the marker token ${ks.marker.token}` +
      (ks.futureTargets.length ? ` (targets ${ks.futureTargets.join(', ')} come after it: edges to future tokens are masked, steering them would do nothing)` : '') +
      (below.length ? ` (token(s) ${below.join(', ')} are below --min-key)` : ''),
  };
}

const patternNames = (layers: readonly number[]) => layers.map((l) => `blocks.${l}.attn.hook_pattern`);

/** Mass of row `m` on `keys`, per (layer, head): [layers.length][heads.length]. */
function massOf(patterns: Record<number, { data: Float32Array | Float64Array; shape: readonly number[] }>, layers: readonly number[], heads: readonly number[], m: number, keys: readonly number[]): number[][] {
  return layers.map((l) => {
    const p = patterns[l];
    if (!p) throw new Error(`internal: pattern of layer ${l} was not captured`);
    const [, , T, S] = p.shape as [number, number, number, number];
    return heads.map((h) => keys.reduce((s, k) => s + p.data[(h * T + m) * S + k]!, 0));
  });
}

const mean2 = (x: number[][]) => {
  const f = x.flat();
  return f.reduce((s, v) => s + v, 0) / f.length;
};

/** Per-(layer, head) mean baseline mass of `group`'s applicable samples (the calibration levels). */
export function calibrate(model: HookedModel, corpus: Corpus, group: string, o: SteerOptions = {}): SteerCalibration {
  const st = steerSettings(model, o);
  const samples = prepareCorpusItems(model, corpus, { groups: [group], limit: st.limit, markerToken: st.markerToken, targets: st.targets }, 0);
  const sum: Record<number, number[]> = Object.fromEntries(st.layers.map((l) => [l, st.heads.map(() => 0)]));
  let n = 0;
  for (const s of samples) {
    const p = prepare(s.prepared, st);
    if (!('ks' in p)) continue;
    const { ks } = p;
    const m = ks.marker.token;
    const base = runCondition(model, ks.ids.slice(0, m + 1), [], patternNames(st.layers), m, 1);
    const mass = massOf(base.patterns, st.layers, st.heads, m, ks.targets);
    st.layers.forEach((l, i) => st.heads.forEach((_, j) => (sum[l]![j]! += mass[i]![j]!)));
    n++;
  }
  if (n === 0) throw new OptionError('calibrateTo', `${group}: the group has no applicable sample (no target token at or before its marker)`);
  const mass = Object.fromEntries(Object.entries(sum).map(([l, v]) => [Number(l), v.map((x) => x / n)]));
  return { group, n, mass };
}

interface SteerConfig {
  settings: Settings;
  units: KnockoutUnit[];
  stats: Omit<SteerStatsOptions, 'seed'>;
  options: SteerOptions;
  /** Set by `plan` (the calibration runs the calibration group's baselines). */
  calibration: SteerCalibration | null;
  allLayers: number[];
}

interface SteerItem {
  sample: CorpusSample;
  prepared: MarkerSample;
  steps: number;
}

/** The steering experiment on the contract of src/experiments/contract.ts. */
export const steerExperiment: Experiment<Corpus, SteerOptions, SteerConfig, SteerItem, SteerRecord, SteerSummary> = {
  name: 'steer',
  schemaVersion: STEER_SCHEMA_VERSION,
  recomputes: true,
  recordSchema: steerRecordSchema,
  summarySchema: steerSummarySchema,
  source: (c) => ({ path: c.file ?? '<memory>', sha256: c.sha256, nSamples: c.samples.length }),
  configure(model, corpus, o) {
    const settings = steerSettings(model, o);
    checkOptions(model, corpus, settings);
    const units = analysisUnits(settings.layers, settings.modes, settings.window);
    const allLayers = [...new Set(units.flatMap((u) => u.layers))].sort((a, b) => a - b);
    return { config: { settings, units, stats: { alpha: o.alpha, primaryGroups: o.primaryGroups, nPermutations: o.nPermutations }, options: o, calibration: null, allLayers }, settings };
  },
  plan(model, corpus, cfg) {
    const items = prepareCorpusItems(model, corpus, cfg.settings, cfg.units.length);
    cfg.calibration = cfg.settings.calibrateTo !== null ? calibrate(model, corpus, cfg.settings.calibrateTo, cfg.options) : null;
    return { items, skipped: [], caveats: [] };
  },
  runItem(item, ctx) {
    const st = ctx.config.settings;
    const units = ctx.config.units;
    const s = item.sample;
    const p = prepare(item.prepared, st);
    if (!('ks' in p)) {
      const key = `${s.id}|not-applicable`;
      if (!ctx.has(key)) ctx.add({ key, status: 'not_applicable', id: s.id, group: s.group, language: s.language, reason: p.reason });
      for (let i = 0; i < units.length; i++) ctx.tick(s.id);
      return;
    }
    const { ks } = p;
    const todo = units.filter((u) => !ctx.has(`${s.id}|${u.id}`));
    for (let i = 0; i < units.length - todo.length; i++) ctx.tick(s.id);
    if (todo.length === 0) return;
    const m = ks.marker.token;
    const tokens = ks.ids.slice(0, ks.continuationEnd + 1);
    const ctl = sampleControls(ks, st.controls, createRng(ctx.seed, `steer/controls/${s.id}`), st.minKey);
    if (ctl.draws.every((d) => d.length === 0)) {
      const key = `${s.id}|not-applicable`;
      if (!ctx.has(key)) ctx.add({ key, status: 'not_applicable', id: s.id, group: s.group, language: s.language, reason: `not applicable: no control key between BOS and the marker token ${m} (the marker is too close to the start)` });
      for (let i = 0; i < todo.length; i++) ctx.tick(s.id);
      return;
    }
    const baseline = runCondition(ctx.model, tokens, [], patternNames(ctx.config.allLayers), m, st.topK);
    for (const u of todo) {
      ctx.add(measure(ctx.model, ks, tokens, u, st, ctl.draws, [...ks.notes, ...ctl.notes], baseline, ctx.config.calibration));
      ctx.tick(`${s.id} ${u.id}`);
    }
  },
  summarize: (records, ctx) => ({
    ...summarizeSteer(records, ctx.config.units, ctx.config.settings.levels, ctx.plan.items.length, { ...ctx.config.stats, seed: ctx.seed }),
    calibration: ctx.config.calibration,
  }),
  render: renderSteerSummary,
};

export interface SteerRun extends ExperimentRun<SteerRecord, SteerSummary, SteerConfig> {
  units: KnockoutUnit[];
  summary: SteerSummary;
  /** Per-(layer, head) calibration levels when `calibrateTo` was given. */
  calibration: SteerCalibration | null;
}

/** Runs the steering experiment (library entry point): {@link runExperiment} with {@link steerExperiment}. */
export function runSteer(model: HookedModel, corpus: Corpus, opts: SteerOptions & RunExtras = {}): SteerRun {
  const { options, run } = splitRunOptions<SteerOptions>(opts);
  const r = runExperiment(steerExperiment, model, corpus, { ...run, options });
  return { ...r, units: r.config.units, summary: r.summary!, calibration: r.config.calibration };
}

function measure(
  model: HookedModel,
  ks: MarkerSample,
  tokens: number[],
  unit: KnockoutUnit,
  st: Settings,
  controlDraws: number[][],
  notes: string[],
  baseline: RunOutput,
  cal: SteerCalibration | null,
): SteerOkRecord {
  const m = ks.marker.token;
  const prompt = tokens.slice(0, m + 1);
  const continuation = tokens.slice(m + 1);
  const specsOf = (keys: number[], levels: number[][]): AttentionMaskSpec[] => {
    const specs: AttentionMaskSpec[] = [];
    unit.layers.forEach((l, i) => st.heads.forEach((h, j) => specs.push({ kind: 'set', level: levels[i]![j]!, layers: l, heads: h, edges: [{ sources: [m], targets: keys }] })));
    return specs;
  };
  /** Steers `keys` at the marker row to `levels[layer index][head index]`. */
  const result = (r: InterventionResult, keys: number[], levels: number[][]): SteerCondition => {
    const got = massOf(r.intervened.patterns, unit.layers, st.heads, m, keys);
    let err = 0;
    got.forEach((row, i) => row.forEach((v, j) => (err = Math.max(err, Math.abs(v - levels[i]![j]!)))));
    const mt = r.metrics;
    return { kl: mt.kl, dLogitTop1: mt.dLogitTop1, top1Changed: mt.top1Changed, dMeanNll: mt.continuation ? mt.continuation.dMeanNll : null, achievedMass: mean2(got), massError: err };
  };
  const ctlKeys = controlDraws.filter((k) => k.length > 0);
  /** The steered targets and every control at one set of levels, as rows of one batched call. */
  const steerAndControls = (levels: number[][]): { steer: SteerCondition; control: SteerControlMean } => {
    const keySets = [ks.targets, ...ctlKeys];
    const rs = forwardWithInterventions(model, prompt, keySets.map((keys) => specsOf(keys, levels)), { baseline, continuation, topK: st.topK });
    const cs = ctlKeys.map((keys, i) => result(rs[i + 1]!, keys, levels));
    const avg = (f: (c: SteerCondition) => number) => cs.reduce((s, c) => s + f(c), 0) / cs.length;
    const nll = cs.every((c) => c.dMeanNll !== null) ? avg((c) => c.dMeanNll!) : null;
    return {
      steer: result(rs[0]!, ks.targets, levels),
      control: { kl: avg((c) => c.kl), dLogitTop1: avg((c) => c.dLogitTop1), top1ChangedRate: avg((c) => (c.top1Changed ? 1 : 0)), dMeanNll: nll, achievedMass: avg((c) => c.achievedMass), massError: Math.max(...cs.map((c) => c.massError)), draws: cs.length },
    };
  };
  const flat = (v: number) => unit.layers.map(() => st.heads.map(() => v));
  const levels = st.levels.map((level) => ({ level, ...steerAndControls(flat(level)) }));
  let calibrated: SteerOkRecord['calibrated'] = null;
  if (cal && ks.group !== cal.group) {
    const lv = unit.layers.map((l) => cal.mass[l]!.slice());
    calibrated = { to: cal.group, levels: lv, levelMean: mean2(lv), ...steerAndControls(lv) };
  }
  const baseMass = massOf(baseline.patterns, unit.layers, st.heads, m, ks.targets);
  const ctlBase = controlDraws.filter((k) => k.length).map((keys) => mean2(massOf(baseline.patterns, unit.layers, st.heads, m, keys)));
  return {
    key: `${ks.id}|${unit.id}`,
    status: 'ok',
    id: ks.id,
    group: ks.group,
    language: ks.language,
    unit,
    marker: m,
    targets: ks.targets,
    controlKeys: controlDraws,
    notes,
    baselineMass: baseMass,
    baselineMassMean: mean2(baseMass),
    controlBaselineMassMean: ctlBase.length ? ctlBase.reduce((s, v) => s + v, 0) / ctlBase.length : 0,
    levels,
    calibrated,
  };
}
