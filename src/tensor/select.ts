/**
 * Backend selection: `auto` uses the OpenBLAS addon when it loads, otherwise the TypeScript kernels.
 *
 * Threads: the addon splits every product over its own pool, one thread per core by default (OpenBLAS itself
 * runs single-threaded; native/README.md says why); set OPENBLAS_NUM_THREADS before start-up, or call
 * `setBlasThreads(n)` at run time, to limit it (e.g. when several processes share the machine). Calls are
 * synchronous on the calling JS thread.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { ExactOps, MatmulBackend, NativeOps } from './backend.ts';
import { tsBackend } from './ts-backend.ts';
import { headMixVia, headScoresVia } from './attention-heads.ts';
import type { WeightArray } from './weight.ts';
import { PlipOptionError } from '../io/errors.ts';

export type BackendName = 'auto' | 'ts' | 'blas';

interface NativeAddon {
  linear(x: Float32Array, w: Float32Array, bias: Float32Array | null, m: number, k: number, n: number, out: Float32Array): void;
  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, out: Float32Array): void;
  /** Half-precision weights (kind 0 = bf16, 1 = f16); absent in addons built before it existed. */
  linearHalf?(x: Float32Array, w: Uint16Array, kind: number, bias: Float32Array | null, m: number, k: number, n: number, out: Float32Array): void;
  halfKernel?(name?: string): string;
  halfSmallRows?(kind: number): number;
  /** bf16 weights times activations rounded to bf16 (AVX512-BF16; `--compute bf16`); absent in older addons. */
  linearBf16Compute?(x: Float32Array, w: Uint16Array, kind: number, bias: Float32Array | null, m: number, k: number, n: number, out: Float32Array): void;
  bf16ComputeAvailable?(): boolean;
  config?(): string;
  numThreads?(): number;
  setNumThreads?(n: number): number;
  /** Elementwise ops (native/plip_ops.cc); absent in addons built before them. */
  opsAvailable?(): boolean;
  opsIsa?(): string;
  activate?(x: Float32Array, n: number, kind: number): void;
  firstNonFinite?(x: Float32Array, n: number): number;
  softmaxRows?(x: Float32Array, rows: number, n: number): void;
  scaleMask?(s: Float32Array, heads: number, T: number, S: number, qpos: Int32Array, scale: number, window: number, cap: number): void;
  normRows?: ExactOps['normRows'];
  addRange?: ExactOps['addRange'];
  add3Range?: ExactOps['add3Range'];
  mulRange?: ExactOps['mulRange'];
  scatterHeads?: ExactOps['scatterHeads'];
  logSoftmaxParts?(logits: Float32Array): [number, number, number];
  subtractInto?(logits: Float32Array, c: number, out: Float64Array): void;
  klFromLogProbs?(logP: Float64Array, logQ: Float64Array, probP: Float64Array | null): number;
  logSoftmaxPartsRows?(rows: Float32Array[]): Float64Array;
  subtractRowsInto?(rows: Float32Array[], c: Float64Array, outs: Float64Array[]): void;
  klRows?(logP: Float64Array[], logQ: Float64Array[], probP: Float64Array[] | null): Float64Array;
  expNonPositiveInto?(x: Float64Array, out: Float64Array): number;
  /** Attention's per-head products for all heads (native/plip_attn.cc); absent in addons built before them. */
  attnScores?(q: Float32Array, keys: Float32Array, kHeadStride: number, H: number, T: number, S: number, Dh: number, out: Float32Array): void;
  attnMix?(pattern: Float32Array, values: Float32Array, vHeadStride: number, H: number, T: number, S: number, Dh: number, z: Float32Array): void;
}

let cachedBlas: MatmulBackend | null | undefined;
let cachedAddon: NativeAddon | undefined;
let blasLoadError: string | undefined;

/** Path of the compiled addon (built by `npm run build:native`; `PLIP_NATIVE_ADDON` overrides it). */
export function nativeAddonPath(): string {
  if (process.env.PLIP_NATIVE_ADDON) return process.env.PLIP_NATIVE_ADDON;
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, '..', '..', 'native', 'build', 'Release', 'plip_blas.node');
}

