/**
 * One engine measurement in a fresh process (so peak RSS is this model's alone):
 *   node --import tsx bench/engine-bench.ts <configDir> <backend> [promptLen] [f32|bf16]
 * Random weights with the config's dimensions, matrices stored as float32 or bf16 (default bf16, how real
 * checkpoints ship). Prints one JSON line: prefill ms (no capture / all patterns captured), decode-step ms,
 * peak RSS, weight bytes.
 */
import { randomModelFromConfig, type RandomDtype } from '../src/model/random.ts';
import { modelWeightBytes } from '../src/model/weights.ts';
import type { BackendName } from '../src/tensor/select.ts';

const [configDir, backend = 'auto', lenArg = '128', dtypeArg = 'bf16'] = process.argv.slice(2);
if (!configDir) throw new Error('usage: engine-bench.ts <configDir> <backend> [promptLen] [f32|bf16]');
if (dtypeArg !== 'f32' && dtypeArg !== 'bf16') throw new Error(`weight dtype must be f32 or bf16, got ${dtypeArg}`);
const T = Number(lenArg);
const m = randomModelFromConfig(configDir, { seed: 1, backend: backend as BackendName, dtype: dtypeArg as RandomDtype });
const s = m.spec;
const weightBytes = modelWeightBytes(m.weights);

const ids = Array.from({ length: T }, (_, i) => (i * 7919 + 13) % s.vocabSize);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = (f: () => void) => {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
const reps = Number(process.env.PLIP_BENCH_REPS ?? 3);
m.forward(ids.slice(0, 16)); // warm-up (JIT)
const noCapture: number[] = [];
const capture: number[] = [];
for (let r = 0; r < reps; r++) {
  noCapture.push(time(() => m.forward(ids)));
  capture.push(time(() => m.runWithCache(ids, { names: ['attn.hook_pattern'] })));
}
const kv = m.newKVCache(T + reps + 1);
m.forward(ids.slice(0, T - 1), { kvCache: kv, logits: 'last' });
const decode: number[] = [];
for (let r = 0; r < reps; r++) decode.push(time(() => m.forward([ids[(T - 1 + r) % T]!], { kvCache: kv, logits: 'last' })));
const ru = process.resourceUsage();
console.log(
  JSON.stringify({
    engine: 'plip-ts',
    backend: m.backend.name,
    weightDtype: dtypeArg,
    config: configDir,
    promptLen: T,
    prefillMs: median(noCapture),
    prefillCaptureMs: median(capture),
    decodeMs: median(decode),
    peakRssBytes: ru.maxRSS * 1024,
    weightBytes,
  }),
);
