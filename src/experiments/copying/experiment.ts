/**
 * Copying under intervention: does the model still write a test that calls the function by name when
 * the test region cannot attend to the function-name tokens?
 *
 * Per prompt (greedy decoding, identical code path for every condition — only the hooks differ):
 *  - baseline: no intervention;
 *  - knockout: at the unit's layers (all heads), every query from the marker token on — the rest of the
 *    prompt AND every generated token, applied at each decoding step — has its attention to the
 *    function-name tokens removed (−∞ before softmax);
 *    (`targets: 'all'` also removes later copies of the name, e.g. in `fn test_NAME()`);
 *  - controls: the same, but to as many random non-name keys at matched distance from the marker
 *    (same selection rule as `plip knockout`, seeded named stream per prompt), `controls` draws.
 * With `level` the edit is a steer instead (kind "set": mass `level` on the name tokens / control keys),
 * with `factor` a scaling of those weights (kind "scale", rows renormalised). Each record names the edited
 * condition that ran (`condition`: "knockout", "set(ℓ)" or "scale(f)"); the record field holding its outcome
 * is `knockout` whatever the edit (schema compatibility), read it as "edited".
 * The window of a sliding-window family needs no handling here: the intervention hooks read what is masked
 * from the engine's own scores (test/interventions/set-masked.test.ts runs an edit built like this one on
 * a sliding-window fixture); the edit records the window for reports.
 * Scoring: the first completion line calls `name(` as a free function (./score.ts, the rule of
 * src/score/syntax.ts `findCalls`) (+ top-level argument count vs arity).
 * Statistics per group × unit: exact McNemar (binomial on discordant pairs) baseline vs edited and
 * edited vs first control draw, TWO-SIDED with the direction reported (an amplification may raise
 * copying, a knockout lower it); a two-sided paired permutation test of (mean control rate − edited) per
 * prompt; Holm across units within each group. The summary states the smallest p the design can reach
 * after Holm (see {@link copyingReach}) and warns when it is not below α = 0.05.
 */
import type { HookedModel } from '../../model/model.ts';
import { generateBatch, type GenerateRequest } from '../../generate/generate.ts';
import { runCondition } from '../../interventions/forward.ts';
import { fullRecomputeByDefault, runConditionsIncremental, scopeOfEdits } from '../../interventions/incremental.ts';
import { attentionEdit } from '../../interventions/attention.ts';
import type { ResolvedEdit } from '../../interventions/spec.ts';
import { createRng, holm, mcnemarExact, minMcNemarP, pairedPermutationTest } from '../../stats/index.ts';
import { continuationNll } from '../../metrics/continuation.ts';
import { DEFAULT_MARKERS, locatePositions, type CopyingPrompt, type NameTargets, type PromptSet } from '../../corpus/prompts.ts';
import { type Experiment, type ExperimentRun, OptionError, type RunExtras, splitRunOptions, type SkippedItem, checkContext, checkContextChars, runExperiment } from '../contract.ts';
import { drawMatchedControls } from '../shared/controls.ts';
import { COPYING_SCHEMA_VERSION, copyingRecordSchema, copyingSummarySchema, type CopyingRecord, type CopyingSummary, type GenOutcome, type UnitGroupStats } from './schema.ts';
import { scoreCall } from './score.ts';
import { renderCopying } from './render.ts';

export { COPYING_SCHEMA_VERSION };
export type { CopyingRecord, GenOutcome, UnitGroupStats };

export interface CopyingOptions {
  /** Layer units: each entry is a list of layers knocked out together (e.g. [[0],[1],[0,1,2,3]]). */
  units: number[][];
  /** Matched random-edge control draws per prompt (default 3). */
  controls?: number;
  /** Tokens generated per completion (default 24; stops at the first newline). */
  maxTokens?: number;
  markers?: readonly string[];
  /** Name occurrences knocked out (default 'definition'). */
  targets?: NameTargets;
  /**
   * Steer instead of knocking out: the edited rows' attention mass on the name tokens (controls: on the
   * control keys) is SET to this level in [0, 1] (kind "set"; 0 = knockout up to rounding). Run several
   * levels for a dose-response of the copying rate. Records name the condition (`set(ℓ)`); the outcome field
   * stays `knockout` (= the edited condition).
   */
  level?: number;
  /**
   * Scale instead of knocking out: the edited rows' weights on the name tokens (controls: on the control
   * keys) are multiplied by this factor ≥ 0 and the rows renormalised (kind "scale"), keeping the model's
   * own attention profile across rows. Exclusive with `level`.
   */
  factor?: number;
  /** Query heads edited (default all). */
  heads?: readonly number[];
  /** At most this many prompts per group (default all). */
  limit?: number;
}

