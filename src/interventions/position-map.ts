/**
 * Semantic position maps between a DONOR prompt (e.g. Python with a doctest marker) and a RECIPIENT prompt
 * (e.g. Rust with `#[test]`) of the same function, for transplanting attention patterns (transplant.ts) or
 * activations across languages whose token counts differ. A map is plain data (zod schema
 * {@link SemanticPositionMapSchema}), serialisable and meant to be stored with the results.
 *
 * Regions, found from the prompts' structure with tree-sitter (src/corpus/resolve.ts `findFunctions`) and
 * the tokenizer's code-point offsets:
 * - `marker`: the marker's characters (last occurrence; default `>>>` for Python, `#[test]` for Rust);
 * - `def`: the `def` / `fn` keyword; `name`: the function name; `param` i: the i-th parameter's name
 *   (first identifier of the parameter: `a` in `a: i32`, `self` in `&self`).
 * The function is the one named in `function`, else the nearest non-test function starting before the
 * marker.
 *
 * Tokens: a token belongs to the region that holds most of its characters (ties: the earlier region in the
 * order marker, def, name, params); tokens with empty spans (BOS) belong to none. Only the characters
 * inside the region count.
 *
 * KEY map (`keys`), region by region (marker ↔ marker, def ↔ fn, name ↔ name, param i ↔ param i by order,
 * extra parameters unmapped): the region's tokens split [0, 1] by their share of the region's characters,
 * donor token i covering [P_i, P_{i+1}), recipient token j covering [Q_j, Q_{j+1}). Donor token i sends the
 * fraction weight(i → j) = |[P_i, P_{i+1}) ∩ [Q_j, Q_{j+1})| / (P_{i+1} − P_i) of its attention weight to
 * recipient token j (weights of one donor token sum to 1; equal token counts with equal shares give the
 * identity). Recipient keys without an entry are UNMAPPED (they keep the recipient's own weights).
 *
 * QUERY map (`queries`): each recipient marker token j takes the donor marker token whose interval holds
 * the midpoint of [Q_j, Q_{j+1}); the last recipient marker token always takes the last donor marker token
 * (the position where the next token is predicted).
 *
 * All positions are absolute token positions (indices into the encoding's ids, BOS included).
 *
 * @module
 */
import { z } from 'zod';
import { findFunctions, type FunctionSignature } from '../corpus/resolve.ts';
import type { CorpusLanguage } from '../corpus/schema.ts';
import { codePointToUtf16, utf16ToCodePoint } from '../tokenize/positions.ts';
import type { PlipTokenizer } from '../tokenize/types.ts';

/** Region kinds of a semantic position map entry. */
export const POSITION_MAP_KINDS = ['marker', 'def', 'name', 'param'] as const;
export type PositionMapKind = (typeof POSITION_MAP_KINDS)[number];

const pos = z.number().int().nonnegative();

const SideSchema = z.strictObject({
  language: z.enum(['python', 'rust']),
  /** Number of tokens of the prompt (BOS included). */
  nTokens: z.number().int().positive(),
  /** The function the map is built around. */
  function: z.string(),
  /** The marker text and its code-point span in the prompt. */
  marker: z.strictObject({ text: z.string(), start: pos, end: pos }),
  /** Token positions of each region (params: one list per parameter, in order). */
  regions: z.strictObject({ marker: z.array(pos), def: z.array(pos), name: z.array(pos), params: z.array(z.array(pos)) }),
});

/** One key-map entry: `weight` of the donor key's attention weight goes to the recipient key. */
const KeyEntrySchema = z.strictObject({
  kind: z.enum(POSITION_MAP_KINDS),
  /** Parameter index for kind "param", else null. */
  param: z.number().int().nonnegative().nullable(),
  donor: pos,
  recipient: pos,
  weight: z.number().gt(0).max(1 + 1e-9),
});

/** Zod schema of a semantic position map (see the module doc). */
export const SemanticPositionMapSchema = z.strictObject({
  version: z.literal(1),
  donor: SideSchema,
  recipient: SideSchema,
  keys: z.array(KeyEntrySchema),
  /** Recipient query rows that take a donor row (the marker region). */
  queries: z.array(z.strictObject({ recipient: pos, donor: pos })),
});

export type SemanticPositionMap = z.infer<typeof SemanticPositionMapSchema>;
export type SemanticKeyEntry = z.infer<typeof KeyEntrySchema>;

/** One prompt of a pair. Character positions are never given: they are found in the text. */
export interface PromptStructure {
  language: CorpusLanguage;
  /** The prompt text exactly as it is tokenized. */
  text: string;
  /** Marker text (default `>>>` for Python, `#[test]` for Rust); its LAST occurrence is used. */
  marker?: string;
  /** Name of the function to map (default: the nearest non-test function starting before the marker). */
  function?: string;
}