/**
 * Sets OpenBLAS's load-time environment. Thread timeout: see below. Core type: on CPUs with AVX-512,
 * Debian's OpenBLAS 0.3.21 falls back to Haswell kernels; ask for SkylakeX ones
 * only when /proc/cpuinfo shows avx512f. Must run before the addon (and so libopenblas) is loaded:
 * OpenBLAS reads OPENBLAS_CORETYPE once, in its load-time constructor. On avx512f CPUs this
 * overrides an inherited OPENBLAS_CORETYPE (some environments pin Haswell globally); set
 * PLIP_OPENBLAS_CORETYPE to force any core instead. Only effective on the main thread: in a worker,
 * `process.env` is a copy that does not reach the C environment.
 */
export function configureOpenblasCoretype(): void {
  // OpenBLAS's threads spin for up to 2^28 cycles after each call before they sleep, holding the cores the
  // addon's own pool needs (AMD Zen 3, 2 vCPUs: bf16 decode steps alternated between ~80 and ~135 ms). The
  // addon now keeps OpenBLAS single-threaded, so its threads only run if a user raises that; 2^4 cycles then
  // makes them sleep at once. The user's own OPENBLAS_THREAD_TIMEOUT wins.
  if (process.env.OPENBLAS_THREAD_TIMEOUT === undefined) process.env.OPENBLAS_THREAD_TIMEOUT = '4';
  // An explicit choice for PLIP wins over everything.
  const forced = process.env.PLIP_OPENBLAS_CORETYPE;
  if (forced) {
    process.env.OPENBLAS_CORETYPE = forced;
    return;
  }
  try {
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    // Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) falls back to Haswell kernels on AVX-512 CPUs it does not
    // recognise (e.g. AMD Zen 4/5), and some environments pin OPENBLAS_CORETYPE=Haswell globally. With
    // avx512f present, SkylakeX kernels are correct and ~1.5–3× faster for sgemm, so select them.
    if (/\bavx512f\b/.test(cpuinfo)) process.env.OPENBLAS_CORETYPE = 'SkylakeX';
  } catch {
    /* not Linux: leave OpenBLAS (and any OPENBLAS_CORETYPE the user set) alone */
  }
}

/** Loads the OpenBLAS addon, or returns null (with the reason in `blasUnavailableReason()`). */
export function loadBlasBackend(): MatmulBackend | null {
  if (cachedBlas !== undefined) return cachedBlas;
  const p = nativeAddonPath();
  if (!existsSync(p)) {
    blasLoadError = `native addon not built (${p}); run \`npm run build:native\` after installing libopenblas-dev`;
    cachedBlas = null;
    return null;
  }
  try {
    configureOpenblasCoretype();
    const req = createRequire(import.meta.url);
    const addon = req(p) as NativeAddon;
    cachedAddon = addon;
    const linearHalf = addon.linearHalf;
    if (!linearHalf) throw new Error(`${p} predates half-precision weights (no linearHalf); rebuild it with \`npm run build:native\``);
    const linearWeight = (x: Float32Array, w: WeightArray, bias: Float32Array | null, m: number, k: number, n: number, out: Float32Array) => {
      if (w.dtype === 'f32') addon.linear(x, w.data, bias, m, k, n, out);
      else linearHalf(x, w.data, w.dtype === 'bf16' ? 0 : 1, bias, m, k, n, out);
    };
    const linear: MatmulBackend['linear'] = (x, w, bias, m, k, n, out) => addon.linear(x, w, bias, m, k, n, out);
    const matmul: MatmulBackend['matmul'] = (a, b, m, k, n, out) => addon.matmul(a, b, m, k, n, out);
    const { attnScores, attnMix } = addon;
    cachedBlas = {
      name: 'blas',
      linear,
      linearWeight,
      matmul,
      attnScores: attnScores ? (q, kk, st, H, T, S, Dh, out) => attnScores(q, kk, st, H, T, S, Dh, out) : headScoresVia(linear),
      attnMix: attnMix ? (p, vv, st, H, T, S, Dh, z) => attnMix(p, vv, st, H, T, S, Dh, z) : headMixVia(matmul),
      ops: process.env.PLIP_NATIVE_OPS === '0' ? undefined : nativeOps(addon),
    };
  } catch (e) {
    blasLoadError = `native addon failed to load: ${(e as Error).message}`;
    cachedBlas = null;
  }
  return cachedBlas;
}

