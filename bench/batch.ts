/**
 * Batching and incremental-recomputation benchmarks at Qwen2.5-Coder-0.5B dimensions (random bf16 weights),
 * in one process, A/B interleaved, medians reported:
 *   node --import tsx bench/batch.ts [backend]
 * 1. generation throughput: 16 prompts (4..19 tokens), greedy, PLIP_BENCH_GEN_TOKENS (16) new tokens each —
 *    `generate` one prompt after another vs `generateBatch` with batch size 16 (same tokens checked);
 * 2. a per-layer knockout sweep of the study corpus (marker → its visible targets, one condition per layer,
 *    prompt + continuation as `plip knockout --mode per-layer` prepares them): every sample with targets
 *    (25; PLIP_BENCH_SAMPLES=n keeps the first n, for a quick run only), tokenized with the SmolLM2 tokenizer
 *    (ids fit Qwen's vocabulary) — full vs incremental (batched), PLIP_BENCH_SWEEP_REPS (1) passes over the
 *    corpus, which arm goes first alternating from sample to sample. Both arms are the same
 *    `forwardWithInterventions` call over all 24 conditions, `fullRecompute` true or false (as `--full-recompute`).
 *    Also reports the ratio of the two arms' weight-product multiply-accumulates on these samples (baseline
 *    passes included): what the recomputation saves in FLOPs. Measured time can exceed it slightly, since
 *    the full arm also repeats attention, elementwise work and the logits of rows before the marker.
 * Prints one JSON line (bench/run.ts adds it to docs/benchmarks.md).
 */
import { cpus } from 'node:os';
import { randomModelFromConfig } from '../src/model/random.ts';
import type { BackendName } from '../src/tensor/select.ts';
import { generate, generateBatch } from '../src/generate/generate.ts';
import { forwardWithInterventions, runCondition } from '../src/interventions/forward.ts';
import type { AttentionMaskSpec } from '../src/interventions/spec.ts';
import { loadCorpus } from '../src/corpus/index.ts';
import { prepareMarkerSample } from '../src/experiments/shared/samples.ts';
import { loadHfTokenizer } from '../src/tokenize/index.ts';
import { layerMatrixParams } from '../src/study/cost.ts';