const DEFAULT_MARKER: Record<CorpusLanguage, string> = { python: '>>>', rust: '#[test]' };
/** Closings tried when a truncated prompt does not parse into a function (positions before them are unchanged). */
const CLOSINGS: Record<CorpusLanguage, string[]> = { python: ['', '"""\n', "'''\n", '\n    pass\n'], rust: ['', '\n}\n', '\n}\n}\n'] };
const IDENT = /^[\p{L}\p{N}_]+/u;

type Span = [number, number];

interface Side {
  nTokens: number;
  fn: FunctionSignature;
  marker: { text: string; start: number; end: number };
  /** Region spans in code points: marker, def, name, param 0.. */
  spans: Span[];
  /** Per region: token positions and their character counts inside the region. */
  tokens: { pos: number[]; chars: number[] }[];
}

async function analyse(p: PromptStructure, tok: PlipTokenizer, role: 'donor' | 'recipient'): Promise<Side> {
  const markerText = p.marker ?? DEFAULT_MARKER[p.language];
  const mu = p.text.lastIndexOf(markerText);
  if (markerText === '' || mu < 0) throw new Error(`${role} prompt: marker ${JSON.stringify(markerText)} does not occur in the text (give marker)`);
  const mStart = utf16ToCodePoint(p.text, mu);
  const mEnd = utf16ToCodePoint(p.text, mu + markerText.length);
  let fn: FunctionSignature | undefined;
  let found: string[] = [];
  for (const closing of CLOSINGS[p.language]) {
    const fns = (await findFunctions(p.text + closing, p.language)).filter((f) => f.keywordPos < mStart);
    found = fns.map((f) => f.name);
    fn = p.function !== undefined ? fns.find((f) => f.name === p.function) : fns.filter((f) => !f.isTest).sort((a, b) => b.start - a.start)[0];
    if (fn) break;
  }
  if (!fn) {
    const what = p.function !== undefined ? `no ${p.language} function named '${p.function}' before the marker (found: ${found.join(', ') || 'none'})` : `no ${p.language} function definition before the marker`;
    throw new Error(`${role} prompt: ${what}`);
  }
  const kwLen = p.language === 'python' ? 3 : 2;
  const spans: Span[] = [
    [mStart, mEnd],
    [fn.keywordPos, fn.keywordPos + kwLen],
    [fn.namePos, fn.nameEnd],
  ];
  for (const pp of fn.paramPositions) {
    const u = codePointToUtf16(p.text, pp);
    const m = IDENT.exec(p.text.slice(u));
    spans.push([pp, m ? utf16ToCodePoint(p.text, u + m[0].length) : pp + 1]);
  }
  const enc = tok.encodeWithOffsets(p.text);
  const tokens = spans.map(() => ({ pos: [] as number[], chars: [] as number[] }));
  enc.offsets.forEach(([s, e], i) => {
    if (e <= s) return;
    let best = -1;
    let bestN = 0;
    spans.forEach(([a, b], r) => {
      const n = Math.min(e, b) - Math.max(s, a);
      if (n > bestN) {
        best = r;
        bestN = n;
      }
    });
    if (best >= 0) {
      tokens[best]!.pos.push(i);
      tokens[best]!.chars.push(bestN);
    }
  });
  const names = ['marker', 'def', 'name'];
  tokens.forEach((t, r) => {
    if (t.pos.length === 0) throw new Error(`${role} prompt: no token covers the ${r < 3 ? names[r] : `parameter ${r - 3}`} of '${fn!.name}' (characters ${spans[r]![0]}..${spans[r]![1]}); a neighbouring region took its tokens`);
  });
  return { nTokens: enc.ids.length, fn, marker: { text: markerText, start: mStart, end: mEnd }, spans, tokens };
}

/** Cumulative shares [0, …, 1] of a region's tokens. */
function cuts(chars: number[]): number[] {
  const total = chars.reduce((a, b) => a + b, 0);
  const out = [0];
  let c = 0;
  for (const n of chars) out.push((c += n) / total);
  out[out.length - 1] = 1;
  return out;
}

/**
 * Proportional map of one region: donor token i → recipient token j with the share of i's interval that
 * overlaps j's (see the module doc). Returned as [donor index, recipient index, weight].
 */
export function proportionalRegionMap(donorChars: readonly number[], recipientChars: readonly number[]): [number, number, number][] {
  const P = cuts([...donorChars]);
  const Q = cuts([...recipientChars]);
  const out: [number, number, number][] = [];
  for (let i = 0; i < donorChars.length; i++)
    for (let j = 0; j < recipientChars.length; j++) {
      const ov = Math.min(P[i + 1]!, Q[j + 1]!) - Math.max(P[i]!, Q[j]!);
      if (ov > 1e-12) out.push([i, j, ov / (P[i + 1]! - P[i]!)]);
    }
  return out;
}

