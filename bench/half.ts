/**
 * bf16-resident weights at real dimensions (issue 14), on random bf16 checkpoints written into a temporary
 * directory by {@link writeRandomCheckpoint}:
 *   node --import tsx bench/half.ts
 * 1. peak RSS of a process that loads the Qwen2.5-Coder-0.5B-dims checkpoint and runs one 128-token prefill,
 *    against checkpoint bytes (target ≤ 1.15 × checkpoint + 200 MB);
 * 2. prefill / decode, bf16-resident vs the float32 widening of the same weights, A/B interleaved in one
 *    process (PLIP_BENCH_AB_REPS repetitions, default 5, each one prefill and PLIP_BENCH_AB_DECODE_STEPS decode
 *    steps, default 8, per arm; medians);
 * 3. only with PLIP_BENCH_7B=1 (never in CI; needs ≥ 40 GB free in the temp dir): CodeLlama-7b dims, all 32
 *    layers (13.5 GB checkpoint), load + 128-token prefill + 16 greedy decode steps, peak RSS (target 24 GB).
 * Prints one JSON line (bench/run.ts formats it into docs/benchmarks.md).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRandomCheckpoint } from '../src/model/random.ts';

const QWEN = '../shared/configs/Qwen--Qwen2.5-Coder-0.5B-Instruct';
const LLAMA7B = '../shared/configs/codellama--CodeLlama-7b-hf';
const T = 128;
const abReps = Number(process.env.PLIP_BENCH_AB_REPS ?? 5);

function child(args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/half-child.ts', ...args], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
  } catch {
    return { error: `exit ${r.status}: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}` };
  }
}

const root = mkdtempSync(join(tmpdir(), 'plip-bench-half-'));
const out: Record<string, unknown> = {};
try {
  const qdir = join(root, 'qwen-bf16');
  let t0 = Date.now();
  process.stderr.write('bench half: writing a random bf16 checkpoint at Qwen2.5-Coder-0.5B dims …\n');
  const qBytes = writeRandomCheckpoint(QWEN, qdir, { seed: 1, dtype: 'BF16' });
  out.qwenWriteMs = Date.now() - t0;
  out.qwenTensorBytes = qBytes;
  process.stderr.write('bench half: load + prefill RSS …\n');
  out.rss = child(['rss', qdir, String(T)]);
  process.stderr.write(`bench half: bf16 vs float32 A/B (${abReps} reps) …\n`);
  out.ab = child(['ab', qdir, String(T), String(abReps)]);
  process.stderr.write(`bench half: compute bf16 vs float32 activations (${abReps} reps) …\n`);
  out.compute = child(['compute', qdir, String(T), String(abReps)]);
  rmSync(qdir, { recursive: true, force: true });

  if (process.env.PLIP_BENCH_7B === '1') {
    const fs = statfsSync(root);
    const free = fs.bavail * fs.bsize;
    if (free < 40e9) {
      out.big = { skipped: `only ${(free / 1e9).toFixed(1)} GB free in ${root}; the 7B benchmark needs ≥ 40 GB` };
    } else {
      const bdir = join(root, 'codellama7b-bf16');
      process.stderr.write('bench half: writing a random bf16 checkpoint at CodeLlama-7b dims (13.5 GB) …\n');
      t0 = Date.now();
      writeRandomCheckpoint(LLAMA7B, bdir, { seed: 1, dtype: 'BF16' });
      const writeMs = Date.now() - t0;
      process.stderr.write('bench half: 7B load + prefill 128 + decode 16 …\n');
      out.big = { writeMs, ...child(['big', bdir, String(T), '16']) };
      rmSync(bdir, { recursive: true, force: true });
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
