/**
 * Activation and attention-pattern patching with a name swap (causal tracing): WHERE does the model carry
 * the function's name to the position that writes the test's call?
 *
 * Pairs: for each copying prompt (recipient, function NAME = A) a donor is the same prompt with every
 * occurrence of A (also inside `test_A`) replaced by another held-out name B of the same group, chosen (seeded stream
 * `patch/donor/<id>`) so that the donor tokenizes to the same length with differences only inside A's
 * tokens (so the position map is the identity) and B's first token differs from A's.
 *
 * Metric at the prompt's last position P (where the call's first token is predicted):
 *   LD = logit[A₁] − logit[B₁]   (A₁, B₁: first tokens of the two names)
 *   effect = (LD_recipient − LD_patched) / (LD_recipient − LD_donor)  — 0 = no transfer, 1 = full transfer.
 * Pairs with |LD_recipient − LD_donor| < `minGap` nats are excluded (noted), so the ratio is well defined.
 *
 * Conditions (each one forward pass of the recipient with donor tensors transplanted, patching.ts):
 *   resid_pre L / resid_post L × position class:
 *     name   — tokens of every occurrence of the name,   marker — the marker token .. P,   other — the rest;
 *   z L.h — one head's attention output (hook_z) at P;
 *   pattern L — the donor's attention pattern of layer L (all rows, all heads) through the identity map.
 * Statistics per group × condition: mean effect with a bootstrap 95% CI (pairs resampled), median, two-sided
 * Wilcoxon signed-rank vs 0, Holm across the group's conditions.
 *
 * @module
 */
import type { HookedModel } from '../../model/model.ts';
import { identityMap, patchActivation, patchPattern } from '../../interventions/patch.ts';
import { runCondition } from '../../interventions/forward.ts';
import { runConditionsIncremental, scopeOfActivationPatch, scopeOfPatternPatch, type IncrementalCondition } from '../../interventions/incremental.ts';
import { bootstrapCI1, createRng, holm, median, wilcoxonSignedRank } from '../../stats/index.ts';
import { DEFAULT_MARKERS, locatePositions, type CopyingPrompt, type PromptSet } from '../../corpus/prompts.ts';
import { type Experiment, type ExperimentRun, OptionError, type RunExtras, splitRunOptions, runExperiment } from '../contract.ts';
import { limitPerGroup, planPrompts } from '../copying/experiment.ts';
import { PATCH_SCHEMA_VERSION, patchRecordSchema, patchSummarySchema, type PatchConditionStats, type PatchRecord, type PatchSummary } from './schema.ts';
import { renderPatch } from './render.ts';

export { PATCH_SCHEMA_VERSION };
export type { PatchConditionStats, PatchRecord, PatchSummary };

export interface PatchOptions {
  /** Layers to patch (default all). */
  layers?: readonly number[];
  /** Per-head hook_z conditions at P (default true). */
  heads?: boolean;
  /** At most this many prompts per group. */
  limit?: number;
  /** Minimum |LD_recipient − LD_donor| in nats for a pair to count (default 1). */
  minGap?: number;
  nBoot?: number;
  markers?: readonly string[];
}

export interface PatchPair {
  id: string;
  group: string;
  nameA: string;
  nameB: string;
  recipient: number[];
  donor: number[];
  /** Position classes (token positions, BOS included). */
  classes: { name: number[]; marker: number[]; other: number[] };
  a1: number;
  b1: number;
}




