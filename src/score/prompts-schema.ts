/**
 * Prompt sets for generation experiments and scoring (`prompts/*.json`, docs/scoring.md).
 *
 * A prompts file is a JSON object of groups, `{ "python": [records], "rust": [records], ... }`; any key
 * not starting with `_` is a group (keys starting with `_` are free-form metadata). Each record:
 * - `id`: unique in the file;
 * - `language`: `python` | `rust`;
 * - `name`: the function the generated test should call; `params`: its parameter names, in order;
 * - `category`: a free-form kind (arithmetic, string, ...);
 * - `prompt`: the text up to where the model writes. Python: it ends right after a `>>>` marker (with or
 *   without the following space); Rust: it contains a `#[test]` function and ends inside its body;
 * - `reference`: complete source of the function the generated test runs against (it must define `name`);
 * - `solution` (optional): a hand-written correct completion of `prompt`, used to check that the reference
 *   passes its own test.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const PromptRecordSchema = z
  .object({
    id: z.string().min(1),
    language: z.enum(['python', 'rust']),
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier'),
    params: z.array(z.string().min(1)),
    category: z.string().min(1),
    prompt: z.string().min(1),
    reference: z.string().min(1),
    solution: z.string().optional(),
  })
  .passthrough()
  .superRefine((r, ctx) => {
    if (r.language === 'python' && !/>>> ?$/.test(r.prompt)) {
      ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'a Python prompt must end with a `>>>` marker (optionally followed by one space)' });
    }
    if (r.language === 'rust' && !/^#\[test\]/m.test(r.prompt)) {
      ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'a Rust prompt must contain a `#[test]` function that it ends inside' });
    }
    const def = r.language === 'python' ? new RegExp(`\\bdef\\s+${r.name}\\s*\\(`) : new RegExp(`\\bfn\\s+${r.name}\\b`);
    if (!def.test(r.reference)) ctx.addIssue({ code: 'custom', path: ['reference'], message: `must define the function \`${r.name}\`` });
  });

export type PromptRecord = z.infer<typeof PromptRecordSchema>;

/** A loaded prompts file: its groups and an index by id. */
export interface PromptSet {
  file: string;
  groups: Record<string, PromptRecord[]>;
  byId: Map<string, PromptRecord>;
}

/** A prompts file that cannot be used; the message names the file, the record and the field. */
export class PromptsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromptsError';
  }
}

/** Validates parsed prompts-file JSON (`file` is only used in messages). */
export function parsePrompts(json: unknown, file: string): PromptSet {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new PromptsError(`${file}: a prompts file is a JSON object of groups, { "python": [records], "rust": [records] }`);
  }
  const groups: Record<string, PromptRecord[]> = {};
  const byId = new Map<string, PromptRecord>();
  for (const [g, v] of Object.entries(json)) {
    if (g.startsWith('_')) continue;
    if (!Array.isArray(v)) throw new PromptsError(`${file}: group "${g}" must be an array of prompt records (prefix metadata keys with "_")`);
    groups[g] = v.map((raw, i) => {
      const r = PromptRecordSchema.safeParse(raw);
      if (!r.success) {
        const id = typeof (raw as { id?: unknown })?.id === 'string' ? ` (id "${(raw as { id: string }).id}")` : '';
        const iss = r.error.issues[0]!;
        throw new PromptsError(`${file}: ${g}[${i}]${id}: field "${iss.path.join('.') || '(record)'}": ${iss.message}`);
      }
      if (byId.has(r.data.id)) throw new PromptsError(`${file}: ${g}[${i}]: duplicate id "${r.data.id}"`);
      byId.set(r.data.id, r.data);
      return r.data;
    });
  }
  if (byId.size === 0) throw new PromptsError(`${file}: no prompt records (expected groups such as "python" and "rust")`);
  return { file, groups, byId };
}

/** Reads and validates a prompts file. */
export function loadPrompts(file: string): PromptSet {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PromptsError(`${file}: cannot read the prompts file (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new PromptsError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parsePrompts(json, file);
}
