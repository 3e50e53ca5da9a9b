/**
 * `npm run bench`: engine vs PyTorch 1.13 eager on random-weight models with real dimensions
 * (GPT-2 small; Qwen2.5-Coder-0.5B), bf16-resident weights (bench/half.ts), batching and incremental
 * recomputation (bench/batch.ts), study durations fitted to these figures (bench/study-cost.ts). Each measurement runs in its own process so peak RSS is per model.
 * Prints the tables and writes docs/benchmarks.md.
 *
 * Engine vs peer: PLIP_BENCH_ROUNDS rounds (default 3), each running plip-ts, then PyTorch with every
 * thread count in PLIP_BENCH_THREADS (default "1,2"), so load drifts on a shared machine hit both alike;
 * per metric the median over rounds, and for PyTorch the best thread count.
 * plip-ts runs with bf16 weights (how checkpoints ship; PLIP_BENCH_DTYPE=f32 for float32), PyTorch with
 * float32 (its fastest CPU dtype in 1.13).
 *
 * Env: PLIP_BENCH_MODELS=gpt2,qwen (subset), PLIP_BENCH_TS=1 (also time the pure-TS backend on GPT-2),
 * PLIP_BENCH_HALF=0 (skip bench/half.ts), PLIP_BENCH_7B=1 (7B dims in bench/half.ts; never in CI),
 * PLIP_BENCH_BATCH=0 (skip bench/batch.ts), PLIP_BENCH_STUDY=1 (also run the bundled study, ~10 min).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { blasConfig, blasOpsIsa, halfKernel, loadBlasBackend } from '../src/tensor/select.ts';
import { studyDurations } from './study-cost.ts';

interface Row {
  engine: string;
  backend?: string;
  threads?: number;
  prefillMs: number;
  prefillCaptureMs: number;
  decodeMs: number;
  peakRssBytes: number;
  weightBytes?: number;
}

const MODELS: Record<string, { label: string; dir: string }> = {
  gpt2: { label: 'GPT-2 small (124M)', dir: '../shared/configs/openai-community--gpt2' },
  qwen: { label: 'Qwen2.5-Coder-0.5B (494M)', dir: '../shared/configs/Qwen--Qwen2.5-Coder-0.5B-Instruct' },
};
const wanted = (process.env.PLIP_BENCH_MODELS ?? 'gpt2,qwen').split(',');
const torchThreads = (process.env.PLIP_BENCH_THREADS ?? '1,2').split(',').map(Number);
const rounds = Number(process.env.PLIP_BENCH_ROUNDS ?? 3);
const dtype = process.env.PLIP_BENCH_DTYPE ?? 'bf16';
const T = 128;
const PY = '/usr/bin/python3';
const loadStart = loadavg()[0]!;

function runJson<R>(cmd: string, args: string[]): R | { error: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout?.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as R;
  } catch {
    return { error: (r.stderr || r.error?.message || 'no output').trim().split('\n').slice(-3).join(' | ') };
  }
}

const ok = (r: unknown): r is Row => !!r && typeof r === 'object' && 'prefillMs' in (r as object);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Per metric, the median over rounds of the successful runs (null when none succeeded). */
function combine(runs: Array<Row | { error: string }>): Row | { error: string } {
  const good = runs.filter(ok);
  if (!good.length) return runs[0] ?? { error: 'not run' };
  return {
    ...good[0]!,
    prefillMs: median(good.map((r) => r.prefillMs)),
    prefillCaptureMs: median(good.map((r) => r.prefillCaptureMs)),
    decodeMs: median(good.map((r) => r.decodeMs)),
    peakRssBytes: median(good.map((r) => r.peakRssBytes)),
  };
}