const backend = (process.argv[2] ?? 'auto') as BackendName;
const CONFIG = '../shared/configs/Qwen--Qwen2.5-Coder-0.5B-Instruct';
const reps = Number(process.env.PLIP_BENCH_REPS ?? 3); // generation: odd, so the median is one run
const genTokens = Number(process.env.PLIP_BENCH_GEN_TOKENS ?? 16);
const nSamples = Number(process.env.PLIP_BENCH_SAMPLES ?? Infinity);
const sweepReps = Number(process.env.PLIP_BENCH_SWEEP_REPS ?? 1);
const which = (process.env.PLIP_BENCH_BATCH_PARTS ?? 'gen,sweep').split(',');
// PLIP_BENCH_LAYERS: fewer layers, for a quick smoke run only (figures are recorded with the real depth)
const layersEnv = process.env.PLIP_BENCH_LAYERS;
const m = randomModelFromConfig(CONFIG, { seed: 1, backend, dtype: 'bf16', overrides: layersEnv ? { nLayers: Number(layersEnv) } : {} });
const nL = m.spec.nLayers;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = (f: () => void) => {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
const log = (s: string) => process.stderr.write(`bench/batch: ${s}\n`);
const out: Record<string, unknown> = { backend: m.backend.name, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, nLayers: nL, reps };

if (which.includes('gen')) {
  const prompts = Array.from({ length: 16 }, (_, i) => Array.from({ length: 4 + i }, (_, t) => (i * 7919 + t * 104729 + 13) % m.spec.vocabSize));
  const reqs = prompts.map((promptIds) => ({ promptIds, maxTokens: genTokens, stopAtEos: false }));
  m.forward(prompts[0]!); // warm-up (JIT)
  const seqMs: number[] = [], batMs: number[] = [];
  let identical = true;
  for (let r = 0; r < reps; r++) {
    let seq: number[][] = [], bat: number[][] = [];
    seqMs.push(time(() => (seq = reqs.map((q) => generate(m, q.promptIds, q).ids))));
    batMs.push(time(() => (bat = generateBatch(m, reqs, { batchSize: 16 }).map((g) => g.ids))));
    identical &&= JSON.stringify(seq) === JSON.stringify(bat);
    log(`generation rep ${r}: sequential ${seqMs[r]!.toFixed(0)} ms, batched ${batMs[r]!.toFixed(0)} ms`);
  }
  const tokens = 16 * genTokens;
  out.generation = {
    prompts: 16,
    newTokensEach: genTokens,
    sequentialMs: median(seqMs),
    batchedMs: median(batMs),
    sequentialTokPerS: tokens / (median(seqMs) / 1000),
    batchedTokPerS: tokens / (median(batMs) / 1000),
    speedup: median(seqMs) / median(batMs),
    identicalTokens: identical,
    runsMs: { sequential: seqMs, batched: batMs },
  };
}

if (which.includes('sweep')) {
  const tok = loadHfTokenizer('../shared/tokenizers/smollm2-135m');
  const corpus = await loadCorpus('../shared/corpus/attention_samples_universal.json');
  // the knockout experiment's own sample preparation: marker token, visible targets, continuation
  const samples = corpus.samples
    .map((s) => prepareMarkerSample(tok, s))
    .filter((ks) => ks.targets.length > 0)
    .slice(0, nSamples);
  const fullMs: number[] = [], incMs: number[] = [];
  let maxDiff = 0;
  let nTokens = 0;
  for (let r = 0; r < sweepReps; r++) {
    let tf = 0, ti = 0;
    for (const [si, ks] of samples.entries()) {
      const mk = ks.marker.token;
      const tokens = ks.ids.slice(0, ks.continuationEnd + 1);
      const prompt = tokens.slice(0, mk + 1);
      const continuation = tokens.slice(mk + 1);
      if (r === 0) nTokens += tokens.length;
      const sweep: AttentionMaskSpec[][] = Array.from({ length: nL }, (_, L) => [{ kind: 'knockout', layers: L, heads: 'all', edges: [{ sources: [mk], targets: ks.targets }] }]);
      let full: number[] = [], inc: number[] = [];
      // A then B, alternating which goes first from sample to sample (load on a shared machine drifts)
      const runFull = () => {
        const baseline = runCondition(m, tokens, [], [], mk, 10);
        // the same call as the incremental arm with the flag turned (what `--full-recompute` does): both arms
        // normalise the baseline's rows once and score the same rows; they differ only in what they recompute
        full = forwardWithInterventions(m, prompt, sweep, { continuation, baseline, capturePatterns: false, fullRecompute: true }).map((x) => x.metrics.kl);
      };
      const runInc = () => {
        const baseline = runCondition(m, tokens, [], [], mk, 10);
        inc = forwardWithInterventions(m, prompt, sweep, { continuation, baseline, capturePatterns: false, batchSize: Number(process.env.PLIP_BENCH_COND_BATCH ?? 8) }).map((x) => x.metrics.kl);
      };
      if ((r + si) % 2 === 0) {
        tf += time(runFull);
        ti += time(runInc);
      } else {
        ti += time(runInc);
        tf += time(runFull);
      }
      full.forEach((k, i) => (maxDiff = Math.max(maxDiff, Math.abs(k - inc[i]!))));
    }
    fullMs.push(tf);
    incMs.push(ti);
    log(`sweep rep ${r}: full ${tf.toFixed(0)} ms, incremental ${ti.toFixed(0)} ms`);
  }
  // What the method saves on this corpus, in multiply-accumulates of the weight products (attention scores
  // and elementwise work left out): a full pass computes every layer and every row's logits; the incremental
  // arm one baseline pass, then per condition the marker's row at layer L (the knockout edits only its
  // query), rows ≥ p in layers > L, and their logits (at the last layer: the marker's row and its logits only).
  const layerMacs = layerMatrixParams(m.spec);
  const unembedMacs = m.spec.dModel * m.spec.vocabSize;
  let fullMacs = 0, incMacs = 0;
  for (const ks of samples) {
    const N = ks.continuationEnd + 1, r = ks.continuationEnd - ks.marker.token + 1;
    const pass = N * (nL * layerMacs + unembedMacs);
    fullMacs += (1 + nL) * pass;
    incMacs += pass;
    for (let L = 0; L < nL; L++) incMacs += L < nL - 1 ? (1 + r * (nL - L - 1)) * layerMacs + r * unembedMacs : layerMacs + unembedMacs;
  }
  out.knockoutSweep = {
    flopRatio: fullMacs / incMacs,
    samples: samples.map((s) => s.id),
    recomputedPositions: samples.map((s) => s.continuationEnd - s.marker.token + 1),
    tokens: nTokens,
    conditionsPerSample: nL,
    reps: sweepReps,
    fullMs: median(fullMs),
    incrementalMs: median(incMs),
    speedup: median(fullMs) / median(incMs),
    maxAbsKlDiff: maxDiff,
    runsMs: { full: fullMs, incremental: incMs },
  };
}
console.log(JSON.stringify(out));
