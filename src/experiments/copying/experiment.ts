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
 * with `factor` a scaling of those weights (kind "scale", rows renormalised).
 * Scoring: the first completion line calls `name(` (+ top-level argument count vs arity).
 * Statistics per group × unit: exact McNemar (binomial on discordant pairs) baseline vs knockout and
 * knockout vs first control draw, one-sided "knockout copies less"; a paired permutation test of
 * (mean control rate − knockout) per prompt; Holm across units within each group.
 */
import binomialTest from '@stdlib/stats-binomial-test';
import type { HookedModel } from '../model/model.ts';
import { generate } from '../generate/generate.ts';
import { attentionEdit } from '../interventions/attention.ts';
import type { ResolvedEdit } from '../interventions/spec.ts';
import { createRng, holm, pairedPermutationTest } from '../stats/index.ts';
import { ResultsStore, modelProvenance, sha256File, type Provenance } from '../report/results.ts';
import { drawControls } from './knockout-samples.ts';
import { continuationNll } from '../metrics/continuation.ts';
import { locatePositions, scoreCall, type CallScore, type CopyingPrompt, type NameTargets } from './copying-prompts.ts';

export const COPYING_SCHEMA_VERSION = 1;

export interface CopyingOptions {
  /** Layer units: each entry is a list of layers knocked out together (e.g. [[0],[1],[0,1,2,3]]). */
  units: number[][];
  controls?: number;
  maxTokens?: number;
  seed?: number;
  markers?: readonly string[];
  /** Name occurrences knocked out (default 'definition'). */
  targets?: NameTargets;
  /**
   * Steer instead of knocking out: the edited rows' attention mass on the name tokens (controls: on the
   * control keys) is SET to this level in [0, 1] (kind "set"; 0 = knockout up to rounding). Run several
   * levels for a dose-response of the copying rate. The record field stays `knockout` (= the edited condition).
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
  limit?: number;
  out?: string;
  promptsPath?: string;
  restart?: boolean;
  argv?: string[];
  onProgress?: (done: number, total: number, id: string) => void;
}

export interface GenOutcome extends CallScore {
  completion: string;
  /**
   * Teacher-forced log-probability (nats) of the true call `NAME(` right after the prompt, summed over its
   * tokens, under the same condition; null when `prompt + NAME(` does not tokenize as prompt tokens + more.
   */
  callLogprob: number | null;
}

export interface CopyingRecord {
  key: string;
  id: string;
  group: string;
  name: string;
  marker: number;
  nameTokens: number[];
  baseline: GenOutcome;
  units: Record<string, { layers: number[]; knockout: GenOutcome; controls: GenOutcome[]; controlKeys: number[][] }>;
}

export interface UnitGroupStats {
  group: string;
  unit: string;
  n: number;
  rateBaseline: number;
  rateKnockout: number;
  rateControl: number;
  /** Prompts copied at baseline but not under knockout, and the reverse. */
  discordant: { lost: number; gained: number };
  pMcNemarBaseline: number;
  pMcNemarControl: number;
  pPermControl: number;
  pHolmBaseline: number;
  pHolmControl: number;
  /** knockout lowers copying vs baseline AND vs control (both Holm p < 0.05). */
  effect: boolean;
  /** Prompts with a teacher-forced call log-probability. */
  nLogprob: number;
  /** Mean log p(NAME( | prompt) in nats: baseline, knockout, control (mean over draws). */
  logprobBaseline: number | null;
  logprobKnockout: number | null;
  logprobControl: number | null;
  /** One-sided paired permutation p: control log-prob > knockout log-prob (Holm across units in pHolmLogprob). */
  pLogprobControl: number | null;
  pHolmLogprob: number | null;
}

export const unitName = (layers: readonly number[]) => (layers.length === 1 ? `L${layers[0]}` : `L${layers.join('+')}`);

function knock(layers: number[], heads: number[], sources: number[], targets: number[], level: number | null, factor: number | null = null): ResolvedEdit {
  const rules = [{ sources, targets }];
  if (level !== null) return { kind: 'set', factor: 1, level, layers, heads, rules, edgesPerLayer: 0, dropped: [] };
  if (factor !== null) return { kind: 'scale', factor, layers, heads, rules, edgesPerLayer: 0, dropped: [] };
  return { kind: 'knockout', factor: 0, layers, heads, rules, edgesPerLayer: 0, dropped: [] };
}

