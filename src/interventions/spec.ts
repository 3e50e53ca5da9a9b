/**
 * Attention-edge intervention specs: the JSON form (zod-validated), validation against a model and a
 * sequence length, and resolution into the concrete form the hooks in `attention.ts` consume.
 *
 * Positions are ABSOLUTE TOKEN POSITIONS (indices into the token sequence, BOS included). An edge
 * (source → target) is the attention weight of query position `source` on key position `target`.
 *
 * JSON form (one spec, or an array of specs applied together):
 * ```json
 * { "kind": "knockout", "layers": "0..4", "heads": "all",
 *   "edges": [{ "sources": [12], "targets": [1, 2, 3] }] }
 * { "kind": "scale", "factor": 0.5, "layers": [1, 3], "heads": [0, 2],
 *   "edges": [{ "sources": "*", "targets": [0] }] }
 * ```
 * - `layers` / `heads`: an integer, a list, an inclusive range `"a..b"`, or `"all"` / `"*"`.
 * - `sources` / `targets`: the same forms; `sources: "*"` = every query position, `targets: "*"` =
 *   every causally visible key of each source (so `targets: "*"` knocks out whole rows).
 * - `kind`: `"knockout"` (score → −∞ before the softmax), `"scale"` with `factor` f ≥ 0 (post-softmax
 *   weight × f, row renormalised over its visible keys), `"amplify"` with `factor` f > 0 (default 2) and
 *   `basis` `"logit"` (default: + ln f on the pre-softmax score, i.e. each selected unnormalised weight × f)
 *   or `"mass"` (the selection's post-softmax mass × f, capped at 1), `"set"` with `level` ℓ ∈ [0, 1]
 *   (steering: the selected edges of each row together get attention mass ℓ, keys listed in `hold` keep
 *   their weights, the other visible keys share the rest in their original proportions), or
 *   `"set-control"` with `level` ℓ (the mass-holding control: the targets receive the mass that set(ℓ) on
 *   the `match` keys would move, the `match` keys keep their weights). See attention.ts / rows.ts.
 *   `"scale(0.5)"`, `"amplify(2)"`, `"set(0.3)"`, `"set-control(0.3)"` are accepted as shorthand; giving the
 *   value both in the shorthand and in `factor` / `level` is an error.
 *   `"set"`, `"set-control"` and `"amplify"` need explicit targets (`targets: "*"` selects the whole row).
 *
 * Masked edges: an explicitly listed pair whose target is in the source's future (target > source), or
 * outside a sliding window, is already masked, so editing it is a no-op. Such edges are never applied
 * silently: {@link validateSpec} reports each one and, by default, treats it as an error; with
 * `onMaskedEdges: 'drop'` they are removed and listed in {@link ResolvedEdit.dropped}. Wildcards never
 * produce masked edges (they expand only to visible pairs).
 *
 * @module
 */
import { z } from 'zod';
import type { ModelSpec } from '../model/spec.ts';
import { knockedOutSelections } from './spec-checks.ts';

/** An index selector: an integer, a non-empty list, an inclusive range "a..b", or "all"/"*". */
export type Selector = number | number[] | string;

const RANGE_RE = /^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$/;
const SELECTOR_HINT = 'expected an integer, a non-empty list of integers, an inclusive range like "0..4", or "all"/"*"';

const SelectorSchema = z.union(
  [
    z.number().int(),
    z.array(z.number().int()).min(1),
    z.string().refine((s) => s === '*' || s === 'all' || RANGE_RE.test(s), { error: SELECTOR_HINT }),
  ],
  { error: SELECTOR_HINT },
);

const EdgeSchema = z.strictObject({
  /** Query (attending) token positions. */
  sources: SelectorSchema,
  /** Key (attended-to) token positions. */
  targets: SelectorSchema,
  /** Kind "set" only: keys whose weights are held fixed (not rescaled) in the edited rows. */
  hold: SelectorSchema.optional(),
  /** Kind "set-control" only: the keys whose set(ℓ) is being controlled for; they keep their weights. */
  match: SelectorSchema.optional(),
});

/** Kinds of attention edit. */
export const EDIT_KINDS = ['knockout', 'scale', 'amplify', 'set', 'set-control'] as const;
/** One kind of attention edit (see the module doc). */
export type EditKind = (typeof EDIT_KINDS)[number];
const KIND_HINT = 'expected "knockout", "scale" (with "factor") or "scale(f)", "amplify" or "amplify(f)", "set" (with "level") or "set(l)", "set-control" (with "level") or "set-control(l)"';
const explicit = (v: Selector | undefined) => v !== undefined && v !== '*' && v !== 'all';

