/**
 * Measurements on a bf16 checkpoint on disk, each in a fresh process (peak RSS is this run's alone):
 *   node --import tsx bench/half-child.ts rss <dir> [T]            load + one prefill of T tokens (all logits)
 *   node --import tsx bench/half-child.ts ab <dir> [T] [reps]      bf16-resident vs the float32 widening of the
 *                                                                  same weights, A/B interleaved in one process
 *   node --import tsx bench/half-child.ts big <dir> [T] [decode]   load, prefill T (last logits), greedy decode
 *   node --import tsx bench/half-child.ts compute <dir> [T] [reps]  compute 'bf16' vs the default float32 activations,
 *                                                                  A/B interleaved, with their logits' agreement
 * Prints one JSON line.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, withBf16Compute } from '../src/model/load.ts';
import { HookedModel } from '../src/model/model.ts';
import { modelWeightBytes, widenModelWeights } from '../src/model/weights.ts';
import { bf16ComputeUnavailableReason, blasConfig, halfKernel } from '../src/tensor/select.ts';

const [mode, dir, tArg = '128', extra] = process.argv.slice(2);
if (!mode || !dir) throw new Error('usage: half-child.ts rss|ab|big|compute <checkpointDir> [T] [reps|decode]');
const T = Number(tArg);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = (f: () => void) => {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
const rss = () => process.resourceUsage().maxRSS * 1024;
const ckptBytes = statSync(join(dir, 'model.safetensors')).size;

const t0 = Date.now();
const m = await loadModel(dir, { noTokenizer: true });
const loadMs = Date.now() - t0;
const ids = Array.from({ length: T }, (_, i) => (i * 7919 + 13) % m.spec.vocabSize);
const base = { mode, backend: m.backend.name, kernel: halfKernel() ?? null, blas: blasConfig() ?? null, checkpointBytes: ckptBytes, weightBytes: modelWeightBytes(m.weights), loadMs, promptLen: T };

if (mode === 'rss') {
  const prefillMs = time(() => m.forward(ids));
  console.log(JSON.stringify({ ...base, prefillMs, peakRssBytes: rss() }));
} else if (mode === 'big') {
  const nDecode = Number(extra ?? 16);
  const kv = m.newKVCache(T + nDecode);
  let last = 0;
  const prefillMs = time(() => {
    const l = m.forward(ids, { kvCache: kv, logits: 'last' }).logits!.data;
    last = argmax(l);
  });
  const steps: number[] = [];
  const out: number[] = [];
  for (let i = 0; i < nDecode; i++) {
    out.push(last);
    steps.push(time(() => (last = argmax(m.forward([last], { kvCache: kv, logits: 'last' }).logits!.data))));
  }
  console.log(JSON.stringify({ ...base, prefillMs, decodeTokens: nDecode, decodeMsMedian: median(steps), decodeMsTotal: steps.reduce((a, b) => a + b, 0), peakRssBytes: rss() }));
} else if (mode === 'ab') {
  const reps = Number(extra ?? 5);
  const wide = new HookedModel(m.spec, widenModelWeights(m.weights), m.backend, null, m.info);
  const { pre, dec, decSteps } = interleaved({ bf16: m, f32: wide }, reps);
  // Same numbers: the bf16 path equals the float32 path within float32 rounding (bit for bit only where its
  // products go through the same sgemm on widened tiles, and this BLAS's sgemm is split-invariant): the
  // largest |Δ| is reported.
  const a = m.forward(ids).logits!.data, b = wide.forward(ids).logits!.data;
  let identical = a.length === b.length;
  let maxAbsDiff = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) identical = false;
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i]! - b[i]!));
  }
  console.log(
    JSON.stringify({
      ...base,
      reps,
      decodeSteps: decSteps,
      prefillMs: { bf16: median(pre.bf16), f32: median(pre.f32) },
      decodeMs: { bf16: median(dec.bf16), f32: median(dec.f32) },
      prefillAll: pre,
      decodeAll: dec,
      prefillLogitsIdentical: identical,
      prefillLogitsMaxAbsDiff: maxAbsDiff,
    }),
  );
} else if (mode === 'compute') {
  const why = bf16ComputeUnavailableReason();
  if (why) {
    console.log(JSON.stringify({ ...base, unavailable: why }));
  } else {
    const reps = Number(extra ?? 5);
    const models = { f32: m, bf16: withBf16Compute(m) } as const;
    const { pre, dec, decSteps } = interleaved(models, reps);
    // how far bf16 activations move the logits: max |Δ|, and the positions whose top-1 token agrees
    const a = models.bf16.forward(ids).logits!.data, b = m.forward(ids).logits!.data;
    const V = m.spec.vocabSize;
    let maxAbsDiff = 0, top1 = 0, maxAbsLogit = 0;
    for (let i = 0; i < a.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i]! - b[i]!)), (maxAbsLogit = Math.max(maxAbsLogit, Math.abs(b[i]!)));
    for (let t = 0; t < T; t++) if (argmax(a.subarray(t * V, (t + 1) * V)) === argmax(b.subarray(t * V, (t + 1) * V))) top1++;
    console.log(JSON.stringify({ ...base, reps, decodeSteps: decSteps, prefillMs: { bf16: median(pre.bf16), f32: median(pre.f32) }, decodeMs: { bf16: median(dec.bf16), f32: median(dec.f32) }, prefillAll: pre, decodeAll: dec, logitsMaxAbsDiff: maxAbsDiff, logitsMaxAbs: maxAbsLogit, top1Agreement: top1 / T }));
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}

/**
 * Prefill and decode times of two models on the same prompt, A/B interleaved (and which goes first alternated)
 * so load drifts on the shared machine hit both alike; `decSteps` decode steps per repetition and arm, since one
 * step (~40–130 ms here) is too short to time alone on a shared VM.
 */
function interleaved(models: Record<'bf16' | 'f32', HookedModel>, reps: number) {
  const pre: Record<'bf16' | 'f32', number[]> = { bf16: [], f32: [] };
  const dec: Record<'bf16' | 'f32', number[]> = { bf16: [], f32: [] };
  const decSteps = Number(process.env.PLIP_BENCH_AB_DECODE_STEPS ?? 8);
  const caches = { bf16: models.bf16.newKVCache(T + reps * decSteps + 2), f32: models.f32.newKVCache(T + reps * decSteps + 2) };
  for (const k of ['bf16', 'f32'] as const) {
    models[k].forward(ids.slice(0, 16)); // warm-up
    models[k].forward(ids.slice(0, T - 1), { kvCache: caches[k], logits: 'last' });
  }
  for (let r = 0; r < reps; r++) {
    const order = r % 2 ? (['f32', 'bf16'] as const) : (['bf16', 'f32'] as const);
    for (const k of order) pre[k].push(time(() => models[k].forward(ids)));
    for (const k of order)
      for (let d = 0; d < decSteps; d++) dec[k].push(time(() => models[k].forward([ids[(r * decSteps + d) % T]!], { kvCache: caches[k], logits: 'last' })));
  }
  return { pre, dec, decSteps };
}

function argmax(x: Float32Array): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[b]!) b = i;
  return b;
}