const torchOk = existsSync(PY) && spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
const blas = loadBlasBackend();
interface Result {
  model: string;
  plip: Row | { error: string };
  plipTs?: Row | { error: string };
  /** best thread count per metric */
  torch: (Row & { threadsBy: Record<string, number> }) | { error: string } | null;
  torchByThreads: Record<number, Row | { error: string }>;
}
const results: Result[] = [];
for (const key of wanted) {
  const spec = MODELS[key];
  if (!spec) throw new Error(`unknown model '${key}' in PLIP_BENCH_MODELS (gpt2, qwen)`);
  const plipRuns: Array<Row | { error: string }> = [];
  const torchRuns: Record<number, Array<Row | { error: string }>> = {};
  for (let r = 0; r < rounds; r++) {
    process.stderr.write(`bench ${spec.label} round ${r + 1}/${rounds}: plip-ts (${blas ? 'blas' : 'ts'}, ${dtype}) …\n`);
    plipRuns.push(runJson<Row>(process.execPath, ['--import', 'tsx', 'bench/engine-bench.ts', spec.dir, blas ? 'blas' : 'ts', String(T), dtype]));
    if (!torchOk) continue;
    for (const th of torchThreads) {
      process.stderr.write(`bench ${spec.label} round ${r + 1}/${rounds}: pytorch (${th} thread${th > 1 ? 's' : ''}) …\n`);
      (torchRuns[th] ??= []).push(runJson<Row>(PY, ['bench/torch_peer.py', spec.dir, String(T), String(th)]));
    }
  }
  let plipTs: Row | { error: string } | undefined;
  if (process.env.PLIP_BENCH_TS && key === 'gpt2') {
    process.stderr.write(`bench ${spec.label}: plip-ts (ts kernels) …\n`);
    plipTs = runJson<Row>(process.execPath, ['--import', 'tsx', 'bench/engine-bench.ts', spec.dir, 'ts', String(T), dtype]);
  }
  const torchByThreads: Record<number, Row | { error: string }> = {};
  for (const th of torchThreads) if (torchRuns[th]) torchByThreads[th] = combine(torchRuns[th]!);
  const goodTorch = Object.entries(torchByThreads).filter((e): e is [string, Row] => ok(e[1]));
  let torch: Result['torch'] = null;
  if (goodTorch.length) {
    const best = (metric: 'prefillMs' | 'prefillCaptureMs' | 'decodeMs') => goodTorch.reduce((a, b) => (b[1][metric] < a[1][metric] ? b : a));
    const bp = best('prefillMs'), bc = best('prefillCaptureMs'), bd = best('decodeMs');
    torch = {
      ...bp[1],
      prefillMs: bp[1].prefillMs,
      prefillCaptureMs: bc[1].prefillCaptureMs,
      decodeMs: bd[1].decodeMs,
      threadsBy: { prefill: Number(bp[0]), capture: Number(bc[0]), decode: Number(bd[0]) },
    };
  } else if (torchOk) torch = { error: Object.values(torchByThreads).map((r) => (ok(r) ? '' : r.error)).join('; ') };
  results.push({ model: spec.label, plip: combine(plipRuns), plipTs, torch, torchByThreads });
}

