/**
 * Prompts for the copying experiment and the scoring of generated tests.
 *
 * A prompt file is a JSON object whose array-valued keys are groups (keys starting with '_' and
 * non-array values are metadata), each item `{ id, name, prompt, arity? }`: `prompt` ends where the
 * model should write the test's call (e.g. right after `>>> ` or `assert_eq!(`), and `name` is the
 * function the test should call. training/eval/eval_prompts.json is in this format.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { PlipTokenizer } from '../tokenize/types.ts';
import { tokensInCharRange, utf16ToCodePoint } from '../tokenize/positions.ts';
import { stripBom } from './load.ts';

export const copyingItemSchema = z.object({
  id: z.string().min(1),
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier'),
  prompt: z.string().min(1),
  arity: z.number().int().min(0).optional(),
});

export interface CopyingPrompt {
  id: string;
  group: string;
  name: string;
  prompt: string;
  arity: number | null;
}

/** A `groups` entry the prompt set does not have (`field` = 'groups'). */
export class UnknownGroupError extends Error {
  readonly field = 'groups';
  constructor(
    readonly group: string,
    readonly detail: string,
  ) {
    super(`groups: ${detail}`);
    this.name = 'UnknownGroupError';
  }
}

/** A loaded prompt set (the input of `plip copying` and `plip patch`). */
export interface PromptSet {
  /** File it was read from and its sha256 (provenance). */
  path: string;
  sha256: string;
  /** Groups kept, in file order. */
  groups: string[];
  /** The groups asked for (null: all). */
  selected: string[] | null;
  prompts: CopyingPrompt[];
}

/**
 * Loads a prompt set, keeping only `groups` when given (unknown groups are errors naming the field).
 * @throws Error naming the file, group, item and field; for an empty set
 */
export function loadPromptSet(path: string, groups?: readonly string[]): PromptSet {
  const prompts = loadCopyingPrompts(path);
  const known = [...new Set(prompts.map((p) => p.group))];
  if (groups) for (const g of groups) if (!known.includes(g)) throw new UnknownGroupError(g, `unknown group '${g}' (${path} has: ${known.join(', ')})`);
  const keep = groups ? prompts.filter((p) => groups.includes(p.group)) : prompts;
  return { path, sha256: createHash('sha256').update(readFileSync(path)).digest('hex'), groups: groups ? known.filter((g) => groups.includes(g)) : known, selected: groups ? [...groups] : null, prompts: keep };
}

/** Loads a prompts file; errors name the file, group, item index/id and field. */
export function loadCopyingPrompts(path: string): CopyingPrompt[] {
  let raw: unknown;
  try {
    raw = JSON.parse(stripBom(readFileSync(path, 'utf8')));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${path}: ${code === 'ENOENT' ? 'file not found' : code ? `cannot read (${code})` : `malformed JSON (${(e as Error).message})`}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${path}: expected an object of groups { "group": [ {id, name, prompt}, … ] }`);
  const out: CopyingPrompt[] = [];
  const ids = new Set<string>();
  for (const [group, items] of Object.entries(raw)) {
    if (group.startsWith('_') || !Array.isArray(items)) continue;
    items.forEach((item, i) => {
      const r = copyingItemSchema.safeParse(item);
      if (!r.success) {
        const iss = r.error.issues[0]!;
        const id = (item as { id?: unknown })?.id;
        throw new Error(`${path}: ${group}[${i}]${typeof id === 'string' ? ` (id '${id}')` : ''}: field '${iss.path.join('.') || '(item)'}' ${iss.message}`);
      }
      if (ids.has(r.data.id)) throw new Error(`${path}: ${group}[${i}]: duplicate id '${r.data.id}'`);
      ids.add(r.data.id);
      out.push({ id: r.data.id, group, name: r.data.name, prompt: r.data.prompt, arity: r.data.arity ?? null });
    });
  }
  if (out.length === 0) throw new Error(`${path}: no prompts (every group is empty or there is no group); expected { "group": [ {id, name, prompt}, … ] }`);
  return out;
}

export const DEFAULT_MARKERS = ['>>>', '#[test]'] as const;

/** Token positions of one prompt: the marker (last occurrence of any marker pattern) and the function-name tokens. */
export interface CopyingPositions {
  ids: number[];
  /** Token index of the marker (first token overlapping the last marker occurrence). */
  marker: number;
  markerText: string;
  /**
   * Token indices overlapping the function name: in its definition (`def NAME` / `fn NAME`, else its first
   * occurrence), or with `which = 'all'` every occurrence in the prompt (some may follow the marker).
   */
  nameTokens: number[];
  /** Tokens to avoid as controls: marker tokens, BOS/special tokens. */
  avoid: number[];
}

/**
 * Which occurrences of the function name are knocked out: only its definition (`def NAME` / `fn NAME`),
 * or every occurrence in the prompt, e.g. also inside `fn test_NAME()` (a second copy the test can read).
 */
export type NameTargets = 'definition' | 'all';

export function locatePositions(tok: PlipTokenizer, p: CopyingPrompt, markers: readonly string[], which: NameTargets = 'definition'): CopyingPositions {
  const enc = tok.encodeWithOffsets(p.prompt);
  let mStart = -1;
  let mText = '';
  for (const m of markers) {
    const i = p.prompt.lastIndexOf(m);
    if (i > mStart) {
      mStart = i;
      mText = m;
    }
  }
  if (mStart < 0) throw new Error(`prompt '${p.id}': none of the markers ${markers.map((m) => JSON.stringify(m)).join(', ')} occurs in the prompt`);
  const def = new RegExp(`\\b(?:def|fn)\\s+${p.name}\\b`).exec(p.prompt);
  const nStart = def ? def.index + def[0].length - p.name.length : p.prompt.indexOf(p.name);
  if (nStart < 0 || nStart > mStart) throw new Error(`prompt '${p.id}': function name '${p.name}' does not occur before the marker`);
  const cp = (i: number) => utf16ToCodePoint(p.prompt, i);
  const markerToks = tokensInCharRange(enc, cp(mStart), cp(mStart + mText.length));
  let nameTokens = tokensInCharRange(enc, cp(nStart), cp(nStart + p.name.length));
  if (which === 'all') {
    const all = new Set<number>();
    // every occurrence not inside a longer identifier part, e.g. `add`, `test_add`, but not `address`
    for (const m of p.prompt.matchAll(new RegExp(`(?<![A-Za-z0-9])${p.name}(?![A-Za-z0-9])`, 'g'))) {
      for (const t of tokensInCharRange(enc, cp(m.index), cp(m.index + p.name.length))) all.add(t);
    }
    nameTokens = [...all].sort((a, b) => a - b);
  }
  if (markerToks.length === 0 || nameTokens.length === 0) throw new Error(`prompt '${p.id}': marker or name maps to no token`);
  const marker = markerToks[0]!;
  const avoid = [...markerToks, ...enc.special.flatMap((s, i) => (s ? [i] : []))];
  return { ids: enc.ids, marker, markerText: mText, nameTokens: which === 'all' ? nameTokens : nameTokens.filter((t) => t < marker), avoid };
}