/** The addon's elementwise ops when it has them and the CPU has AVX-512 (PLIP_NATIVE_OPS=0 turns them off). */
function nativeOps(a: NativeAddon): NativeOps | undefined {
  const { opsAvailable, activate, softmaxRows, scaleMask, firstNonFinite } = a;
  if (!opsAvailable || !activate || !softmaxRows || !scaleMask || !firstNonFinite || !opsAvailable()) return undefined;
  const { normRows, addRange, add3Range, mulRange, scatterHeads } = a;
  const exact: ExactOps | undefined =
    normRows && addRange && add3Range && mulRange && scatterHeads
      ? {
          normRows: (x, rows, d, kind, eps, offset, g, b, out) => normRows(x, rows, d, kind, eps, offset, g, b, out),
          addRange: (out, x, y, lo, hi) => addRange(out, x, y, lo, hi),
          add3Range: (out, x, y, z, lo, hi) => add3Range(out, x, y, z, lo, hi),
          mulRange: (x, y, lo, hi) => mulRange(x, y, lo, hi),
          scatterHeads: (src, dst, T, H, group, Dh, cap, at) => scatterHeads(src, dst, T, H, group, Dh, cap, at),
        }
      : undefined;
  return {
    exact,
    activate: (x, n, kind) => activate(x, n, kind === 'silu' ? 0 : 1),
    firstNonFinite: (x, n) => firstNonFinite(x, n),
    softmaxRows: (x, rows, n) => softmaxRows(x, rows, n),
    scaleMask: (sc, H, T, S, qpos, scale, win, cap) => scaleMask(sc, H, T, S, qpos, scale, win ?? -1, cap ?? 0),
  };
}

/** Native loops of the distribution metrics (native/plip_exact.cc), bit-identical to src/metrics/distribution.ts. */
export interface MetricKernels {
  /** [index of the first NaN/+∞ logit or −1, max logit, Σ exp(logit − max) (Neumaier)]. */
  logSoftmaxParts(logits: Float32Array): [number, number, number];
  subtractInto(logits: Float32Array, c: number, out: Float64Array): void;
  klFromLogProbs(logP: Float64Array, logQ: Float64Array, probP: Float64Array | null): number;
  /** The same for several rows at once, rows split over the addon's threads (each row's bits unchanged): [3·R]. */
  logSoftmaxPartsRows(rows: Float32Array[]): Float64Array;
  subtractRowsInto(rows: Float32Array[], c: Float64Array, outs: Float64Array[]): void;
  klRows(logP: Float64Array[], logQ: Float64Array[], probP: Float64Array[] | null): Float64Array;
  /** out[i] = Math.exp(x[i]) bit for bit, for x[i] ≤ 0 (log-probabilities; RangeError otherwise), vectorised where the CPU allows. */
  expNonPositiveInto(x: Float64Array, out: Float64Array): void;
}
let metricKernels: MetricKernels | null | undefined;

/** The addon's metric loops when it loads and has them (PLIP_NATIVE_METRICS=0 turns them off), else undefined. */
export function nativeMetricKernels(): MetricKernels | undefined {
  if (metricKernels === undefined) {
    metricKernels = null;
    if (process.env.PLIP_NATIVE_METRICS !== '0' && loadBlasBackend()) {
      const a = cachedAddon!;
      const { logSoftmaxParts, subtractInto, klFromLogProbs, logSoftmaxPartsRows, subtractRowsInto, klRows, expNonPositiveInto } = a;
      if (logSoftmaxParts && subtractInto && klFromLogProbs && logSoftmaxPartsRows && subtractRowsInto && klRows && expNonPositiveInto) {
        metricKernels = {
          logSoftmaxParts: (x) => logSoftmaxParts(x),
          subtractInto: (x, c, o) => subtractInto(x, c, o),
          klFromLogProbs: (p, q, pp) => klFromLogProbs(p, q, pp),
          logSoftmaxPartsRows: (r) => logSoftmaxPartsRows(r),
          subtractRowsInto: (r, c, o) => subtractRowsInto(r, c, o),
          klRows: (p, q, pp) => klRows(p, q, pp),
          expNonPositiveInto: (x, o) => void expNonPositiveInto(x, o),
        };
      }
    }
  }
  return metricKernels ?? undefined;
}

export function blasUnavailableReason(): string | undefined {
  return blasLoadError;
}

/**
 * OpenBLAS build/config string, chosen core and thread count, e.g.
 * `OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64 | core=SkylakeX | threads=2`;
 * undefined when the addon is unavailable.
 */
export function blasConfig(): string | undefined {
  loadBlasBackend();
  return cachedAddon?.config?.();
}

