/**
 * The study's prompt sets: `data.prompts.python` and `data.prompts.rust` name files of
 * `{ "python": [records], "rust": [records] }` (they may be the same file); each phase takes the
 * group of its language from the file named for that language.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const studyPromptSchema = z.object({
  id: z.string().min(1),
  language: z.enum(['python', 'rust']),
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier'),
  params: z.array(z.string()),
  category: z.string().min(1),
  prompt: z.string().min(1),
  reference: z.string().min(1),
});
export type StudyPrompt = z.infer<typeof studyPromptSchema>;

function readGroup(path: string, lang: 'python' | 'rust'): StudyPrompt[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8').replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new Error(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'prompts file not found' : `malformed JSON (${(e as Error).message})`}`);
  }
  const group = (raw as Record<string, unknown> | null)?.[lang];
  if (!Array.isArray(group)) throw new Error(`${path}: no "${lang}" array (a prompts file is { "python": [records], "rust": [records] })`);
  if (group.length === 0) throw new Error(`${path}: the "${lang}" group is empty`);
  const ids = new Set<string>();
  return group.map((item, i) => {
    const r = studyPromptSchema.safeParse(item);
    if (!r.success) {
      const is = r.error.issues[0]!;
      throw new Error(`${path}: ${lang}[${i}]${(item as { id?: unknown })?.id ? ` (id '${String((item as { id: unknown }).id)}')` : ''}.${is.path.join('.')}: ${is.message}`);
    }
    if (r.data.language !== lang) throw new Error(`${path}: ${lang}[${i}] (id '${r.data.id}').language is '${r.data.language}'`);
    if (ids.has(r.data.id)) throw new Error(`${path}: ${lang}[${i}]: duplicate id '${r.data.id}'`);
    ids.add(r.data.id);
    return r.data;
  });
}

/** Both prompt groups of a study, validated. */
export function loadStudyPrompts(paths: { python: string; rust: string }): { python: StudyPrompt[]; rust: StudyPrompt[] } {
  return { python: readGroup(paths.python, 'python'), rust: readGroup(paths.rust, 'rust') };
}
