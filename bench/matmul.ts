/**
 * Matmul throughput (GFLOP/s) of the TypeScript kernels vs the OpenBLAS addon.
 *
 *   node --import tsx bench/matmul.ts [--min-ms 300] [--ts-max-gflop 1.5] [--threads N] [--no-matmul] [--json]
 *
 * Shapes are written [m×k · k×n]; `linear` multiplies x[m,k] by w[n,k]ᵀ (nn.Linear layout), `matmul`
 * multiplies a[m,k] by b[k,n]. Defaults: a GPT-2 block's fused QKV projection, a Qwen2.5-0.5B MLP
 * up-projection at decode time (m = 1, the gemv path), and the Qwen2.5-0.5B LM head over 128 tokens.
 *
 * The TS backend is slow on the LM-head shape (~35 GFLOP), so when a shape exceeds `tsMaxGflop` the TS
 * kernel runs on the first n' rows of w only (reported as `tsSampledN`): the per-FLOP rate is what is
 * measured, and it does not depend on n for n ≫ 4.
 *
 * `benchMatmul()` is exported for a larger bench harness.
 */
import { pathToFileURL } from 'node:url';
import type { MatmulBackend } from '../src/tensor/backend.ts';
import { tsBackend } from '../src/tensor/ts-backend.ts';
import { blasConfig, blasUnavailableReason, loadBlasBackend, setBlasThreads } from '../src/tensor/select.ts';

export interface MatmulShape {
  m: number;
  k: number;
  n: number;
  label?: string;
}

export interface MatmulBenchOptions {
  shapes?: MatmulShape[];
  /** Which ops to time. Default ['linear', 'matmul']; matmul only on shapes with n ≤ 8192. */
  ops?: Array<'linear' | 'matmul'>;
  /** Time each case for at least this long (after one warm-up call). Default 300 ms. */
  minMs?: number;
  /** At most this many timed repetitions. Default 50. */
  maxReps?: number;
  /** Cap on the FLOPs of one TS call; larger shapes are sampled along n. Default 1.5 GFLOP. */
  tsMaxGflop?: number;
  /** OpenBLAS thread count for the run (restored afterwards). Default: leave as is. */
  blasThreads?: number;
  /** Called with each result as it is produced. */
  onResult?: (r: MatmulBenchResult) => void;
}

export interface MatmulBenchResult {
  op: 'linear' | 'matmul';
  shape: string;
  label?: string;
  backend: 'ts' | 'blas';
  gflops: number;
  msPerCall: number;
  reps: number;
  /** Set when the TS kernel ran on a slice of n (see file comment). */
  tsSampledN?: number;
}

export const DEFAULT_SHAPES: MatmulShape[] = [
  { m: 128, k: 768, n: 2304, label: 'GPT-2 QKV, 128 tokens' },
  { m: 1, k: 896, n: 4864, label: 'Qwen2.5-0.5B MLP up, decode (gemv)' },
  { m: 128, k: 896, n: 151936, label: 'Qwen2.5-0.5B LM head, 128 tokens' },
];

/** Fast deterministic fill in [-0.5, 0.5) (Math.random on 136M floats is slow). */
function fill(a: Float32Array, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < a.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = (s >>> 0) / 4294967296 - 0.5;
  }
  return a;
}

function time(fn: () => void, minMs: number, maxReps: number): { ms: number; reps: number } {
  fn(); // warm-up (JIT, page faults, thread start-up)
  let reps = 0;
  const t0 = performance.now();
  let t = t0;
  while (reps < maxReps && (reps === 0 || t - t0 < minMs)) {
    fn();
    reps++;
    t = performance.now();
  }
  return { ms: (t - t0) / reps, reps };
}

const shapeStr = (s: MatmulShape) => `[${s.m}×${s.k} · ${s.k}×${s.n}]`;

export function benchMatmul(opts: MatmulBenchOptions = {}): MatmulBenchResult[] {
  const shapes = opts.shapes ?? DEFAULT_SHAPES;
  const ops = opts.ops ?? ['linear', 'matmul'];
  const minMs = opts.minMs ?? 300;
  const maxReps = opts.maxReps ?? 50;
  const tsMaxFlop = (opts.tsMaxGflop ?? 1.5) * 1e9;
  const blas = loadBlasBackend();
  const backends: MatmulBackend[] = blas ? [tsBackend, blas] : [tsBackend];
  const prevThreads = blas && opts.blasThreads ? setBlasThreads(opts.blasThreads) : undefined;
  const results: MatmulBenchResult[] = [];
  try {
    for (const s of shapes) {
      const { m, k, n } = s;
      const x = fill(new Float32Array(m * k), 1);
      const w = fill(new Float32Array(n * k), 2);
      const bias = fill(new Float32Array(n), 3);
      const out = new Float32Array(m * n);
      for (const op of ops) {
        if (op === 'matmul' && n > 8192) continue;
        for (const be of backends) {
          // TS on very large shapes: run on the first nS rows of w (linear) / columns of b (matmul: a
          // k×nS matrix, same FLOP count per output element).
          let nS = n;
          if (be.name === 'ts' && 2 * m * k * n > tsMaxFlop) nS = Math.max(4, Math.floor(tsMaxFlop / (2 * m * k) / 4) * 4);
          const fn =
            op === 'linear'
              ? () => be.linear(x, nS === n ? w : w.subarray(0, nS * k), bias, m, k, nS, out)
              : () => be.matmul(x, nS === n ? w : w.subarray(0, k * nS), m, k, nS, out);
          const { ms, reps } = time(fn, minMs, maxReps);
          const r: MatmulBenchResult = {
            op,
            shape: shapeStr(s),
            ...(s.label ? { label: s.label } : {}),
            backend: be.name,
            gflops: (2 * m * k * nS) / (ms * 1e6),
            msPerCall: ms,
            reps,
            ...(nS !== n ? { tsSampledN: nS } : {}),
          };
          results.push(r);
          opts.onResult?.(r);
        }
      }
    }
  } finally {
    if (prevThreads !== undefined && blas) setBlasThreads(prevThreads);
  }
  return results;
}

function formatRow(r: MatmulBenchResult): string {
  const sampled = r.tsSampledN ? ` (ts on n'=${r.tsSampledN})` : '';
  return `${r.op.padEnd(6)} ${r.shape.padEnd(26)} ${r.backend.padEnd(4)} ${r.gflops.toFixed(2).padStart(8)} GFLOP/s ${r.msPerCall.toFixed(2).padStart(9)} ms/call ×${r.reps}${sampled}`;
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const num = (name: string) => {
    const v = argValue(args, name);
    return v === undefined ? undefined : Number(v);
  };
  const blas = loadBlasBackend();
  if (!json) {
    console.log(blas ? `blas: ${blasConfig()}` : `blas: unavailable (${blasUnavailableReason()})`);
  }
  const opts: MatmulBenchOptions = {
    ...(num('--min-ms') !== undefined ? { minMs: num('--min-ms') } : {}),
    ...(num('--ts-max-gflop') !== undefined ? { tsMaxGflop: num('--ts-max-gflop') } : {}),
    ...(num('--threads') !== undefined ? { blasThreads: num('--threads') } : {}),
    ...(args.includes('--no-matmul') ? { ops: ['linear' as const] } : {}),
    ...(json ? {} : { onResult: (r: MatmulBenchResult) => console.log(formatRow(r)) }),
  };
  const results = benchMatmul(opts);
  if (json) console.log(JSON.stringify({ blas: blas ? blasConfig() : null, results }, null, 2));
}