/** The ISA of the addon's elementwise ops: 'avx512', 'avx2' or 'none' (TypeScript ops); undefined without the addon. */
export function blasOpsIsa(): string | undefined {
  loadBlasBackend();
  return cachedAddon?.opsIsa?.();
}

export type HalfKernelName = 'amx' | 'avx512' | 'avx2' | 'portable';
/**
 * The addon's half-precision kernels: 'amx' (as 'avx512', and bf16 products of more than 8 rows on AMX
 * tiles: amx_tile/amx_bf16), 'avx512' (avx512f/bw/vl), 'avx2' (avx2+fma+f16c) or 'portable' C++;
 * the best the CPU supports is chosen at load. With `name`, selects them (tests and benchmarks compare
 * them; naming one the CPU lacks throws); undefined without the addon.
 */
export function halfKernel(name?: HalfKernelName): string | undefined {
  loadBlasBackend();
  return cachedAddon?.halfKernel?.(name);
}

/**
 * Most rows of x a bf16/f16 product takes through the current half kernel's small-m path (native/README.md:
 * weights converted in registers, never widened; 0 = none), or undefined without the addon.
 */
export function halfSmallRows(dtype: 'bf16' | 'f16'): number | undefined {
  loadBlasBackend();
  return cachedAddon?.halfSmallRows?.(dtype === 'bf16' ? 0 : 1);
}

/** Sets OpenBLAS's thread count (returns the count now in effect), or undefined without the addon. */
export function setBlasThreads(n: number): number | undefined {
  loadBlasBackend();
  return cachedAddon?.setNumThreads?.(n);
}

/** Returns the requested backend; `blas` throws a clear error if the addon is unavailable. */
export function selectBackend(name: BackendName = 'auto'): MatmulBackend {
  if (name === 'ts') return tsBackend;
  const blas = loadBlasBackend();
  if (name === 'blas') {
    if (!blas) throw new Error(`backend 'blas' requested but ${blasUnavailableReason()}`);
    return blas;
  }
  return blas ?? tsBackend;
}

/**
 * Why `--compute bf16` cannot run here (no addon, an addon built before it, a CPU without avx512_bf16, or
 * PLIP_BF16_COMPUTE=0), or null when it can.
 */
export function bf16ComputeUnavailableReason(): string | null {
  if (process.env.PLIP_BF16_COMPUTE === '0') return 'turned off by PLIP_BF16_COMPUTE=0';
  if (!loadBlasBackend()) return `the native addon is not available (${blasUnavailableReason() ?? 'not loaded'})`;
  const a = cachedAddon!;
  if (!a.linearBf16Compute || !a.bf16ComputeAvailable) return 'the native addon predates bf16 compute; rebuild it with `npm run build:native`';
  if (!a.bf16ComputeAvailable()) return 'this CPU lacks avx512_bf16 (see /proc/cpuinfo)';
  return null;
}

/**
 * The error `compute: 'bf16'` meets on `backend` (a name: 'ts', 'blas', 'auto' or unset), or null when it can
 * run: the one place its refusals are worded (loadModel checks before reading the weights, bf16ComputeBackend
 * again on the backend it wraps).
 */
export function bf16ComputeRefusal(backend: string | undefined): PlipOptionError | null {
  const why = bf16ComputeUnavailableReason();
  if (why) return new PlipOptionError('compute', `bf16 needs the native addon on a CPU with avx512_bf16: ${why}; use 'f32'`);
  if (backend === 'ts') return new PlipOptionError('compute', "bf16 runs on the blas backend, not 'ts'");
  return null;
}

/**
 * `backend` with every product of a bf16 weight matrix taken in bf16 (native/plip_bf16_dot.h): the activations
 * entering it rounded to bf16 (round to nearest even), products of bf16 pairs, float32 sums and outputs.
 * Everything else (norms, attention's products, the residual stream) stays float32. Throws
 * bf16ComputeRefusal's error where it has one.
 */
export function bf16ComputeBackend(backend: MatmulBackend): MatmulBackend {
  const refusal = bf16ComputeRefusal(backend.name);
  if (refusal) throw refusal;
  const dot = cachedAddon!.linearBf16Compute!;
  return {
    ...backend,
    linearWeight: (x, w, bias, m, k, n, out) => {
      if (w.dtype === 'bf16') dot(x, w.data, 0, bias, m, k, n, out);
      else backend.linearWeight(x, w, bias, m, k, n, out);
    },
  };
}
