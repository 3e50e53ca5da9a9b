/**
 * One generated test under a set of attention edits, cut at the end of the test and scored — the step
 * every generation experiment (phases 3–5) shares, so baseline and edited conditions go through one code
 * path (greedy, KV cache, the same stop rule) and differ only in their hooks.
 *
 * @module
 */
import { generate } from '../../generate/generate.ts';
import type { Hook } from '../../hooks/types.ts';
import { attentionEdit } from '../../interventions/attention.ts';
import type { ResolvedEdit } from '../../interventions/spec.ts';
import type { HookedModel } from '../../model/model.ts';
import { promptOpenBraces, testEnd } from '../../score/test-end.ts';
import type { LocatedPrompt, PromptTokens } from '../../corpus/test-prompts.ts';
import type { Outcome } from './outcome.ts';

/** The scores of one completion (src/score): everything but the completion text and the stop reason. */
export type CompletionScore = Omit<Outcome, 'completion' | 'stop' | 'preserved'>;

/**
 * Scores generated tests. Synchronous because generation is; {@link openScorer} (./scorer.ts) wraps the
 * sandboxed scorer of `plip score`.
 */
export interface CompletionScorer {
  score(prompt: LocatedPrompt['prompt'], completion: string): CompletionScore;
}

/**
 * Generates one test from the prompt under `edits` (attention edits, applied at every decoding step) and
 * extra `hooks` (e.g. a pattern transplant), stops at the end of the test or after `maxNewTokens`, and
 * scores it. `preserved` = called ∧ arityOk.
 */
export function generateScored(model: HookedModel, lp: LocatedPrompt, pos: PromptTokens, edits: readonly ResolvedEdit[], maxNewTokens: number, scorer: CompletionScorer, hooks: readonly Hook[] = []): Outcome {
  return generateTest(model, lp, pos, edits, maxNewTokens, scorer, hooks).outcome;
}

/** {@link generateScored}, also returning the generated token ids (the test and at most the token that ended it). */
export function generateTest(model: HookedModel, lp: LocatedPrompt, pos: PromptTokens, edits: readonly ResolvedEdit[], maxNewTokens: number, scorer: CompletionScorer, hooks: readonly Hook[] = []): { outcome: Outcome; ids: number[] } {
  const lang = lp.prompt.language;
  const open = lang === 'rust' ? Math.max(1, promptOpenBraces(lp.prompt.prompt)) : 1;
  let ended = false;
  const r = generate(model, pos.ids, {
    maxTokens: maxNewTokens,
    hooks: [...(edits.length ? attentionEdit(edits) : []), ...hooks],
    stopWhen: (text) => (ended = testEnd(lang, text, open) !== null),
  });
  let completion = model.tokenizer!.decode(r.ids, { skipSpecialTokens: true });
  const end = testEnd(lang, completion, open);
  if (end !== null) completion = completion.slice(0, end);
  const s = scorer.score(lp.prompt, completion);
  return { outcome: { completion, stop: ended ? 'test_end' : r.stop, ...s, preserved: s.called && s.arityOk }, ids: r.ids };
}