/** Token ids of `prompt + NAME(` when they extend the prompt's ids (no merge across the boundary), else null. */
function callTokens(model: HookedModel, ids: number[], p: CopyingPrompt): number[] | null {
  const full = model.tokenizer!.encode(p.prompt + p.name + '(');
  if (full.length <= ids.length || ids.some((t, i) => full[i] !== t)) return null;
  return full;
}

function run(model: HookedModel, ids: number[], edit: ResolvedEdit | null, p: CopyingPrompt, maxTokens: number, call: number[] | null): GenOutcome {
  const hooks = edit ? attentionEdit(edit) : [];
  const r = generate(model, ids, { maxTokens, hooks, stopSequences: ['\n'] });
  const completion = model.tokenizer!.decode(r.ids, { skipSpecialTokens: true });
  let callLogprob: number | null = null;
  if (call) {
    const { logits } = model.forward(call, { hooks });
    const nll = continuationNll(logits!.data, model.spec.vocabSize, call, ids.length - 1, call.length - 1);
    callLogprob = -nll.reduce((a, x) => a + x, 0);
  }
  return { completion, ...scoreCall(completion, p.name, p.arity), callLogprob };
}

/** One prompt under baseline, knockout and control conditions for every unit. */
export function copyingRecord(model: HookedModel, p: CopyingPrompt, o: Required<Pick<CopyingOptions, 'units' | 'controls' | 'maxTokens' | 'seed' | 'markers' | 'targets'>> & { level?: number | null; factor?: number | null; heads?: readonly number[] | null }): CopyingRecord {
  const level = o.level ?? null;
  const factor = o.factor ?? null;
  const heads = o.heads ? [...o.heads] : Array.from({ length: model.spec.nHeads }, (_, h) => h);
  const pos = locatePositions(model.tokenizer!, p, o.markers, o.targets);
  const sources: number[] = [];
  for (let q = pos.marker; q < pos.ids.length + o.maxTokens; q++) sources.push(q);
  const rng = createRng(o.seed, `copying-control/${p.id}`);
  const call = callTokens(model, pos.ids, p);
  const { draws } = drawControls({ marker: { token: pos.marker }, targets: pos.nameTokens, markerTokens: pos.avoid, excluded: new Set<number>() }, o.controls, rng);
  const rec: CopyingRecord = {
    key: p.id, id: p.id, group: p.group, name: p.name, marker: pos.marker, nameTokens: pos.nameTokens,
    baseline: run(model, pos.ids, null, p, o.maxTokens, call),
    units: {},
  };
  for (const layers of o.units) {
    rec.units[unitName(layers)] = {
      layers,
      knockout: run(model, pos.ids, knock(layers, heads, sources, pos.nameTokens, level, factor), p, o.maxTokens, call),
      controls: draws.map((keys) => run(model, pos.ids, knock(layers, heads, sources, keys, level, factor), p, o.maxTokens, call)),
      controlKeys: draws,
    };
  }
  return rec;
}

/** One-sided exact McNemar: P(X ≥ lost | lost + gained, ½); 1 when there is no discordant pair. */
function mcnemar(lost: number, gained: number): number {
  const n = lost + gained;
  if (n === 0) return 1;
  return binomialTest(lost, n, { p: 0.5, alternative: 'greater' }).pValue;
}