/** Zod schema of one attention-mask spec (see the module doc for the JSON form). */
export const AttentionMaskSpecSchema = z
  .strictObject({
    kind: z.enum(EDIT_KINDS, { error: KIND_HINT }),
    /** scale: post-softmax multiplier ≥ 0; amplify: multiplier > 0 of the unnormalised weight or of the mass (default 2). */
    factor: z.number({ error: 'expected a number' }).optional(),
    /** Attention mass of the selected edges of each row, in [0, 1] (kinds "set" and "set-control"). */
    level: z.number({ error: 'expected a number' }).optional(),
    /** Kind "amplify": `"logit"` (default; + ln factor on the pre-softmax score) or `"mass"` (post-softmax mass × factor, capped at 1). */
    basis: z.enum(['logit', 'mass'], { error: 'expected "logit" or "mass"' }).optional(),
    /** Kinds "set" (with hold) and "set-control": what to do when the level cannot be reached: `"error"` (default) or `"cap"`. */
    onInfeasible: z.enum(['error', 'cap'], { error: 'expected "error" or "cap"' }).optional(),
    layers: SelectorSchema,
    heads: SelectorSchema.optional(),
    edges: z.array(EdgeSchema).min(1, { error: 'expected at least one edge {sources, targets}' }),
    /** Free-form name for reports. */
    label: z.string().optional(),
  })
  .superRefine((s, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (s.kind === 'scale') {
      if (s.factor === undefined) issue(['factor'], 'kind "scale" needs a factor (a number ≥ 0)');
      else if (!Number.isFinite(s.factor) || s.factor < 0) issue(['factor'], `factor must be a finite number ≥ 0 (got ${s.factor})`);
    } else if (s.kind === 'amplify') {
      if (s.factor !== undefined && !(Number.isFinite(s.factor) && s.factor > 0)) issue(['factor'], `amplify factor must be a finite number > 0 (got ${s.factor})`);
    } else if (s.factor !== undefined) issue(['factor'], 'factor is only allowed with kinds "scale" and "amplify"');
    if (s.basis !== undefined && s.kind !== 'amplify') issue(['basis'], 'basis is only allowed with kind "amplify"');
    const setLike = s.kind === 'set' || s.kind === 'set-control';
    if (setLike) {
      if (s.level === undefined) issue(['level'], `kind "${s.kind}" needs a level (the attention mass of the selected edges, a number in [0, 1])`);
      else if (!Number.isFinite(s.level) || s.level < 0 || s.level > 1) issue(['level'], `level must be a number in [0, 1] (attention mass; got ${s.level})`);
    } else if (s.level !== undefined) issue(['level'], 'level is only allowed with kinds "set" and "set-control"');
    if (s.onInfeasible !== undefined && !setLike) issue(['onInfeasible'], 'onInfeasible is only allowed with kinds "set" and "set-control"');
    s.edges.forEach((e, i) => {
      if ((setLike || s.kind === 'amplify') && !explicit(e.targets))
        issue(['edges', i, 'targets'], `kind "${s.kind}" needs explicit targets: "*" selects every visible key, so the row could not be renormalised (use knockout or scale for whole rows)`);
      if (e.hold !== undefined && s.kind !== 'set') issue(['edges', i, 'hold'], 'hold is only allowed with kind "set"');
      if (e.hold !== undefined && !explicit(e.hold)) issue(['edges', i, 'hold'], 'hold needs explicit key positions');
      if (s.kind === 'set-control' && e.match === undefined) issue(['edges', i, 'match'], 'kind "set-control" needs match: the keys whose set(level) this edit controls for (e.g. the function tokens)');
      if (e.match !== undefined && s.kind !== 'set-control') issue(['edges', i, 'match'], 'match is only allowed with kind "set-control"');
      if (e.match !== undefined && !explicit(e.match)) issue(['edges', i, 'match'], 'match needs explicit key positions');
    });
  });

/** One attention-mask spec. */
export type AttentionMaskSpec = z.infer<typeof AttentionMaskSpecSchema>;

/** Error for user-facing spec problems (message lists every problem, one per line). */
export class InterventionSpecError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0]! : `invalid intervention spec:\n  - ${problems.join('\n  - ')}`);
    this.name = 'InterventionSpecError';
  }
}