export const unitName = (layers: readonly number[]) => (layers.length === 1 ? `L${layers[0]}` : `L${layers.join('+')}`);

function knock(layers: number[], heads: number[], sources: number[], targets: number[], level: number | null, factor: number | null, slidingWindow: number | null): ResolvedEdit {
  const rules = [{ sources, targets }];
  if (level !== null) return { kind: 'set', factor: 1, level, layers, heads, rules, edgesPerLayer: 0, dropped: [], slidingWindow };
  if (factor !== null) return { kind: 'scale', factor, layers, heads, rules, edgesPerLayer: 0, dropped: [], slidingWindow };
  return { kind: 'knockout', factor: 0, layers, heads, rules, edgesPerLayer: 0, dropped: [], slidingWindow };
}

/** The edited condition's name: "knockout", "set(ℓ)" or "scale(f)". */
export function conditionName(level: number | null, factor: number | null): string {
  return level !== null ? `set(${level})` : factor !== null ? `scale(${factor})` : 'knockout';
}

/** Token ids of `prompt + NAME(` when they extend the prompt's ids (no merge across the boundary), else null. */
function callTokens(model: HookedModel, ids: number[], p: CopyingPrompt): number[] | null {
  const full = model.tokenizer!.encode(p.prompt + p.name + '(');
  if (full.length <= ids.length || ids.some((t, i) => full[i] !== t)) return null;
  return full;
}

/**
 * Every condition of one prompt (null = the baseline): generations batched, and — unless full recomputation
 * is on (src/interventions/incremental.ts) — each edited condition's prompt prefill and `NAME(` scoring reuse
 * the baseline's keys/values and residual streams (positions < the marker, layers < the edited ones).
 */
function runAll(model: HookedModel, ids: number[], edits: readonly (ResolvedEdit | null)[], p: CopyingPrompt, maxTokens: number, call: number[] | null): GenOutcome[] {
  const seq = call ?? ids;
  const base = runCondition(model, seq, [], [], ids.length - 1, 1);
  const incremental = !fullRecomputeByDefault();
  const conds = edits.map((e) => ({ hooks: e ? attentionEdit(e) : [], scope: e ? scopeOfEdits([e]) : null }));
  const reqs: GenerateRequest[] = conds.map((c, i) => ({
    promptIds: ids,
    maxTokens,
    hooks: c.hooks,
    stopSequences: ['\n'],
    ...(incremental && edits[i] && c.scope ? { reuse: { state: base.state!, scope: c.scope } } : {}),
  }));
  const gens = generateBatch(model, reqs, { batchSize: 8 });
  // the baseline's own logits score it; edited conditions are recomputed from it
  const scored = call ? runConditionsIncremental(model, base.state!, base, conds.map((c, i) => (edits[i] ? c : { hooks: [], scope: { layer: 0, position: seq.length } }))) : null;
  return gens.map((r, i) => {
    const completion = model.tokenizer!.decode(r.ids, { skipSpecialTokens: true });
    let callLogprob: number | null = null;
    if (call && scored) {
      const nll = continuationNll(scored[i]!.logits.data, model.spec.vocabSize, call, ids.length - 1, call.length - 1);
      callLogprob = -nll.reduce((a, x) => a + x, 0);
    }
    return { completion, ...scoreCall(completion, p.name, p.arity), callLogprob };
  });
}