const f1 = (x: number) => x.toFixed(1);
const mb = (x: number) => (x / 2 ** 20).toFixed(0);
const lines: string[] = [];
lines.push(`| model | metric | plip-ts (${dtype} weights) | PyTorch 1.13 eager (best of ${torchThreads.join('/')} threads) | ratio (plip/torch) | target |`);
lines.push('|---|---|---:|---:|---:|---|');
for (const r of results) {
  const p = r.plip, t = r.torch;
  if (!ok(p)) {
    lines.push(`| ${r.model} | error | ${(p as { error: string }).error} | | | |`);
    continue;
  }
  const tt = t && ok(t) ? (t as Row & { threadsBy: Record<string, number> }) : null;
  const ratio = (a: number, b?: number) => (b ? (a / b).toFixed(2) : 'n/a');
  const th = (m: string) => (tt ? ` (${tt.threadsBy[m]}t)` : '');
  const perThread = (metric: 'prefillMs' | 'decodeMs') =>
    Object.entries(r.torchByThreads)
      .map(([n, x]) => `${n}t ${ok(x) ? f1(x[metric]) : 'err'}`)
      .join(', ');
  lines.push(`| ${r.model} | prefill ${T} tok, all patterns captured (ms) | ${f1(p.prefillCaptureMs)} | ${tt ? f1(tt.prefillCaptureMs) + th('capture') : 'n/a'} | ${ratio(p.prefillCaptureMs, tt?.prefillCaptureMs)} | ≤ 1.00 |`);
  lines.push(`| ${r.model} | prefill ${T} tok, no capture (ms) | ${f1(p.prefillMs)} | ${tt ? f1(tt.prefillMs) + th('prefill') : 'n/a'} (${perThread('prefillMs')}) | ${ratio(p.prefillMs, tt?.prefillMs)} | ≤ 1.00 |`);
  lines.push(`| ${r.model} | capture overhead | ${((p.prefillCaptureMs / p.prefillMs - 1) * 100).toFixed(1)}% | ${tt ? ((tt.prefillCaptureMs / tt.prefillMs - 1) * 100).toFixed(1) + '%' : 'n/a'} | | ≤ 10% |`);
  lines.push(`| ${r.model} | decode step, 1 token after ${T - 1} (ms) | ${f1(p.decodeMs)} | ${tt ? f1(tt.decodeMs) + th('decode') : 'n/a'} (${perThread('decodeMs')}) | ${ratio(p.decodeMs, tt?.decodeMs)} | ≤ 0.80 |`);
  lines.push(`| ${r.model} | peak RSS (MiB) | ${mb(p.peakRssBytes)} | ${tt ? mb(tt.peakRssBytes) : 'n/a'} | ${ratio(p.peakRssBytes, tt?.peakRssBytes)} | |`);
  lines.push(`| ${r.model} | peak RSS / weight bytes | ${(p.peakRssBytes / p.weightBytes!).toFixed(2)} (${mb(p.weightBytes!)} MiB ${dtype} weights) | | | |`);
  if (r.plipTs && ok(r.plipTs)) lines.push(`| ${r.model} | prefill, pure-TS kernels (ms) | ${f1(r.plipTs.prefillMs)} | ${tt ? f1(tt.prefillMs) : 'n/a'} | ${ratio(r.plipTs.prefillMs, tt?.prefillMs)} | (fallback) |`);
  if (t && !ok(t)) lines.push(`| ${r.model} | pytorch error | ${(t as { error: string }).error} | | | |`);
}

// bf16-resident weights: RSS, bf16 vs float32 A/B, optional 7B dims (bench/half.ts)
const halfJson: { big?: Record<string, number>; compute?: { prefillMs?: Record<string, number> } } = {};
const halfTable = process.env.PLIP_BENCH_HALF === '0' ? '' : runHalfBench(halfJson);