export function summarizeCopying(records: readonly CopyingRecord[], units: readonly number[][], seed: number): UnitGroupStats[] {
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
      const perm = diffs.every((d) => d === 0) ? 1 : pairedPermutationTest(diffs, { rng: createRng(seed, `copying-perm/${g}/${u}`), alternative: 'greater' }).p;
      const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length);
      rows.push({
        group: g, unit: u, n: rs.length, rateBaseline: mean(b), rateKnockout: mean(k), rateControl: mean(c),
        discordant: { lost, gained },
        pMcNemarBaseline: mcnemar(lost, gained), pMcNemarControl: mcnemar(lostC, gainedC), pPermControl: perm,
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
      r.effect = r.pHolmBaseline < 0.05 && r.pHolmControl < 0.05 && r.rateKnockout < r.rateControl;
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
  const p = diffs.length === 0 ? null : diffs.every((d) => d === 0) ? 1 : pairedPermutationTest(diffs, { rng: createRng(seed, `copying-logprob/${g}/${u}`), alternative: 'greater' }).p;
  return {
    nLogprob: ok.length,
    logprobBaseline: mean(ok.map((r) => r.baseline.callLogprob!)),
    logprobKnockout: mean(k),
    logprobControl: mean(c),
    pLogprobControl: p,
    pHolmLogprob: null as number | null,
  };
}

export interface CopyingRun {
  header: Provenance;
  records: CopyingRecord[];
  stats: UnitGroupStats[];
  resumed: number;
}

export function runCopying(model: HookedModel, prompts: readonly CopyingPrompt[], opts: CopyingOptions): CopyingRun {
  if (!model.tokenizer) throw new Error('the copying experiment needs the model tokenizer');
  if (opts.units.length === 0) throw new Error('--layers selected no layer');
  for (const u of opts.units) for (const l of u) if (!Number.isInteger(l) || l < 0 || l >= model.spec.nLayers) throw new Error(`layer ${l} is out of range (the model has layers 0..${model.spec.nLayers - 1})`);
  if (opts.level !== undefined && !(Number.isFinite(opts.level) && opts.level >= 0 && opts.level <= 1)) throw new Error(`--level must be an attention mass in [0, 1] (got ${opts.level})`);
  if (opts.factor !== undefined && !(Number.isFinite(opts.factor) && opts.factor >= 0)) throw new Error(`--factor must be a finite number ≥ 0 (got ${opts.factor})`);
  if (opts.factor !== undefined && opts.level !== undefined) throw new Error('give --level or --factor, not both');
  const o = { units: opts.units, controls: opts.controls ?? 3, maxTokens: opts.maxTokens ?? 24, seed: opts.seed ?? 0, markers: opts.markers ?? ['>>>', '#[test]'], targets: opts.targets ?? ('definition' as const), level: opts.level ?? null, factor: opts.factor ?? null, heads: opts.heads ? [...opts.heads] : null };
  for (const h of o.heads ?? []) if (!Number.isInteger(h) || h < 0 || h >= model.spec.nHeads) throw new Error(`--heads: head ${h} is out of range (the model has heads 0..${model.spec.nHeads - 1})`);
  const byGroup = new Map<string, CopyingPrompt[]>();
  for (const p of prompts) byGroup.set(p.group, [...(byGroup.get(p.group) ?? []), p]);
  const chosen = [...byGroup.values()].flatMap((ps) => (opts.limit ? ps.slice(0, opts.limit) : ps));
  const header: Provenance = {
    tool: { name: 'plip-ts', version: '0.1.0' }, experiment: 'copying', schemaVersion: COPYING_SCHEMA_VERSION,
    model: modelProvenance(model),
    corpus: opts.promptsPath ? { path: opts.promptsPath, sha256: sha256File(opts.promptsPath), nSamples: chosen.length } : undefined,
    settings: { units: o.units, controls: o.controls, maxTokens: o.maxTokens, markers: o.markers, targets: o.targets, limit: opts.limit ?? null, decoding: 'greedy', edit: o.level !== null ? { set: o.level } : o.factor !== null ? { scale: o.factor } : 'knockout', heads: o.heads ?? 'all' },
    seed: o.seed, argv: opts.argv, startedAt: new Date().toISOString(),
  };
  const store = opts.out ? new ResultsStore<CopyingRecord>(opts.out, header, { restart: opts.restart }) : null;
  const records: CopyingRecord[] = [];
  chosen.forEach((p, i) => {
    const rec = store?.get(p.id) ?? copyingRecord(model, p, o);
    if (store && !store.has(p.id)) store.add(rec);
    records.push(rec);
    opts.onProgress?.(i + 1, chosen.length, p.id);
  });
  const stats = summarizeCopying(records, o.units, o.seed);
  store?.finish({ stats });
  return { header, records, stats, resumed: store?.resumed ?? 0 };
}