/** One prompt under baseline, knockout and control conditions for every unit. */
export function copyingRecord(model: HookedModel, p: CopyingPrompt, o: Required<Pick<CopyingOptions, 'units' | 'controls' | 'maxTokens' | 'markers' | 'targets'>> & { seed: number; level?: number | null; factor?: number | null; heads?: readonly number[] | null }): CopyingRecord {
  const level = o.level ?? null;
  const factor = o.factor ?? null;
  const heads = o.heads ? [...o.heads] : Array.from({ length: model.spec.nHeads }, (_, h) => h);
  const win = model.spec.slidingWindow ?? null;
  const pos = locatePositions(model.tokenizer!, p, o.markers, o.targets);
  const sources: number[] = [];
  for (let q = pos.marker; q < pos.ids.length + o.maxTokens; q++) sources.push(q);
  const rng = createRng(o.seed, `copying-control/${p.id}`);
  const call = callTokens(model, pos.ids, p);
  const draws = drawMatchedControls(pos.marker, pos.nameTokens, pos.avoid, o.controls, rng).draws.map((d) => [...d].sort((a, b) => a - b));
  // baseline, then per unit: knockout and its controls — all conditions of the prompt run together
  const edits: (ResolvedEdit | null)[] = [null];
  for (const layers of o.units) {
    edits.push(knock(layers, heads, sources, pos.nameTokens, level, factor, win));
    for (const keys of draws) edits.push(knock(layers, heads, sources, keys, level, factor, win));
  }
  const out = runAll(model, pos.ids, edits, p, o.maxTokens, call);
  const rec: CopyingRecord = {
    key: p.id, id: p.id, group: p.group, name: p.name, condition: conditionName(level, factor), marker: pos.marker, nameTokens: pos.nameTokens,
    baseline: out[0]!,
    units: {},
  };
  let k = 1;
  for (const layers of o.units) {
    const knockout = out[k++]!;
    const controls = draws.map(() => out[k++]!);
    rec.units[unitName(layers)] = { layers, knockout, controls, controlKeys: draws };
  }
  return rec;
}

/** Significance level of the copying summary's `effect`. */
export const COPYING_ALPHA = 0.05;

type Dir = 'lower' | 'higher' | 'none';
const dirOf = (x: number): Dir => (Math.abs(x) < 1e-12 ? 'none' : x < 0 ? 'lower' : 'higher');

/**
 * The smallest Holm-adjusted p this design can reach for one group: `units` tests per family, exact
 * two-sided McNemar on n pairs (2 · 2^−n), and the two-sided paired permutation (2/2^n exact for n ≤ 16,
 * else 1/(B+1) with B = 9999), of which the vs-control family takes the larger.
 */
export function copyingReach(n: number, units: number, alpha = COPYING_ALPHA) {
  const perm = n <= 16 ? 2 / 2 ** n : 1 / 10000;
  const vsBaseline = minMcNemarP(n, units);
  const vsControl = Math.min(1, units * Math.max(2 * 0.5 ** n, perm));
  const logprob = Math.min(1, units * perm);
  return { n, tests: units, alpha, minHolmBaseline: vsBaseline, minHolmControl: vsControl, minHolmLogprob: logprob, reachable: Math.max(vsBaseline, vsControl) < alpha };
}

export function summarizeCopying(records: readonly CopyingRecord[], units: readonly number[][], seed: number, edit: { level?: number | null; factor?: number | null } = {}): UnitGroupStats[] {
  const level = edit.level ?? null;
  const factor = edit.factor ?? null;
  const out: UnitGroupStats[] = [];
  const groups = [...new Set(records.map((r) => r.group))];
  for (const g of groups) {
    const rs = records.filter((r) => r.group === g);
    const rows: UnitGroupStats[] = [];
    for (const layers of units) {
      const u = unitName(layers);
      const b = rs.map((r) => (r.baseline.called ? 1 : 0));
      const k = rs.map((r) => (r.units[u]!.knockout.called ? 1 : 0));
      const c = rs.map((r) => { const cs = r.units[u]!.controls; return cs.length ? cs.filter((x) => x.called).length / cs.length : 0; });
      const c0 = rs.map((r) => (r.units[u]!.controls[0]?.called ? 1 : 0));
      const lost = b.filter((x, i) => x === 1 && k[i] === 0).length;
      const gained = b.filter((x, i) => x === 0 && k[i] === 1).length;
      const lostC = c0.filter((x, i) => x === 1 && k[i] === 0).length;
      const gainedC = c0.filter((x, i) => x === 0 && k[i] === 1).length;
      const diffs = c.map((x, i) => x - k[i]!);
      const perm = diffs.every((d) => d === 0) ? 1 : pairedPermutationTest(diffs, { rng: createRng(seed, `copying-perm/${g}/${u}`), alternative: 'two-sided' }).p;
      const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length);
      rows.push({
        group: g, unit: u, condition: conditionName(level, factor), n: rs.length, rateBaseline: mean(b), rateKnockout: mean(k), rateControl: mean(c),
        discordant: { lost, gained },
        pMcNemarBaseline: mcnemarExact(lost, gained).p, pMcNemarControl: mcnemarExact(lostC, gainedC).p, pPermControl: perm,
        directionBaseline: dirOf(mean(k) - mean(b)), directionControl: dirOf(mean(k) - mean(c)),
        pHolmBaseline: 1, pHolmControl: 1, effect: false,
        ...logprobStats(rs, u, seed, g),
      });
    }
    const hl = holm(rows.map((r) => r.pLogprobControl));
    rows.forEach((r, i) => (r.pHolmLogprob = hl[i] ?? null));
    const hb = holm(rows.map((r) => r.pMcNemarBaseline));
    const hc = holm(rows.map((r) => Math.max(r.pMcNemarControl, r.pPermControl)));
    rows.forEach((r, i) => {
      r.pHolmBaseline = hb[i] ?? 1;
      r.pHolmControl = hc[i] ?? 1;
      // significant both ways and in the same direction vs baseline and vs control (lower or higher)
      r.effect = r.pHolmBaseline < COPYING_ALPHA && r.pHolmControl < COPYING_ALPHA && r.directionBaseline !== 'none' && r.directionBaseline === r.directionControl;
    });
    out.push(...rows);
  }
  return out;
}

