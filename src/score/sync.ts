/**
 * A synchronous face of the scorer for the generation experiments, whose decoding loop is synchronous:
 * the async scorer (tree-sitter, sandboxed runs) works in a worker thread and the caller blocks on a
 * shared flag until the worker answers (the `synckit` pattern: Atomics.wait + receiveMessageOnPort).
 * The scores are exactly those of `scoreCompletion` (`plip score` uses the same function).
 *
 * @module
 */
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { CompletionScore, ScoreOptions } from './score.ts';
import type { PromptRecord } from './prompts-schema.ts';

/** Scores one completion at a time, synchronously. Call `close()` when done (the worker keeps the process alive). */
export interface SyncScorer {
  /** `executed` is null when the scorer was created with `execute: false`. */
  score(prompt: PromptRecord, completion: string): Omit<CompletionScore, 'executed'> & { executed: CompletionScore['executed'] | null };
  close(): void;
}

/**
 * Starts the scoring worker and waits until it has loaded (module loading needs the caller's event loop,
 * so it cannot happen while the caller blocks). @param timeoutMs - longest wait for one score (default 120 s)
 */
export async function createSyncScorer(options: ScoreOptions & { execute?: boolean } = {}, timeoutMs = 120_000): Promise<SyncScorer> {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const { execute = true, ...scoreOptions } = options;
  const workerData = { flag, port: port2, options: scoreOptions, execute };
  // from sources (tsx) the worker registers tsx's loader itself: workers do not inherit `--import`
  const worker = import.meta.url.endsWith('.ts')
    ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); });`, { eval: true, workerData, transferList: [port2] })
    : new Worker(new URL('./worker.js', import.meta.url), { workerData, transferList: [port2] });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`scorer: the worker exited (code ${code}) before it was ready`)));
  });
  worker.removeAllListeners();
  worker.unref();
  let closed = false;
  return {
    score(prompt, completion) {
      if (closed) throw new Error('scorer: closed');
      Atomics.store(flag, 0, 0);
      port1.postMessage({ prompt, completion });
      if (Atomics.wait(flag, 0, 0, timeoutMs) === 'timed-out') throw new Error(`scorer: no answer within ${timeoutMs} ms for prompt ${prompt.id}`);
      const msg = receiveMessageOnPort(port1)?.message as { ok: true; score: ReturnType<SyncScorer['score']> } | { ok: false; error: string } | undefined;
      if (!msg) throw new Error(`scorer: the worker woke without an answer for prompt ${prompt.id}`);
      if (!msg.ok) throw new Error(`scorer: ${msg.error}`);
      return msg.score;
    },
    close() {
      closed = true;
      port1.close();
      void worker.terminate();
    },
  };
}
