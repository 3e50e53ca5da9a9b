/**
 * The study's prompt sets: `data.prompts.python` and `data.prompts.rust` name prompts files (the format of
 * src/score/prompts-schema.ts, `{ "python": [records], "rust": [records] }`; they may be the same file);
 * each phase takes the group of its language from the file named for that language.
 *
 * @module
 */
import { loadPrompts, type PromptRecord } from '../score/prompts-schema.ts';

/** One prompt record (id, language, name, params, category, prompt, reference). */
export type StudyPrompt = PromptRecord;

function readGroup(path: string, lang: 'python' | 'rust'): StudyPrompt[] {
  const set = loadPrompts(path);
  const group = set.groups[lang];
  if (!group) throw new Error(`${path}: no "${lang}" group (groups: ${Object.keys(set.groups).join(', ')})`);
  if (group.length === 0) throw new Error(`${path}: the "${lang}" group is empty`);
  group.forEach((r, i) => {
    if (r.language !== lang) throw new Error(`${path}: ${lang}[${i}] (id "${r.id}"): field "language" is "${r.language}" in the "${lang}" group`);
  });
  return group;
}

/** Both prompt groups of a study, validated. */
export function loadStudyPrompts(paths: { python: string; rust: string }): { python: StudyPrompt[]; rust: StudyPrompt[] } {
  return { python: readGroup(paths.python, 'python'), rust: readGroup(paths.rust, 'rust') };
}
