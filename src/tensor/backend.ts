import type { WeightArray } from './weight.ts';

/**
 * Pluggable matrix-multiply backend.
 *
 * The whole engine multiplies activations by weights stored in PyTorch `nn.Linear`
 * layout (`[out_features, in_features]`), i.e. `Y = X · Wᵀ`. Backends implement exactly
 * that product (plus a plain `A · B` for attention), so weights are never transposed or copied.
 */
export interface MatmulBackend {
  /** 'ts' (pure TypeScript kernels) or 'blas' (OpenBLAS Node-API addon). */
  readonly name: 'ts' | 'blas';
  /**
   * out[m, n] = x[m, k] · w[n, k]ᵀ   (+ bias[n] if given). Row-major, float32.
   * When m === 1 an implementation should use a matrix-vector kernel (gemv).
   * `out` must not alias `x` or `w`.
   */
  linear(x: Float32Array, w: Float32Array, bias: Float32Array | null, m: number, k: number, n: number, out: Float32Array): void;
  /**
   * out[m, n] = x[m, k] · w[n, k]ᵀ (+ bias[n]) with `w` in its storage dtype (float32, bf16 or f16),
   * accumulated in float32 or wider; a half-precision `w` is never widened as a whole.
   *
   * Equality with {@link linear} on the float32 widening of `w` (half values are exact in float32):
   * - 'ts': bit-identical for every shape (same kernel on widened tiles).
   * - 'blas', m > 1: bit-identical where widened tiles of w go through the same sgemm (f16; bf16 on portable
   *   code). bf16 on avx512 / avx2 takes a register-blocked kernel up to 64 / 32 rows and the packed bf16 GEMM
   *   (native/plip_bf16_gemm.h) above, amx its tiles above 8 rows: float32 sums in their own order.
   * - 'blas', m === 1: a bf16/f16 GEMV reading the 16-bit weights directly.
   * Where the order differs from sgemm's the results differ only by float32 rounding (|Δ| ≤ ~1e-6 · Σ|x·w| in
   * practice, tested at 1e-5).
   */
  linearWeight(x: Float32Array, w: WeightArray, bias: Float32Array | null, m: number, k: number, n: number, out: Float32Array): void;
  /**
   * out[m, n] = a[m, k] · b[k, n]   (row-major, float32, no transposes). Used for attention (pattern · V).
   */
  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, out: Float32Array): void;
  /**
   * Attention scores for every head: out[h, t, j] = Σ_i q[t, h, i] · keys[h·kHeadStride + j·Dh + i].
   * q [T, H, Dh] (one row's queries), keys head-major with `kHeadStride` floats between heads (a KV cache
   * layer), out [H, T, S]. Each head's product equals `linear(q_h, keys_h, null, T, Dh, S)` bit for bit.
   */
  attnScores(q: Float32Array, keys: Float32Array, kHeadStride: number, H: number, T: number, S: number, Dh: number, out: Float32Array): void;
  /**
   * Pattern · values for every head: z[t, h, d] = Σ_j pattern[h, t, j] · values[h·vHeadStride + j·Dh + d].
   * pattern [H, T, S], values head-major like `keys` above, z [T, H, Dh]. Each head equals
   * `matmul(pattern_h, values_h, T, S, Dh)` bit for bit.
   */
  attnMix(pattern: Float32Array, values: Float32Array, vHeadStride: number, H: number, T: number, S: number, Dh: number, z: Float32Array): void;
  /**
   * Native elementwise / row-wise ops of the decoder (the addon's AVX-512 kernels, native/plip_ops.cc), or
   * undefined: the forward pass then uses the TypeScript ops (src/model/ops.ts), as the 'ts' backend always does.
   * They agree with the TypeScript ops within a few float32 ulps (test/tensor/native-ops.test.ts).
   */
  readonly ops?: NativeOps;
}

/** Elementwise and row-wise decoder ops in native code (in place; shapes as in src/model/ops.ts). */
export interface NativeOps {
  /** x[0..n) ← act(x): kind 'silu' (x·σ(x)) or 'gelu_tanh'. */
  activate(x: Float32Array, n: number, kind: 'silu' | 'gelu_tanh'): void;
  /** Index of the first NaN or ±∞ in x[0..n), or −1. */
  firstNonFinite(x: Float32Array, n: number): number;
  /** Row-wise softmax of x[rows, n]; an all −∞ row becomes zeros; NaN anywhere in a row makes the row NaN. */
  softmaxRows(x: Float32Array, rows: number, n: number): void;
  /**
   * scores[h, t, j] (heads × T × S) ← scores · scale (tanh softcap `cap` when not null), −∞ where key j lies
   * after query position qpos[t] or `window` or more positions before it (null: no window).
   */
  scaleMask(scores: Float32Array, heads: number, T: number, S: number, qpos: Int32Array, scale: number, window: number | null, cap: number | null): void;
  /** Bit-identical native copies of TypeScript ops (native/plip_exact.cc); absent in older addons. */
  exact?: ExactOps;
}

/** The TypeScript ops of src/model/ops.ts and src/model/forward.ts reproduced bit for bit in native code. */
export interface ExactOps {
  /** out[rows, d] ← norm(x[rows, d]); kind 0 RMSNorm, 1 LayerNorm; `b` null for none (see src/model/ops.ts normalize). */
  normRows(x: Float32Array, rows: number, d: number, kind: 0 | 1, eps: number, offset: number, g: Float32Array, b: Float32Array | null, out: Float32Array): void;
  /** out[i] = a[i] + b[i], i ∈ [lo, hi). */
  addRange(out: Float32Array, a: Float32Array, b: Float32Array, lo: number, hi: number): void;
  /** out[i] = a[i] + b[i] + c[i] (float64 sum, one rounding), i ∈ [lo, hi). */
  add3Range(out: Float32Array, a: Float32Array, b: Float32Array, c: Float32Array, lo: number, hi: number): void;
  /** x[i] ·= y[i], i ∈ [lo, hi). */
  mulRange(x: Float32Array, y: Float32Array, lo: number, hi: number): void;
  /** The KV cache write: dst[h, at + t, :] = src[t, ⌊h / group⌋, :], src [T, H/group, Dh], dst head-major [H, cap, Dh]. */
  scatterHeads(src: Float32Array, dst: Float32Array, T: number, H: number, group: number, Dh: number, cap: number, at: number): void;
}