const SHORTHAND_RE = /^\s*(scale|amplify|set-control|set)\s*\(\s*([^)]*)\s*\)\s*$/;

/**
 * `"scale(0.5)"` → `{ kind: 'scale', factor: 0.5 }`, `"amplify(3)"` → factor 3, `"set(0.3)"` /
 * `"set-control(0.3)"` → level 0.3. A shorthand whose value is also given explicitly (`factor` / `level`)
 * is reported in `problems` (even when the two agree: one value, one place).
 */
function expandKindShorthand(raw: unknown, at: string, problems: string[]): unknown {
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const o = raw as Record<string, unknown>;
    if (typeof o.kind === 'string') {
      const m = SHORTHAND_RE.exec(o.kind);
      if (m) {
        const v = m[2]!.trim() === '' ? NaN : Number(m[2]);
        const field = m[1] === 'scale' || m[1] === 'amplify' ? 'factor' : 'level';
        if (o[field] !== undefined) {
          problems.push(
            `${at}: kind "${o.kind}" and ${field} ${JSON.stringify(o[field])} both give the ${field}; give it once (kind "${m[1]}" with "${field}", or "${m[1]}(${m[2]!.trim()})" alone)`,
          );
          return null;
        }
        return { ...o, kind: m[1], [field]: v };
      }
    }
  }
  return raw;
}

function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let s = prefix;
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return s;
}

/**
 * Parses specs from a JS value (an object or an array of objects). Throws {@link InterventionSpecError}
 * naming every offending field, e.g. `spec[0].edges[1].targets: expected an integer, ...`.
 */
export function parseSpecs(raw: unknown): AttentionMaskSpec[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw new InterventionSpecError(['spec: expected at least one intervention spec']);
  const out: AttentionMaskSpec[] = [];
  const problems: string[] = [];
  list.forEach((item, i) => {
    const expanded = expandKindShorthand(item, `spec[${i}]`, problems);
    if (expanded === null) return;
    const r = AttentionMaskSpecSchema.safeParse(expanded);
    if (r.success) out.push(r.data);
    else for (const iss of r.error.issues) problems.push(`${formatPath(`spec[${i}]`, iss.path)}: ${iss.message}`);
  });
  if (problems.length) throw new InterventionSpecError(problems);
  return out;
}

/** Parses the JSON text of a spec file (`source` names it in errors). Malformed JSON gives a clear error. */
export function parseSpecJson(text: string, source = 'spec'): AttentionMaskSpec[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InterventionSpecError([`${source}: malformed JSON (${(e as Error).message})`]);
  }
  try {
    return parseSpecs(raw);
  } catch (e) {
    if (e instanceof InterventionSpecError) throw new InterventionSpecError(e.problems.map((p) => `${source}: ${p}`));
    throw e;
  }
}

/**
 * Expands a selector to sorted unique integers; `'all'` for "all"/"*". Does not range-check
 * (see {@link validateSpec}). Throws InterventionSpecError on malformed input (e.g. "4..1").
 */