function lscpu(): { model: string; flags: string } {
  try {
    const out = execFileSync('lscpu', { encoding: 'utf8' });
    const model = /^Model name:\s*(.+)$/m.exec(out)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown CPU';
    const flags = /^Flags:\s*(.+)$/m.exec(out)?.[1] ?? '';
    const relevant = flags.split(/\s+/).filter((f) => /^(avx2|fma|f16c|avx512f|avx512bw|avx512vl|avx512_bf16|avx512_fp16|amx_bf16|amx_tile)$/.test(f));
    return { model, flags: relevant.join(' ') };
  } catch {
    return { model: cpus()[0]?.model ?? 'unknown CPU', flags: '' };
  }
}
const cpu = lscpu();
const header = [
  '# Benchmarks',
  '',
  `Generated by \`npm run bench\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${cpu.model} (lscpu; flags: ${cpu.flags || 'n/a'}), ` +
    `${availableParallelism()} cores, load average ${loadStart.toFixed(1)} at start and ${loadavg()[0]!.toFixed(1)} at the end; ` +
    `plip-ts backend ${blas ? `blas (${blasConfig() ?? 'OpenBLAS'}; half-precision kernels ${halfKernel() ?? 'n/a'}; elementwise ops ${blasOpsIsa() ?? 'n/a'})` : 'ts'}; ` +
    `PyTorch threads ${torchThreads.join(', ')} (best per metric)${torchOk ? '' : ' (PyTorch not installed: peer skipped)'}.`,
  `Random weights with the real dimensions; plip-ts weights ${dtype}, PyTorch float32. ${rounds} rounds, each running plip-ts then PyTorch at each thread count; ` +
    'per metric the median over rounds of each process\'s median of 3 repetitions; each engine/model in its own process.',
  'Both engines compute logits for every prefill position. Peak RSS is the whole process (Node or Python runtime included).',
  '',
];
const table = lines.join('\n');
process.stdout.write(table + '\n');
if (halfTable) process.stdout.write(halfTable + '\n');
// batched generation and incremental recomputation (bench/batch.ts; PLIP_BENCH_BATCH=0 skips it)
const batchJson: { knockoutSweep?: Record<string, number> } = {};
const batchTable = process.env.PLIP_BENCH_BATCH === '0' ? '' : runBatchBench(blas ? 'blas' : 'ts', batchJson);
if (batchTable) process.stdout.write(batchTable + '\n');
// study durations from this run's figures (bench/study-cost.ts; writes bench/cost-model.json)
const qwenRow = results.find((r) => r.model.startsWith('Qwen'))?.plip;
const big = halfJson.big;
const studyTable = await studyDurations(
  {
    qwen: qwenRow && ok(qwenRow) && dtype === 'bf16' ? { prefillMs: qwenRow.prefillMs, decodeMs: qwenRow.decodeMs, weightBytes: qwenRow.weightBytes!, promptLen: T } : undefined,
    incrementalSpeedup: batchJson.knockoutSweep?.speedup,
    computeBf16PrefillFactor: halfJson.compute?.prefillMs?.bf16 && halfJson.compute.prefillMs.f32 ? halfJson.compute.prefillMs.bf16 / halfJson.compute.prefillMs.f32 : undefined,
    big: big && typeof big.prefillMs === 'number' ? { prefillMs: big.prefillMs, decodeMsMedian: big.decodeMsMedian!, checkpointBytes: big.checkpointBytes! } : undefined,
  },
  `${cpu.model}, ${availableParallelism()} cores`,
);
process.stdout.write(studyTable + '\n');
mkdirSync('docs', { recursive: true });
const prev = existsSync('docs/benchmarks.md') ? readFileSync('docs/benchmarks.md', 'utf8') : '';
const notes = prev.includes('\n## Notes') ? prev.slice(prev.indexOf('\n## Notes')) : '';
writeFileSync('docs/benchmarks.md', header.join('\n') + table + '\n' + (halfTable ? '\n' + halfTable + '\n' : '') + (batchTable ? '\n' + batchTable + '\n' : '') + '\n' + studyTable + '\n' + notes);
process.stderr.write('wrote docs/benchmarks.md\n');