function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Builds the name-swap pair of `p` (null with a reason when no donor name fits). */
export function makePair(model: HookedModel, p: CopyingPrompt, pool: readonly CopyingPrompt[], seed: number, markers: readonly string[]): PatchPair | { reason: string } {
  const tok = model.tokenizer!;
  const pos = locatePositions(tok, p, markers, 'all');
  const def = locatePositions(tok, p, markers, 'definition');
  const ids = pos.ids;
  const nameSet = new Set(pos.nameTokens);
  const rng = createRng(seed, `patch/donor/${p.id}`);
  const cands = pool.filter((q) => q.group === p.group && q.name !== p.name && !p.prompt.includes(q.name));
  for (let i = cands.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [cands[i], cands[j]] = [cands[j]!, cands[i]!];
  }
  // the same occurrences as locatePositions(…, 'all'), including `test_NAME`
  const re = new RegExp(`(?<![A-Za-z0-9])${escapeRe(p.name)}(?![A-Za-z0-9])`, 'g');
  for (const q of cands) {
    const donor = tok.encode(p.prompt.replace(re, q.name));
    if (donor.length !== ids.length) continue;
    let ok = true;
    for (let i = 0; i < ids.length && ok; i++) if (ids[i] !== donor[i] && !nameSet.has(i)) ok = false;
    const first = def.nameTokens[0]!;
    if (!ok || ids[first] === donor[first]) continue;
    const P = ids.length - 1;
    const marker = Array.from({ length: P - pos.marker + 1 }, (_, i) => pos.marker + i).filter((t) => !nameSet.has(t));
    const taken = new Set([...nameSet, ...marker]);
    const other = ids.map((_, i) => i).filter((i) => !taken.has(i));
    return { id: p.id, group: p.group, nameA: p.name, nameB: q.name, recipient: ids, donor, classes: { name: [...nameSet], marker, other }, a1: ids[first]!, b1: donor[first]! };
  }
  return { reason: `no donor name of group ${p.group} gives a same-length tokenization differing only inside the name (${cands.length} tried)` };
}

/** The condition ids of a run, in order. */
export function patchConditions(model: HookedModel, o: PatchOptions): string[] {
  const layers = o.layers ?? Array.from({ length: model.spec.nLayers }, (_, l) => l);
  const out: string[] = [];
  for (const hook of ['resid_pre', 'resid_post']) for (const l of layers) for (const c of ['name', 'marker', 'other']) out.push(`${hook} L${l} ${c}`);
  if (o.heads !== false) for (const l of layers) for (let h = 0; h < model.spec.nHeads; h++) out.push(`z L${l}.h${h} last`);
  for (const l of layers) out.push(`pattern L${l}`);
  return out;
}

function measurePair(model: HookedModel, pair: PatchPair, conds: string[], minGap: number): PatchRecord {
  const ld = (row: ArrayLike<number>) => row[pair.a1]! - row[pair.b1]!;
  const names = new Set<string>();
  for (const c of conds) {
    const m = /^(resid_pre|resid_post|z|pattern) L(\d+)/.exec(c)!;
    names.add(m[1] === 'pattern' ? `blocks.${m[2]}.attn.hook_pattern` : m[1] === 'z' ? `blocks.${m[2]}.attn.hook_z` : `blocks.${m[2]}.hook_${m[1]}`);
  }
  const donorRun = model.runWithCache(pair.donor, { names: [...names] }, { logits: 'last' });
  const P = pair.recipient.length - 1;
  const V = model.spec.vocabSize;
  // the recipient's baseline keeps its K/V and residual streams: each patch recomputes only what it changes
  const baseline = runCondition(model, pair.recipient, [], [], P, 1);
  const atP = (logits: Float32Array) => logits.subarray(P * V, (P + 1) * V);
  const ldR = ld(atP(baseline.logits.data));
  const ldD = ld(donorRun.logits!.data);
  const base = { key: pair.id, id: pair.id, group: pair.group, nameA: pair.nameA, nameB: pair.nameB, nTokens: pair.recipient.length, classes: pair.classes, ldRecipient: ldR, ldDonor: ldD };
  if (!(Math.abs(ldR - ldD) >= minGap)) return { ...base, status: 'excluded', reason: `|LD_recipient − LD_donor| = ${Math.abs(ldR - ldD).toFixed(3)} nats < ${minGap}: the names are not distinguished at P` };
  const map = identityMap(pair.recipient.length);
  const run: { c: string; cond: IncrementalCondition }[] = [];
  for (const c of conds) {
    const m = /^(resid_pre|resid_post|z|pattern) L(\d+)(?:\.h(\d+))?(?: (\w+))?$/.exec(c)!;
    const L = Number(m[2]);
    if (m[1] === 'pattern') {
      const pp = { layer: L, donor: donorRun.cache.get(`blocks.${L}.attn.hook_pattern`), positions: map, slidingWindow: model.spec.slidingWindow };
      run.push({ c, cond: { hooks: [patchPattern(pp)], scope: scopeOfPatternPatch(pp) } });
    } else {
      const cls = m[1] === 'z' ? [P] : pair.classes[m[4] as keyof PatchPair['classes']];
      if (cls.length === 0) continue;
      const name = m[1] === 'z' ? `blocks.${L}.attn.hook_z` : `blocks.${L}.hook_${m[1]}`;
      const ap = { hook: name, donor: donorRun.cache.get(name), positions: new Map(cls.map((t) => [t, t])), heads: m[1] === 'z' ? [Number(m[3])] : undefined };
      run.push({ c, cond: { hooks: [patchActivation(ap)], scope: scopeOfActivationPatch(ap, model.spec.nLayers, baseline.state) } });
    }
  }
  const outs = runConditionsIncremental(model, baseline.state!, baseline, run.map((r) => r.cond));
  const effects: Record<string, { ld: number; effect: number }> = {};
  run.forEach(({ c }, i) => {
    const v = ld(outs[i]!.row(P));
    effects[c] = { ld: v, effect: (ldR - v) / (ldR - ldD) };
  });
  return { ...base, status: 'ok', effects };
}

