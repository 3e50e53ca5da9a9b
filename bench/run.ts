/**
 * `npm run bench`: engine vs PyTorch 1.13 eager on random-weight models with real dimensions
 * (GPT-2 small; Qwen2.5-Coder-0.5B). Each measurement runs in its own process so peak RSS is
 * per model. Prints a table and writes docs/benchmarks.md.
 *
 * Env: PLIP_BENCH_MODELS=gpt2,qwen (subset), PLIP_BENCH_TS=1 (also time the pure-TS backend on GPT-2),
 * PLIP_BENCH_THREADS (PyTorch threads; default = os.availableParallelism()).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { loadBlasBackend } from '../src/tensor/select.ts';

interface Row {
  engine: string;
  backend?: string;
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
const threads = Number(process.env.PLIP_BENCH_THREADS ?? availableParallelism());
const T = 128;
const PY = '/usr/bin/python3';

function runJson(cmd: string, args: string[]): Row | { error: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout?.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Row;
  } catch {
    return { error: (r.stderr || r.error?.message || 'no output').trim().split('\n').slice(-3).join(' | ') };
  }
}

const torchOk = existsSync(PY) && spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
const blas = loadBlasBackend();
const results: Array<{ model: string; plip: Row | { error: string }; plipTs?: Row | { error: string }; torch: Row | { error: string } | null }> = [];
for (const key of wanted) {
  const spec = MODELS[key];
  if (!spec) throw new Error(`unknown model '${key}' in PLIP_BENCH_MODELS (gpt2, qwen)`);
  process.stderr.write(`bench ${spec.label}: plip-ts (${blas ? 'blas' : 'ts'}) …\n`);
  const plip = runJson(process.execPath, ['--import', 'tsx', 'bench/engine-bench.ts', spec.dir, blas ? 'blas' : 'ts', String(T)]);
  let plipTs: Row | { error: string } | undefined;
  if (process.env.PLIP_BENCH_TS && key === 'gpt2') {
    process.stderr.write(`bench ${spec.label}: plip-ts (ts kernels) …\n`);
    plipTs = runJson(process.execPath, ['--import', 'tsx', 'bench/engine-bench.ts', spec.dir, 'ts', String(T)]);
  }
  let torch: Row | { error: string } | null = null;
  if (torchOk) {
    process.stderr.write(`bench ${spec.label}: pytorch …\n`);
    torch = runJson(PY, ['bench/torch_peer.py', spec.dir, String(T), String(threads)]);
  }
  results.push({ model: spec.label, plip, plipTs, torch });
}

const ok = (r: unknown): r is Row => !!r && typeof r === 'object' && 'prefillMs' in (r as object);
const f1 = (x: number) => x.toFixed(1);
const mb = (x: number) => (x / 2 ** 20).toFixed(0);
const lines: string[] = [];
lines.push('| model | metric | plip-ts | PyTorch 1.13 eager | ratio (plip/torch) | target |');
lines.push('|---|---|---:|---:|---:|---|');
for (const r of results) {
  const p = r.plip, t = r.torch;
  if (!ok(p)) {
    lines.push(`| ${r.model} | error | ${(p as { error: string }).error} | | | |`);
    continue;
  }
  const tt = ok(t) ? t : null;
  const ratio = (a: number, b?: number) => (b ? (a / b).toFixed(2) : 'n/a');
  lines.push(`| ${r.model} | prefill ${T} tok, all patterns captured (ms) | ${f1(p.prefillCaptureMs)} | ${tt ? f1(tt.prefillCaptureMs) : 'n/a'} | ${ratio(p.prefillCaptureMs, tt?.prefillCaptureMs)} | ≤ 1.00 |`);
  lines.push(`| ${r.model} | prefill ${T} tok, no capture (ms) | ${f1(p.prefillMs)} | ${tt ? f1(tt.prefillMs) : 'n/a'} | ${ratio(p.prefillMs, tt?.prefillMs)} | ≤ 1.00 |`);
  lines.push(`| ${r.model} | capture overhead | ${((p.prefillCaptureMs / p.prefillMs - 1) * 100).toFixed(1)}% | ${tt ? ((tt.prefillCaptureMs / tt.prefillMs - 1) * 100).toFixed(1) + '%' : 'n/a'} | | ≤ 10% |`);
  lines.push(`| ${r.model} | decode step, 1 token after ${T - 1} (ms) | ${f1(p.decodeMs)} | ${tt ? f1(tt.decodeMs) : 'n/a'} | ${ratio(p.decodeMs, tt?.decodeMs)} | |`);
  lines.push(`| ${r.model} | peak RSS (MiB) | ${mb(p.peakRssBytes)} | ${tt ? mb(tt.peakRssBytes) : 'n/a'} | ${ratio(p.peakRssBytes, tt?.peakRssBytes)} | |`);
  lines.push(`| ${r.model} | peak RSS / float32 weight bytes | ${(p.peakRssBytes / p.weightBytes!).toFixed(2)} (${mb(p.weightBytes!)} MiB weights) | | | ≤ 1.50 |`);
  if (r.plipTs && ok(r.plipTs)) lines.push(`| ${r.model} | prefill, pure-TS kernels (ms) | ${f1(r.plipTs.prefillMs)} | ${tt ? f1(tt.prefillMs) : 'n/a'} | ${ratio(r.plipTs.prefillMs, tt?.prefillMs)} | (fallback) |`);
  if (t && !ok(t)) lines.push(`| ${r.model} | pytorch error | ${(t as { error: string }).error} | | | |`);
}
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const header = [
  '# Benchmarks',
  '',
  `Generated by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpu}, ${availableParallelism()} cores; ` +
    `plip-ts backend ${blas ? 'blas (OpenBLAS)' : 'ts'}, OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(auto)'}; PyTorch threads ${threads}${torchOk ? '' : ' (PyTorch not installed: peer skipped)'}.`,
  'Random float32 weights with the real dimensions; medians of 3 runs; each engine/model in its own process.',
  'Both engines compute logits for every prefill position. Peak RSS is the whole process (Node or Python runtime included).',
  '',
];
const table = lines.join('\n');
process.stdout.write(table + '\n');
// batched generation and incremental recomputation (bench/batch.ts; PLIP_BENCH_BATCH=0 skips it)
const batchTable = process.env.PLIP_BENCH_BATCH === '0' ? '' : runBatchBench(blas ? 'blas' : 'ts');
if (batchTable) process.stdout.write(batchTable + '\n');
mkdirSync('docs', { recursive: true });
const prev = existsSync('docs/benchmarks.md') ? readFileSync('docs/benchmarks.md', 'utf8') : '';
const notes = prev.includes('\n## Notes') ? prev.slice(prev.indexOf('\n## Notes')) : '';
writeFileSync('docs/benchmarks.md', header.join('\n') + table + '\n' + (batchTable ? '\n' + batchTable + '\n' : '') + notes);
process.stderr.write('wrote docs/benchmarks.md\n');

/** Runs bench/batch.ts in its own process and formats its rows (see that file for what is measured). */
function runBatchBench(backend: string): string {
  process.stderr.write('bench: batched generation and incremental knockout sweep (Qwen2.5-Coder-0.5B dims) …\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/batch.ts', backend], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] });
  let j: { generation?: Record<string, number>; knockoutSweep?: Record<string, number>; backend?: string };
  try {
    j = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    return `Batched generation / incremental recomputation: bench/batch.ts failed (exit ${r.status})`;
  }
  const g = j.generation, k = j.knockoutSweep;
  const rows = ['| Qwen2.5-Coder-0.5B dims (' + (j.backend ?? backend) + ') | sequential / one | batched / incremental | ratio | target |', '|---|---:|---:|---:|---|'];
  if (g) rows.push(`| generation, 16 prompts × ${g.newTokensEach} new tokens (tok/s) | ${g.sequentialTokPerS!.toFixed(2)} | ${g.batchedTokPerS!.toFixed(2)} (batch 16) | ${g.speedup!.toFixed(2)}× | ≥ 4× |`);
  if (k) rows.push(`| per-layer knockout sweep, ${k.conditionsPerSample} layers × corpus samples (ms) | ${k.fullMs!.toFixed(0)} (full) | ${k.incrementalMs!.toFixed(0)} (incremental) | ${k.speedup!.toFixed(2)}× | ≥ 5× |`);
  return rows.join('\n');
}