/** Runs bench/batch.ts in its own process and formats its rows (see that file for what is measured). */
function runBatchBench(backend: string, json: Record<string, unknown>): string {
  process.stderr.write('bench: batched generation and incremental knockout sweep (Qwen2.5-Coder-0.5B dims) …\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/batch.ts', backend], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] });
  let j: { generation?: Record<string, number>; knockoutSweep?: Record<string, number>; backend?: string };
  try {
    j = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    return `Batched generation / incremental recomputation: bench/batch.ts failed (exit ${r.status})`;
  }
  Object.assign(json, j);
  const g = j.generation, k = j.knockoutSweep;
  const rows = ['| Qwen2.5-Coder-0.5B dims (' + (j.backend ?? backend) + ') | sequential / one | batched / incremental | ratio | target |', '|---|---:|---:|---:|---|'];
  if (g) rows.push(`| generation, 16 prompts × ${g.newTokensEach} new tokens (tok/s) | ${g.sequentialTokPerS!.toFixed(2)} | ${g.batchedTokPerS!.toFixed(2)} (batch 16) | ${g.speedup!.toFixed(2)}× | ≥ 4× |`);
  if (k) rows.push(`| per-layer knockout sweep, ${k.conditionsPerSample} layers × ${(k as { samples?: unknown[] }).samples?.length ?? "?"} corpus samples (ms) | ${k.fullMs!.toFixed(0)} (full) | ${k.incrementalMs!.toFixed(0)} (incremental) | ${k.speedup!.toFixed(2)}× | ≥ 5×; weight-product FLOP ratio of the two arms on these samples ${k.flopRatio ? `${k.flopRatio.toFixed(2)}×` : 'n/a'} (baseline passes included) |`);
  return rows.join('\n');
}