interface PatchConfig {
  layers: number[];
  heads: boolean;
  limit: number | null;
  minGap: number;
  nBoot: number;
  markers: readonly string[];
  conditions: string[];
}

interface PatchItem {
  prompt: CopyingPrompt;
  pool: readonly CopyingPrompt[];
  steps: number;
  keys: string[];
}

/** The name-swap patching experiment on the contract of src/experiments/contract.ts. */
export const patchExperiment: Experiment<PromptSet, PatchOptions, PatchConfig, PatchItem, PatchRecord, PatchSummary> = {
  name: 'patch',
  schemaVersion: PATCH_SCHEMA_VERSION,
  recomputes: true,
  recordSchema: patchRecordSchema,
  summarySchema: patchSummarySchema,
  source: (input) => ({ path: input.path, sha256: input.sha256, nSamples: input.prompts.length }),
  configure(model, input, o) {
    if (!model.tokenizer) throw new Error(`model ${model.info.id} has no tokenizer; patching tokenizes the prompts`);
    for (const l of o.layers ?? []) if (!Number.isInteger(l) || l < 0 || l >= model.spec.nLayers) throw new OptionError('layers', `layer ${l} is out of range (the model has layers 0..${model.spec.nLayers - 1})`);
    const minGap = o.minGap ?? 1;
    if (!(minGap > 0)) throw new OptionError('minGap', `must be > 0 nats (got ${minGap})`);
    if (o.limit !== undefined && !(Number.isInteger(o.limit) && o.limit >= 1)) throw new OptionError('limit', `must be a positive integer (got ${o.limit})`);
    const layers = o.layers ? [...o.layers] : Array.from({ length: model.spec.nLayers }, (_, l) => l);
    const conditions = patchConditions(model, o);
    const cfg: PatchConfig = { layers, heads: o.heads !== false, limit: o.limit ?? null, minGap, nBoot: o.nBoot ?? 2000, markers: o.markers ?? [...DEFAULT_MARKERS], conditions };
    return { config: cfg, settings: { layers: cfg.layers, heads: cfg.heads, limit: o.limit, minGap: o.minGap, groups: input.selected?.join(',') ?? null, conditions } };
  },
  plan(model, input, cfg) {
    // both name-occurrence sets are located for every pair (makePair)
    const { usable, skipped } = planPrompts(model, limitPerGroup(input.prompts, cfg.limit), cfg.markers, ['all', 'definition'], 0);
    return { items: usable.map((prompt) => ({ prompt, pool: input.prompts, steps: 1, keys: [prompt.id] })), skipped, caveats: [] };
  },
  runItem(item, ctx) {
    const p = item.prompt;
    if (!ctx.has(p.id)) {
      const pair = makePair(ctx.model, p, item.pool, ctx.seed, ctx.config.markers);
      ctx.add('reason' in pair ? { key: p.id, id: p.id, group: p.group, status: 'no_donor', reason: pair.reason } : measurePair(ctx.model, pair, ctx.config.conditions, ctx.config.minGap));
    }
    ctx.tick(p.id);
  },
  summarize(records, ctx) {
    const s = summarizePatching(records, ctx.config.conditions, ctx.config.nBoot, ctx.seed);
    // prompts that could not be used are reported with the pairs left out
    return { ...s, excluded: [...ctx.plan.skipped, ...s.excluded] };
  },
  render: (summary, run) => renderPatch(summary, run),
};

