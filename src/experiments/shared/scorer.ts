/**
 * The preservation experiment's scorer: src/score's `scoreCompletion` (the scorer of `plip score`)
 * behind a synchronous face, memoised per (prompt, completion) — most edited conditions write the same
 * test as the baseline, and a Rust test costs a compilation.
 *
 * @module
 */
import { createSyncScorer } from '../../score/sync.ts';
import type { ScoreOptions } from '../../score/score.ts';
import type { CompletionScorer } from './generated-test.ts';

/** A memoising scorer; `execute: false` records `executed: null` and runs nothing. */
export async function openScorer(o: { execute?: boolean; limits?: ScoreOptions['limits'] } = {}): Promise<CompletionScorer & { close(): void; calls: () => number }> {
  const sync = await createSyncScorer({ limits: o.limits, execute: o.execute !== false });
  const memo = new Map<string, ReturnType<CompletionScorer['score']>>();
  let calls = 0;
  return {
    score(p, completion) {
      const key = `${p.id}\u0000${completion}`;
      let s = memo.get(key);
      if (!s) {
        calls++;
        const r = sync.score(p, completion);
        s = { called: r.called, arityOk: r.arityOk === true, paramNamesOk: r.paramNamesOk, syntaxOk: r.syntaxOk, executed: r.executed };
        memo.set(key, s);
      }
      return s;
    },
    close: () => sync.close(),
    calls: () => calls,
  };
}
