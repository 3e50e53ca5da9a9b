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
 *   weight × f, row renormalised over its visible keys), or `"set"` with `level` ℓ ∈ [0, 1] (steering: the
 *   selected edges of each row together get attention mass ℓ, the other visible keys share 1 − ℓ in their
 *   original proportions; see attention.ts). `"scale(0.5)"` / `"set(0.3)"` are accepted as shorthand.
 *   `"set"` needs explicit targets (`targets: "*"` would select the whole row).
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
});

/** Zod schema of one attention-mask spec (see the module doc for the JSON form). */
export const AttentionMaskSpecSchema = z
  .strictObject({
    kind: z.enum(['knockout', 'scale', 'set'], { error: 'expected "knockout", "scale" (with "factor"), "scale(f)", "set" (with "level") or "set(l)"' }),
    factor: z.number({ error: 'expected a number' }).optional(),
    /** Attention mass of the selected edges of each row, in [0, 1] (kind "set" only). */
    level: z.number({ error: 'expected a number' }).optional(),
    layers: SelectorSchema,
    heads: SelectorSchema.optional(),
    edges: z.array(EdgeSchema).min(1, { error: 'expected at least one edge {sources, targets}' }),
    /** Free-form name for reports. */
    label: z.string().optional(),
  })
  .superRefine((s, ctx) => {
    if (s.kind === 'scale') {
      if (s.factor === undefined) ctx.addIssue({ code: 'custom', path: ['factor'], message: 'kind "scale" needs a factor (a number ≥ 0)' });
      else if (!Number.isFinite(s.factor) || s.factor < 0) ctx.addIssue({ code: 'custom', path: ['factor'], message: `factor must be a finite number ≥ 0 (got ${s.factor})` });
    } else if (s.factor !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['factor'], message: 'factor is only allowed with kind "scale"' });
    }
    if (s.kind === 'set') {
      if (s.level === undefined) ctx.addIssue({ code: 'custom', path: ['level'], message: 'kind "set" needs a level (the attention mass of the selected edges, a number in [0, 1])' });
      else if (!Number.isFinite(s.level) || s.level < 0 || s.level > 1) ctx.addIssue({ code: 'custom', path: ['level'], message: `level must be a number in [0, 1] (attention mass; got ${s.level})` });
      s.edges.forEach((e, i) => {
        if (e.targets === '*' || e.targets === 'all')
          ctx.addIssue({ code: 'custom', path: ['edges', i, 'targets'], message: 'kind "set" needs explicit targets: "*" selects every visible key, so the row could not be renormalised (use knockout or scale for whole rows)' });
      });
    } else if (s.level !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['level'], message: 'level is only allowed with kind "set"' });
    }
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

/** `"scale(0.5)"` → `{ kind: 'scale', factor: 0.5 }`; `"set(0.3)"` → `{ kind: 'set', level: 0.3 }`. */
function expandKindShorthand(raw: unknown): unknown {
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const o = raw as Record<string, unknown>;
    if (typeof o.kind === 'string') {
      const m = /^\s*(scale|set)\s*\(\s*([^)]*)\s*\)\s*$/.exec(o.kind);
      if (m) {
        const v = m[2]!.trim() === '' ? NaN : Number(m[2]);
        return m[1] === 'scale' ? { ...o, kind: 'scale', factor: v } : { ...o, kind: 'set', level: v };
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
    const r = AttentionMaskSpecSchema.safeParse(expandKindShorthand(item));
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
}

/** A validated spec in concrete form (what {@link attentionEdit} turns into hooks). */
export interface ResolvedEdit {
  kind: 'knockout' | 'scale' | 'set';
  /** Post-softmax multiplier (scale only; knockout has 0 for reference, set 1). */
  factor: number;
  /** Attention mass given to the selected edges of each edited row (set only; null/absent otherwise). */
  level?: number | null;
  /** The model's sliding window (keys with q − k ≥ window are masked); null/absent = none. */
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
    if (spec.kind === 'set' && (spec.level === undefined || !Number.isFinite(spec.level) || spec.level < 0 || spec.level > 1)) {
      errors.push(`${at}.level: must be a number in [0, 1] for kind "set" (got ${spec.level})`);
    }
    if (spec.kind === 'set') spec.edges.forEach((e, ei) => {
      if (e.targets === '*' || e.targets === 'all') errors.push(`${at}.edges[${ei}].targets: kind "set" needs explicit targets ("*" selects the whole row)`);
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
      if (src === null || tgt === null) return;
      if (src === 'all' || tgt === 'all') {
        rules.push({ sources: src, targets: tgt });
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
        if (keep.length) rules.push({ sources: [q], targets: keep });
      }
    });
    if (errors.length > nErr || layers === null || heads === null) return;
    const L = layers === 'all' ? range(d.nLayers) : layers;
    const H = heads === 'all' ? range(d.nHeads) : heads;
    resolved.push({
      kind: spec.kind,
      factor: spec.kind === 'scale' ? spec.factor! : spec.kind === 'set' ? 1 : 0,
      level: spec.kind === 'set' ? spec.level! : null,
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
  const bySource = new Map<number, Set<number>>();
  const out: EdgeRule[] = [];
  for (const r of rules) {
    if (r.sources !== 'all' && r.sources.length === 1 && r.targets !== 'all') {
      const q = r.sources[0]!;
      let s = bySource.get(q);
      if (!s) bySource.set(q, (s = new Set()));
      for (const k of r.targets) s.add(k);
    } else out.push(r);
  }
  for (const [q, s] of [...bySource].sort((a, b) => a[0] - b[0])) out.push({ sources: [q], targets: [...s].sort((a, b) => a - b) });
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