export interface PatchRun extends ExperimentRun<PatchRecord, PatchSummary, PatchConfig> {
  summary: PatchSummary;
  conditions: string[];
}

/** Runs the name-swap patching experiment (library entry point): {@link runExperiment} with {@link patchExperiment}. */
export function runPatching(model: HookedModel, input: PromptSet | readonly CopyingPrompt[], opts: PatchOptions & RunExtras = {}): PatchRun {
  const { options, run } = splitRunOptions<PatchOptions>(opts);
  const set: PromptSet = Array.isArray(input) ? { path: '<memory>', sha256: '', groups: [...new Set((input as CopyingPrompt[]).map((p) => p.group))], selected: null, prompts: [...(input as CopyingPrompt[])] } : (input as PromptSet);
  const r = runExperiment(patchExperiment, model, set, { ...run, options });
  return { ...r, summary: r.summary!, conditions: r.config.conditions };
}

/** Per group × condition statistics of the normalised effect. */
export function summarizePatching(records: readonly PatchRecord[], conds: readonly string[], nBoot: number, seed: number): PatchSummary {
  const ok = records.filter((r) => r.status === 'ok');
  const groups = [...new Set(ok.map((r) => r.group))];
  const out: PatchConditionStats[] = [];
  for (const g of groups) {
    const mine: PatchConditionStats[] = [];
    for (const c of conds) {
      const xs = ok.filter((r) => r.group === g && r.effects![c] !== undefined).map((r) => r.effects![c]!.effect);
      if (!xs.length) continue;
      let p: number | null = null;
      if (xs.some((x) => x !== 0)) {
        try {
          p = wilcoxonSignedRank(xs, { alternative: 'two-sided' }).p;
        } catch {
          p = null;
        }
      } else p = 1;
      const ci = xs.length >= 2 ? bootstrapCI1(xs, (x) => x.reduce((s, v) => s + v, 0) / x.length, { rng: createRng(seed, `patch/bootstrap/${g}/${c}`), nBoot, level: 0.95 }) : null;
      mine.push({ group: g, condition: c, n: xs.length, meanEffect: xs.reduce((s, v) => s + v, 0) / xs.length, ci: ci ? { lo: ci.lo, hi: ci.hi } : null, medianEffect: median(xs), p, pHolm: null });
    }
    const adj = holm(mine.map((m) => m.p));
    mine.forEach((m, i) => (m.pHolm = adj[i] ?? null));
    out.push(...mine);
  }
  return {
    nPairs: ok.length,
    excluded: records.filter((r) => r.status !== 'ok').map((r) => ({ id: r.id, group: r.group, reason: r.reason ?? r.status })),
    conditions: out,
    correction: 'Holm across the conditions of each group (two-sided Wilcoxon signed-rank of the effect vs 0)',
    reach: groups.map((g) => patchReach(g, Math.max(0, ...out.filter((m) => m.group === g).map((m) => m.n)), out.filter((m) => m.group === g).length)),
  };
}

/** Significance level the patch summary's reachability is stated for. */
export const PATCH_ALPHA = 0.05;

/** Smallest Holm-adjusted p of a group's family: exact two-sided Wilcoxon 2/2^n × the number of conditions. */
export function patchReach(group: string, n: number, tests: number, alpha = PATCH_ALPHA) {
  const minP = n > 0 ? Math.min(1, tests * 2 * 2 ** -n) : 1;
  return { group, n, tests, alpha, minP, reachable: minP < alpha };
}
