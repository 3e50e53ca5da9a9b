/**
 * Worker thread of {@link ./sync.ts}: scores completions with the async scorer and wakes the waiting
 * caller through a shared flag. Not an entry point for users.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { scoreCompletion, staticScore, type ScoreOptions } from './score.ts';
import type { PromptRecord } from './prompts-schema.ts';

const { flag, port, options, execute } = workerData as { flag: Int32Array; port: MessagePort; options: ScoreOptions; execute: boolean };

port.on('message', (msg: { prompt: PromptRecord; completion: string }) => {
  const job = execute ? scoreCompletion(msg.prompt, msg.completion, options) : staticScore(msg.prompt, msg.completion).then((st) => ({ id: msg.prompt.id, ...st, executed: null, detail: 'not executed' }));
  job.then(
    (score) => port.postMessage({ ok: true, score }),
    (e: unknown) => port.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) }),
  ).finally(() => {
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  });
});
parentPort?.postMessage('ready');