function logprobStats(rs: readonly CopyingRecord[], u: string, seed: number, g: string) {
  const ok = rs.filter((r) => r.baseline.callLogprob !== null);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, x) => a + x, 0) / xs.length : null);
  const k = ok.map((r) => r.units[u]!.knockout.callLogprob!);
  const c = ok.map((r) => mean(r.units[u]!.controls.map((x) => x.callLogprob!))!);
  const diffs = c.map((x, i) => x - k[i]!);
  const p = diffs.length === 0 ? null : diffs.every((d) => d === 0) ? 1 : pairedPermutationTest(diffs, { rng: createRng(seed, `copying-logprob/${g}/${u}`), alternative: 'two-sided' }).p;
  const mk = mean(k);
  const mc = mean(c);
  return {
    nLogprob: ok.length,
    logprobBaseline: mean(ok.map((r) => r.baseline.callLogprob!)),
    logprobKnockout: mean(k),
    logprobControl: mean(c),
    pLogprobControl: p,
    directionLogprob: mk === null || mc === null ? null : dirOf(mk - mc),
    pHolmLogprob: null as number | null,
  };
}

type CopyingConfig = Required<Pick<CopyingOptions, 'units' | 'controls' | 'maxTokens' | 'markers' | 'targets'>> & { level: number | null; factor: number | null; heads: number[] | null; limit: number | null };

interface CopyingItem {
  prompt: CopyingPrompt;
  steps: number;
  keys: string[];
}

function checkCopyingOptions(model: HookedModel, opts: CopyingOptions): CopyingConfig {
  if (!model.tokenizer) throw new Error('the copying experiment needs the model tokenizer');
  if (opts.units.length === 0) throw new OptionError('layers', 'selected no layer');
  for (const u of opts.units) for (const l of u) if (!Number.isInteger(l) || l < 0 || l >= model.spec.nLayers) throw new OptionError('layers', `layer ${l} is out of range (the model has layers 0..${model.spec.nLayers - 1})`);
  if (opts.level !== undefined && !(Number.isFinite(opts.level) && opts.level >= 0 && opts.level <= 1)) throw new OptionError('level', `must be an attention mass in [0, 1] (got ${opts.level})`);
  if (opts.factor !== undefined && !(Number.isFinite(opts.factor) && opts.factor >= 0)) throw new OptionError('factor', `must be a finite number ≥ 0 (got ${opts.factor})`);
  if (opts.factor !== undefined && opts.level !== undefined) throw new OptionError('level', 'give level or factor, not both');
  const posInt = (v: number | undefined, d: number, field: string) => {
    const x = v ?? d;
    if (!Number.isInteger(x) || x < 1) throw new OptionError(field, `must be a positive integer (got ${x})`);
    return x;
  };
  const o: CopyingConfig = {
    units: opts.units,
    controls: posInt(opts.controls, 3, 'controls'),
    maxTokens: posInt(opts.maxTokens, 24, 'maxTokens'),
    markers: opts.markers ?? [...DEFAULT_MARKERS],
    targets: opts.targets ?? 'definition',
    level: opts.level ?? null,
    factor: opts.factor ?? null,
    heads: opts.heads ? [...opts.heads] : null,
    limit: opts.limit === undefined ? null : posInt(opts.limit, 1, 'limit'),
  };
  for (const h of o.heads ?? []) if (!Number.isInteger(h) || h < 0 || h >= model.spec.nHeads) throw new OptionError('heads', `head ${h} is out of range (the model has heads 0..${model.spec.nHeads - 1})`);
  return o;
}