export function expandSelector(sel: Selector, field = 'selector'): number[] | 'all' {
  if (sel === '*' || sel === 'all') return 'all';
  if (typeof sel === 'number') {
    if (!Number.isInteger(sel)) throw new InterventionSpecError([`${field}: ${sel} is not an integer`]);
    return [sel];
  }
  if (Array.isArray(sel)) {
    for (const v of sel) if (!Number.isInteger(v)) throw new InterventionSpecError([`${field}: ${v} is not an integer`]);
    return [...new Set(sel)].sort((a, b) => a - b);
  }
  const m = RANGE_RE.exec(sel);
  if (!m) throw new InterventionSpecError([`${field}: '${sel}' is not valid; ${SELECTOR_HINT}`]);
  const a = Number(m[1]);
  const b = Number(m[2]);
  if (b < a) throw new InterventionSpecError([`${field}: range '${sel}' is empty (end < start)`]);
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

/**
 * Parses a command-line list: "all", "*", "3", "0,2,4", "0..4" or a mix like "0..2,4".
 * Returns sorted unique integers or 'all'.
 */
export function parseListArg(text: string, field: string): number[] | 'all' {
  const t = text.trim();
  if (t === 'all' || t === '*') return 'all';
  const out = new Set<number>();
  for (const part of t.split(',')) {
    const p = part.trim();
    if (/^-?\d+$/.test(p)) out.add(Number(p));
    else if (RANGE_RE.test(p)) for (const v of expandSelector(p, field) as number[]) out.add(v);
    else throw new InterventionSpecError([`${field}: '${text}' is not valid; expected "all", an integer, a list like "0,2" or a range like "0..4"`]);
  }
  if (out.size === 0) throw new InterventionSpecError([`${field}: empty list`]);
  return [...out].sort((a, b) => a - b);
}

/** The model dimensions validation needs. */
export type ModelDims = Pick<ModelSpec, 'nLayers' | 'nHeads' | 'slidingWindow'>;

/** An explicitly listed edge that the causal (or sliding-window) mask already hides. */
export interface MaskedEdge {
  /** Index of the spec in the list. */
  spec: number;
  /** Index of the edge group within the spec. */
  edge: number;
  /** Query token position. */
  source: number;
  /** Key token position. */
  target: number;
  reason: 'future' | 'outside-sliding-window';
}

/** One resolved group of edges: sources × targets, each explicit or "all" (targets "all" = all visible keys). */
export interface EdgeRule {
  sources: number[] | 'all';
  targets: number[] | 'all';
  /** Kind "set": keys whose weights stay as they are (sorted, disjoint from `targets`). */
  hold?: number[];
  /** Kind "set-control": the keys whose set(level) is controlled for (sorted, disjoint from `targets`). */
  match?: number[];
}

/** A validated spec in concrete form (what {@link attentionEdit} turns into hooks). */
export interface ResolvedEdit {
  kind: EditKind;
  /** scale: post-softmax multiplier; amplify: multiplier of the unnormalised weight / mass (knockout has 0 for reference, set 1). */
  factor: number;
  /** Attention mass given to the selected edges of each edited row (set, set-control; null/absent otherwise). */
  level?: number | null;
  /** Kind "amplify": where the factor applies (absent = `'logit'`). */
  basis?: 'logit' | 'mass';
  /** Kinds "set" / "set-control": an unreachable level is an error (absent = `'error'`) or capped. */
  onInfeasible?: 'error' | 'cap';
  /**
   * The model's sliding window, for reports only: the hooks read what is masked from the engine's own
   * pre-softmax scores, so an edit never gives mass to a masked key even when this is absent.
   */
  slidingWindow?: number | null;
  layers: number[];
  /** Query-head indices (GQA: before the KV grouping). */
  heads: number[];
  rules: EdgeRule[];
  /** Edited (head, query, key) triples per layer, counted for a sequence of `seqLen` tokens. */
  edgesPerLayer: number;
  /** Masked edges removed with `onMaskedEdges: 'drop'` (empty otherwise). */
  dropped: MaskedEdge[];
  label?: string;
}

export interface ValidateOptions {
  /** What to do with explicitly listed masked edges: `'error'` (default) or `'drop'` (remove and list). */
  onMaskedEdges?: 'error' | 'drop';
}

/** Result of {@link validateSpec}. */
export interface SpecValidation {
  ok: boolean;
  /** Problems, each naming the field and the value, e.g. `spec[0].layers: layer 99 is out of range (...)`. */
  errors: string[];
  /** Every explicitly listed masked edge (reported in both modes). */
  masked: MaskedEdge[];
  /** Resolved edits when `ok`, else null. */
  resolved: ResolvedEdit[] | null;
}

function visible(dims: ModelDims, q: number, k: number): MaskedEdge['reason'] | null {
  if (k > q) return 'future';
  if (dims.slidingWindow !== null && q - k >= dims.slidingWindow) return 'outside-sliding-window';
  return null;
}

function visibleCount(dims: ModelDims, q: number): number {
  return dims.slidingWindow === null ? q + 1 : Math.min(q + 1, dims.slidingWindow);
}

/**
 * Validates specs against a model and a sequence of `seqLen` tokens (positions 0..seqLen−1) and resolves
 * them. Never throws for user errors: everything is reported in `errors`.
 *
 * @param specs - one spec or several (applied together; order matters only between scales of one layer)
 * @param dims - the model (or its spec): nLayers, nHeads, slidingWindow
 * @param seqLen - number of tokens the edits will see (for generation: the final length)
 */
export function validateSpec(specs: AttentionMaskSpec | readonly AttentionMaskSpec[], dims: ModelDims | { spec: ModelDims }, seqLen: number, opts: ValidateOptions = {}): SpecValidation {
  const d: ModelDims = 'spec' in dims ? dims.spec : dims;
  const list = Array.isArray(specs) ? (specs as AttentionMaskSpec[]) : [specs as AttentionMaskSpec];
  const errors: string[] = [];
  const masked: MaskedEdge[] = [];
  const resolved: ResolvedEdit[] = [];
  const drop = opts.onMaskedEdges === 'drop';
  if (!Number.isInteger(seqLen) || seqLen < 1) errors.push(`sequence length must be a positive integer (got ${seqLen})`);

  list.forEach((spec, si) => {
    const at = `spec[${si}]`;
    const sel = (v: Selector, field: string): number[] | 'all' | null => {
      try {
        return expandSelector(v, `${at}.${field}`);
      } catch (e) {
        errors.push((e as Error).message);
        return null;
      }
    };
    const check = (vals: number[] | 'all' | null, field: string, what: string, n: number, hint: string) => {
      if (vals === null || vals === 'all') return;
      for (const v of vals) if (v < 0 || v >= n) errors.push(`${at}.${field}: ${what} ${v} is out of range (${hint})`);
    };
    const nErr = errors.length;
    if (spec.kind === 'scale' && (spec.factor === undefined || !Number.isFinite(spec.factor) || spec.factor < 0)) {
      errors.push(`${at}.factor: must be a finite number ≥ 0 for kind "scale" (got ${spec.factor})`);
    }
    if (spec.kind === 'amplify' && spec.factor !== undefined && !(Number.isFinite(spec.factor) && spec.factor > 0)) {
      errors.push(`${at}.factor: must be a finite number > 0 for kind "amplify" (got ${spec.factor})`);
    }
    const setLike = spec.kind === 'set' || spec.kind === 'set-control';
    if (setLike && (spec.level === undefined || !Number.isFinite(spec.level) || spec.level < 0 || spec.level > 1)) {
      errors.push(`${at}.level: must be a number in [0, 1] for kind "${spec.kind}" (got ${spec.level})`);
    }
    if (setLike || spec.kind === 'amplify') spec.edges.forEach((e, ei) => {
      if (e.targets === '*' || e.targets === 'all') errors.push(`${at}.edges[${ei}].targets: kind "${spec.kind}" needs explicit targets ("*" selects the whole row)`);
    });
    if (spec.kind === 'set-control') spec.edges.forEach((e, ei) => {
      if (e.match === undefined) errors.push(`${at}.edges[${ei}].match: kind "set-control" needs match (the keys whose set(level) it controls for)`);
    });
    const layers = sel(spec.layers, 'layers');
    check(layers, 'layers', 'layer', d.nLayers, `the model has layers 0..${d.nLayers - 1}`);
    const heads = sel(spec.heads ?? 'all', 'heads');
    check(heads, 'heads', 'head', d.nHeads, `the model has heads 0..${d.nHeads - 1}`);
    const rules: EdgeRule[] = [];
    const dropped: MaskedEdge[] = [];
    spec.edges.forEach((e, ei) => {
      const src = sel(e.sources, `edges[${ei}].sources`);
      const tgt = sel(e.targets, `edges[${ei}].targets`);
      const posHint = `the sequence has token positions 0..${seqLen - 1}`;
      check(src, `edges[${ei}].sources`, 'position', seqLen, posHint);
      check(tgt, `edges[${ei}].targets`, 'position', seqLen, posHint);
      const extra: Pick<EdgeRule, 'hold' | 'match'> = {};
      for (const f of ['hold', 'match'] as const) {
        if (e[f] === undefined) continue;
        const v = sel(e[f]!, `edges[${ei}].${f}`);
        check(v, `edges[${ei}].${f}`, 'position', seqLen, posHint);
        if (v === null || v === 'all') continue;
        if (tgt !== null && tgt !== 'all') {
          const both = v.filter((k) => tgt.includes(k));
          if (both.length) errors.push(`${at}.edges[${ei}].${f}: position${both.length > 1 ? 's' : ''} ${both.join(', ')} also in targets; ${f} keys must be disjoint from the targets`);
        }
        extra[f] = v;
      }
      if (src === null || tgt === null) return;
      if (src === 'all' || tgt === 'all') {
        rules.push({ sources: src, targets: tgt, ...extra });
        return;
      }
      // explicit × explicit: split per source, keeping only visible pairs; report the rest
      for (const q of src) {
        const keep: number[] = [];
        for (const k of tgt) {
          const why = visible(d, q, k);
          if (why) {
            const m: MaskedEdge = { spec: si, edge: ei, source: q, target: k, reason: why };
            masked.push(m);
            dropped.push(m);
          } else keep.push(k);
        }
        if (keep.length) rules.push({ sources: [q], targets: keep, ...extra });
      }
    });
    if (errors.length > nErr || layers === null || heads === null) return;
    const L = layers === 'all' ? range(d.nLayers) : layers;
    const H = heads === 'all' ? range(d.nHeads) : heads;
    resolved.push({
      kind: spec.kind,
      factor: spec.kind === 'scale' ? spec.factor! : spec.kind === 'amplify' ? (spec.factor ?? 2) : spec.kind === 'knockout' ? 0 : 1,
      level: setLike ? spec.level! : null,
      ...(spec.kind === 'amplify' ? { basis: spec.basis ?? 'logit' } : {}),
      ...(setLike ? { onInfeasible: spec.onInfeasible ?? 'error' } : {}),
      slidingWindow: d.slidingWindow,
      layers: L,
      heads: H,
      rules: mergeRules(rules),
      edgesPerLayer: H.length * countPairs(rules, d, seqLen),
      dropped: drop ? dropped : [],
      ...(spec.label !== undefined ? { label: spec.label } : {}),
    });
  });

  if (!drop) {
    for (const m of masked) {
      errors.push(
        `spec[${m.spec}].edges[${m.edge}]: edge ${m.source}→${m.target} is ${m.reason === 'future' ? `to a future token (source ${m.source} < target ${m.target})` : 'outside the sliding window'}; ` +
          `the causal mask already hides it, so editing it would be a no-op. Remove it, or drop such edges explicitly (onMaskedEdges: 'drop' / --drop-future-edges) to have them listed in the result`,
      );
    }
  }
  if (errors.length === 0) errors.push(...knockedOutSelections(resolved)); // resolved[i] is spec i when there are no errors
  const ok = errors.length === 0;
  return { ok, errors, masked, resolved: ok ? resolved : null };
}

/** Like {@link validateSpec} but throws {@link InterventionSpecError} listing every problem. */
export function resolveSpecs(specs: AttentionMaskSpec | readonly AttentionMaskSpec[], dims: ModelDims | { spec: ModelDims }, seqLen: number, opts: ValidateOptions = {}): ResolvedEdit[] {
  const v = validateSpec(specs, dims, seqLen, opts);
  if (!v.ok) throw new InterventionSpecError(v.errors);
  return v.resolved!;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Merges per-source explicit rules that share a source (keeps wildcard rules as they are). */
function mergeRules(rules: EdgeRule[]): EdgeRule[] {
  const bySource = new Map<number, { targets: Set<number>; hold?: Set<number>; match?: Set<number> }>();
  const out: EdgeRule[] = [];
  for (const r of rules) {
    if (r.sources !== 'all' && r.sources.length === 1 && r.targets !== 'all') {
      const q = r.sources[0]!;
      let s = bySource.get(q);
      if (!s) bySource.set(q, (s = { targets: new Set() }));
      for (const k of r.targets) s.targets.add(k);
      for (const f of ['hold', 'match'] as const) if (r[f]) for (const k of r[f]!) (s[f] ??= new Set()).add(k);
    } else out.push(r);
  }
  const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
  for (const [q, s] of [...bySource].sort((a, b) => a[0] - b[0]))
    out.push({ sources: [q], targets: sorted(s.targets), ...(s.hold ? { hold: sorted(s.hold) } : {}), ...(s.match ? { match: sorted(s.match) } : {}) });
  return out;
}

/** Number of distinct visible (query, key) pairs the rules select in a sequence of `seqLen` tokens. */
function countPairs(rules: EdgeRule[], d: ModelDims, seqLen: number): number {
  const rows = new Map<number, Set<number> | 'all'>();
  for (let q = 0; q < seqLen; q++) {
    for (const r of rules) {
      if (r.sources !== 'all' && !r.sources.includes(q)) continue;
      const cur = rows.get(q);
      if (cur === 'all') continue;
      if (r.targets === 'all') {
        rows.set(q, 'all');
        continue;
      }
      const s = cur ?? new Set<number>();
      for (const k of r.targets) if (!visible(d, q, k)) s.add(k);
      if (s.size) rows.set(q, s);
    }
  }
  let n = 0;
  for (const [q, s] of rows) n += s === 'all' ? visibleCount(d, q) : s.size;
  return n;
}