function side(s: Side, language: CorpusLanguage): SemanticPositionMap['donor'] {
  return {
    language,
    nTokens: s.nTokens,
    function: s.fn.name,
    marker: s.marker,
    regions: { marker: s.tokens[0]!.pos, def: s.tokens[1]!.pos, name: s.tokens[2]!.pos, params: s.tokens.slice(3).map((t) => t.pos) },
  };
}

/**
 * Builds the semantic position map of a donor / recipient prompt pair (see the module doc).
 *
 * @param tokenizer - the model's tokenizer (the same one for both prompts; offsets in code points)
 * @throws Error naming the prompt (donor / recipient) when the marker or the function is missing, or a
 *   region has no token of its own
 */
export async function buildSemanticPositionMap(donor: PromptStructure, recipient: PromptStructure, tokenizer: PlipTokenizer): Promise<SemanticPositionMap> {
  const d = await analyse(donor, tokenizer, 'donor');
  const r = await analyse(recipient, tokenizer, 'recipient');
  const keys: SemanticKeyEntry[] = [];
  const nRegions = Math.min(d.tokens.length, r.tokens.length); // marker, def, name, then params by order
  for (let g = 0; g < nRegions; g++) {
    const kind: PositionMapKind = g === 0 ? 'marker' : g === 1 ? 'def' : g === 2 ? 'name' : 'param';
    const dt = d.tokens[g]!;
    const rt = r.tokens[g]!;
    for (const [i, j, w] of proportionalRegionMap(dt.chars, rt.chars)) keys.push({ kind, param: kind === 'param' ? g - 3 : null, donor: dt.pos[i]!, recipient: rt.pos[j]!, weight: w });
  }
  const dm = d.tokens[0]!;
  const rm = r.tokens[0]!;
  const P = cuts(dm.chars);
  const Q = cuts(rm.chars);
  const queries = rm.pos.map((rp, j) => {
    const mid = (Q[j]! + Q[j + 1]!) / 2;
    let i = 0;
    while (i < dm.pos.length - 1 && P[i + 1]! <= mid) i++;
    return { recipient: rp, donor: j === rm.pos.length - 1 ? dm.pos[dm.pos.length - 1]! : dm.pos[i]! };
  });
  return SemanticPositionMapSchema.parse({ version: 1, donor: side(d, donor.language), recipient: side(r, recipient.language), keys, queries });
}

/**
 * Validates a stored map (e.g. read back from a results file) and checks it against the two prompts'
 * token counts. Throws naming the first offending field.
 */
export function parseSemanticPositionMap(raw: unknown, donorLen?: number, recipientLen?: number): SemanticPositionMap {
  const r = SemanticPositionMapSchema.safeParse(raw);
  if (!r.success) {
    const iss = r.error.issues[0]!;
    throw new Error(`position map: ${iss.path.map(String).join('.') || '(root)'}: ${iss.message}`);
  }
  const m = r.data;
  const dl = donorLen ?? m.donor.nTokens;
  const rl = recipientLen ?? m.recipient.nTokens;
  if (donorLen !== undefined && donorLen !== m.donor.nTokens) throw new Error(`position map: built for a donor of ${m.donor.nTokens} tokens, used with ${donorLen}`);
  if (recipientLen !== undefined && recipientLen !== m.recipient.nTokens) throw new Error(`position map: built for a recipient of ${m.recipient.nTokens} tokens, used with ${recipientLen}`);
  m.keys.forEach((e, i) => {
    if (e.donor >= dl) throw new Error(`position map: keys[${i}].donor ${e.donor} is out of range (the donor has token positions 0..${dl - 1})`);
    if (e.recipient >= rl) throw new Error(`position map: keys[${i}].recipient ${e.recipient} is out of range (the recipient has token positions 0..${rl - 1})`);
  });
  m.queries.forEach((q, i) => {
    if (q.donor >= dl) throw new Error(`position map: queries[${i}].donor ${q.donor} is out of range (the donor has token positions 0..${dl - 1})`);
    if (q.recipient >= rl) throw new Error(`position map: queries[${i}].recipient ${q.recipient} is out of range (the recipient has token positions 0..${rl - 1})`);
  });
  return m;
}

/**
 * Recipient → donor one-to-one map of the same aligned positions, for `patchActivation` (value transplant
 * vs pattern transplant): every mapped recipient key takes the donor key that sends it the largest weight
 * (the earlier donor position on a tie); marker query rows take their query-map donor.
 */
export function activationPositionMap(map: SemanticPositionMap): Map<number, number> {
  const best = new Map<number, { donor: number; w: number }>();
  for (const e of map.keys) {
    const b = best.get(e.recipient);
    if (!b || e.weight > b.w + 1e-12 || (Math.abs(e.weight - b.w) <= 1e-12 && e.donor < b.donor)) best.set(e.recipient, { donor: e.donor, w: e.weight });
  }
  const out = new Map<number, number>();
  for (const [r, b] of [...best].sort((a, c) => a[0] - c[0])) out.set(r, b.donor);
  for (const q of map.queries) out.set(q.recipient, q.donor);
  return out;
}