/** Runs bench/half.ts in its own process and formats its rows (see that file for what is measured). */
function runHalfBench(json: Record<string, unknown>): string {
  process.stderr.write('bench: bf16-resident weights (Qwen2.5-Coder-0.5B dims' + (process.env.PLIP_BENCH_7B === '1' ? ', CodeLlama-7b dims' : '') + ') …\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/half.ts'], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] });
  type Num = Record<string, number>;
  let j: { rss?: Num & { error?: string }; ab?: { prefillMs: Num; decodeMs: Num; reps: number; decodeSteps?: number; prefillLogitsIdentical: boolean; prefillLogitsMaxAbsDiff?: number; error?: string };
    compute?: { prefillMs: Num; decodeMs: Num; reps: number; decodeSteps: number; logitsMaxAbsDiff: number; logitsMaxAbs: number; top1Agreement: number; unavailable?: string; error?: string };
    big?: Num & { skipped?: string; error?: string } };
  try {
    j = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    return `bf16-resident weights: bench/half.ts failed (exit ${r.status})`;
  }
  Object.assign(json, j);
  const gb = (x: number) => (x / 1e9).toFixed(2);
  const rows = ['| bf16-resident weights | measured | reference | ratio | target |', '|---|---:|---:|---:|---|'];
  const rss = j.rss;
  if (rss && !rss.error) {
    const limit = 1.15 * rss.checkpointBytes! + 200e6;
    rows.push(`| Qwen2.5-Coder-0.5B dims: peak RSS, load + 128-token prefill (GB) | ${gb(rss.peakRssBytes!)} | checkpoint ${gb(rss.checkpointBytes!)} GB | ${(rss.peakRssBytes! / rss.checkpointBytes!).toFixed(2)} × checkpoint | ≤ 1.15 × checkpoint + 0.2 GB = ${gb(limit)} GB ${rss.peakRssBytes! <= limit ? '(met)' : '(MISSED)'} |`);
  } else rows.push(`| peak RSS | error: ${rss?.error ?? 'n/a'} | | | |`);
  const ab = j.ab;
  if (ab && !ab.error) {
    const pr = ab.prefillMs.f32! / ab.prefillMs.bf16!, dr = ab.decodeMs.f32! / ab.decodeMs.bf16!;
    rows.push(`| Qwen2.5-Coder-0.5B dims: prefill 128 tok (ms), bf16 vs float32 weights, ${ab.reps} interleaved reps | ${ab.prefillMs.bf16!.toFixed(0)} | ${ab.prefillMs.f32!.toFixed(0)} (float32) | ${pr.toFixed(2)}× speed | ≥ 1.00× ${pr >= 1 ? '(met)' : '(MISSED)'}; logits ${ab.prefillLogitsIdentical ? 'bit-identical' : `max \\|Δ\\| ${ab.prefillLogitsMaxAbsDiff?.toExponential(1) ?? '?'} (float32 rounding: ${{ amx: 'AMX tiles sum in their own order', avx512: 'the packed bf16 GEMM sums in its own order' }[(ab as { kernel?: string }).kernel ?? ''] ?? "this BLAS's sgemm is not split-invariant"})`} |`);
    rows.push(`| Qwen2.5-Coder-0.5B dims: decode step (ms), bf16 vs float32 weights, median of ${ab.reps} × ${ab.decodeSteps ?? 1} interleaved steps | ${ab.decodeMs.bf16!.toFixed(1)} | ${ab.decodeMs.f32!.toFixed(1)} (float32) | ${dr.toFixed(2)}× speed | ≥ 1.60× ${dr >= 1.6 ? '(met)' : '(MISSED)'} |`);
  } else rows.push(`| bf16 vs float32 | error: ${ab?.error ?? 'n/a'} | | | |`);
  const c = j.compute;
  if (c && c.unavailable) rows.push(`| \`--compute bf16\` (optional) | not available here: ${c.unavailable} | | | |`);
  else if (c && !c.error) {
    const pr = c.prefillMs.f32! / c.prefillMs.bf16!, dr = c.decodeMs.f32! / c.decodeMs.bf16!;
    rows.push(`| Qwen2.5-Coder-0.5B dims: prefill 128 tok (ms), \`--compute bf16\` vs float32 activations (both bf16 weights), ${c.reps} interleaved reps | ${c.prefillMs.bf16!.toFixed(0)} | ${c.prefillMs.f32!.toFixed(0)} (float32) | ${pr.toFixed(2)}× speed | optional; logits max \\|Δ\\| ${c.logitsMaxAbsDiff.toExponential(1)} (max \\|logit\\| ${c.logitsMaxAbs.toFixed(1)}), top-1 agrees at ${(100 * c.top1Agreement).toFixed(0)}% of positions |`);
    rows.push(`| Qwen2.5-Coder-0.5B dims: decode step (ms), \`--compute bf16\` vs float32 activations, median of ${c.reps} × ${c.decodeSteps} interleaved steps | ${c.decodeMs.bf16!.toFixed(1)} | ${c.decodeMs.f32!.toFixed(1)} (float32) | ${dr.toFixed(2)}× speed | |`);
  } else rows.push(`| \`--compute bf16\` | error: ${c?.error ?? 'n/a'} | | | |`);
  const big = j.big;
  if (big && big.skipped) rows.push(`| CodeLlama-7b dims | skipped: ${big.skipped} | | | |`);
  else if (big && big.error) rows.push(`| CodeLlama-7b dims | error: ${big.error} | | | |`);
  else if (big) {
    rows.push(`| CodeLlama-7b dims (32 layers): load (s) | ${(big.loadMs! / 1000).toFixed(1)} | checkpoint ${gb(big.checkpointBytes!)} GB | | |`);
    rows.push(`| CodeLlama-7b dims: prefill 128 tok (s) / decode step (s, median of ${big.decodeTokens}) | ${(big.prefillMs! / 1000).toFixed(1)} / ${(big.decodeMsMedian! / 1000).toFixed(2)} | | | |`);
    rows.push(`| CodeLlama-7b dims: peak RSS, load + prefill + ${big.decodeTokens} decode steps (GB) | ${gb(big.peakRssBytes!)} | | ${(big.peakRssBytes! / big.checkpointBytes!).toFixed(2)} × checkpoint | ≤ 24 GB ${big.peakRssBytes! <= 24e9 ? '(met)' : '(MISSED)'} |`);
  } else rows.push('| CodeLlama-7b dims | not run (set PLIP_BENCH_7B=1; never in CI) | | | |');
  return rows.join('\n');
}