/** At most `limit` prompts per group, in input order. */
export function limitPerGroup(prompts: readonly CopyingPrompt[], limit: number | null): CopyingPrompt[] {
  const n = new Map<string, number>();
  return prompts.filter((p) => {
    const k = n.get(p.group) ?? 0;
    n.set(p.group, k + 1);
    return limit === null || k < limit;
  });
}

/**
 * Validates every selected prompt before any work: prompts whose marker or function name cannot be located
 * are skipped (with the reason, reported in the summary); a prompt that with the generated tokens exceeds the
 * model's context is an error (the context rule of src/experiments/contract.ts).
 */
export function planPrompts(model: HookedModel, prompts: readonly CopyingPrompt[], markers: readonly string[], targets: readonly NameTargets[], extraTokens: number) {
  const usable: CopyingPrompt[] = [];
  const skipped: SkippedItem[] = [];
  for (const p of prompts) checkContextChars(model, p.id, p.prompt);
  for (const p of prompts) {
    let ids: number[];
    try {
      ids = targets.map((t) => locatePositions(model.tokenizer!, p, markers, t))[0]!.ids;
    } catch (e) {
      skipped.push({ id: p.id, group: p.group, reason: (e as Error).message });
      continue;
    }
    checkContext(model, p.id, ids.length + extraTokens, extraTokens ? `prompt tokens + ${extraTokens} generated tokens` : 'tokens');
    usable.push(p);
  }
  return { usable, skipped };
}

/** The copying experiment on the contract of src/experiments/contract.ts. */
export const copyingExperiment: Experiment<PromptSet, CopyingOptions, CopyingConfig, CopyingItem, CopyingRecord, CopyingSummary> = {
  name: 'copying',
  schemaVersion: COPYING_SCHEMA_VERSION,
  recomputes: true,
  recordSchema: copyingRecordSchema,
  summarySchema: copyingSummarySchema,
  source: (input) => ({ path: input.path, sha256: input.sha256, nSamples: input.prompts.length }),
  configure(model, _input, opts) {
    const o = checkCopyingOptions(model, opts);
    const settings = { units: o.units, controls: o.controls, maxTokens: o.maxTokens, markers: o.markers, targets: o.targets, limit: o.limit, decoding: 'greedy', edit: o.level !== null ? { set: o.level } : o.factor !== null ? { scale: o.factor } : 'knockout', heads: o.heads ?? 'all' };
    return { config: o, settings };
  },
  plan(model, input, o) {
    const { usable, skipped } = planPrompts(model, limitPerGroup(input.prompts, o.limit), o.markers, [o.targets], o.maxTokens);
    return { items: usable.map((prompt) => ({ prompt, steps: 1, keys: [prompt.id] })), skipped, caveats: [] };
  },
  runItem(item, ctx) {
    const p = item.prompt;
    if (!ctx.has(p.id)) ctx.add(copyingRecord(ctx.model, p, { ...ctx.config, seed: ctx.seed }));
    ctx.tick(p.id);
  },
  summarize: (records, ctx) => {
    const stats = summarizeCopying(records, ctx.config.units, ctx.seed, ctx.config);
    const groups = [...new Set(records.map((r) => r.group))];
    const reach = groups.map((g) => ({ group: g, ...copyingReach(records.filter((r) => r.group === g).length, ctx.config.units.length) }));
    return { stats, skipped: ctx.plan.skipped, reach };
  },
  render: (summary, run) => renderCopying(summary, run),
  orderRecords(records, plan) {
    const m = new Map(records.map((x) => [x.key, x]));
    return plan.items.map((it) => m.get(it.prompt.id)).filter((x): x is CopyingRecord => x !== undefined);
  },
};

export interface CopyingRun extends ExperimentRun<CopyingRecord, CopyingSummary, CopyingConfig> {
  stats: UnitGroupStats[];
}

/** Runs the copying experiment (library entry point): {@link runExperiment} with {@link copyingExperiment}. */
export function runCopying(model: HookedModel, input: PromptSet | readonly CopyingPrompt[], opts: CopyingOptions & RunExtras): CopyingRun {
  const { options, run } = splitRunOptions<CopyingOptions>(opts);
  const set: PromptSet = Array.isArray(input) ? { path: '<memory>', sha256: '', groups: [...new Set((input as CopyingPrompt[]).map((p) => p.group))], selected: null, prompts: [...(input as CopyingPrompt[])] } : (input as PromptSet);
  const r = runExperiment(copyingExperiment, model, set, { ...run, options });
  return { ...r, stats: r.summary?.stats ?? [] };
}
