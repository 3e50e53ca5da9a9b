/**
 * One generated test under a set of attention edits, cut at the end of the test and scored — the step
 * every generation experiment (phases 3–5) shares, so baseline and edited conditions go through one code
 * path (greedy, KV cache, the same stop rule) and differ only in their hooks.
 *
 * @module
 */
import { generateBatch } from '../../generate/generate.ts';
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

/** What every generation experiment's input carries besides its items: provenance, skipped prompts, the scorer. */
export interface GenerationInputBase {
  /** The prompts file(s) and their sha256 (results header). */
  path: string;
  sha256: string;
  /** Prompts that cannot be used, with the reason (reported in the summary). */
  skipped: { id: string; group: string; reason: string }[];
  scorer: CompletionScorer;
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
  return generateTests(model, lp, pos, [{ edits, hooks }], maxNewTokens, scorer)[0]!;
}

/** One condition of a prompt: its attention edits and extra hooks. */
export interface Arm {
  edits: readonly ResolvedEdit[];
  hooks?: readonly Hook[];
}

/**
 * Every condition of one prompt decoded together (src/generate: one batched decoder, per-row hooks and
 * stop rules; a batch of one is the same code path), then each test cut at its end and scored.
 * @param batchSize - rows decoded together (default 16)
 */
export function generateTests(model: HookedModel, lp: LocatedPrompt, pos: PromptTokens, arms: readonly Arm[], maxNewTokens: number, scorer: CompletionScorer, batchSize = 16): { outcome: Outcome; ids: number[] }[] {
  const lang = lp.prompt.language;
  const open = lang === 'rust' ? Math.max(1, promptOpenBraces(lp.prompt.prompt)) : 1;
  const stopWhen = (text: string) => testEnd(lang, text, open) !== null;
  const rs = generateBatch(
    model,
    arms.map((a) => ({ promptIds: pos.ids, maxTokens: maxNewTokens, hooks: [...(a.edits.length ? attentionEdit(a.edits) : []), ...(a.hooks ?? [])], stopWhen })),
    { batchSize },
  );
  return rs.map((r) => {
    let completion = model.tokenizer!.decode(r.ids, { skipSpecialTokens: true });
    const end = testEnd(lang, completion, open);
    if (end !== null) completion = completion.slice(0, end);
    const s = scorer.score(lp.prompt, completion);
    // the only stop rule given is the end of the test, so a stop-sequence stop is the test's end
    return { outcome: { completion, stop: r.stop === 'stop_sequence' ? 'test_end' : r.stop, ...s, preserved: s.called && s.arityOk }, ids: r.ids };
  });
}
