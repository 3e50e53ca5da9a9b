/**
 * Pure-TypeScript matmul kernels. Always available; used when the OpenBLAS addon
 * cannot be loaded, and as the reference the BLAS backend is tested against.
 *
 * Accumulation happens in float64 (JS numbers); results are rounded to float32 once, on store.
 */
import type { MatmulBackend } from './backend.ts';
import { headMixVia, headScoresVia } from './attention-heads.ts';
import { widenInto, type WeightArray } from './weight.ts';

/** Rows of x kept hot (L2) while every 4-row block of w streams past once per chunk. */
const ROW_CHUNK = 64;

/**
 * out[m,n] = x[m,k] · w[n,k]ᵀ (+ bias).
 *
 * Register-blocked 4×4: each inner step loads 4 values of x and 4 of w for 16 multiply-adds.
 * Loop order: chunks of ROW_CHUNK rows of x, then 4-row blocks of w (held in L1), then 4-row blocks of x.
 * Edges (m or n not a multiple of 4) use 1×4 and 1×1 kernels; m === 1 is the 1×4 gemv kernel.
 */
function linear(x: Float32Array, w: Float32Array, bias: Float32Array | null, m: number, k: number, n: number, out: Float32Array): void {
  linearStrided(x, w, bias, m, k, n, out, 0, n);
}

/**
 * The kernel behind {@link linear}, writing out[outOff + i·ldo + j]. Column blocks of w computed with
 * this kernel give bit-identical results to one call over all of w as long as every block but the last
 * has a multiple of 4 rows (the 4-row blocking of w is then the same).
 */
function linearStrided(
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  m: number,
  k: number,
  n: number,
  out: Float32Array,
  outOff: number,
  ldo: number,
): void {
  const n4 = n - (n % 4);
  for (let ic = 0; ic < m; ic += ROW_CHUNK) {
    const iEnd = Math.min(m, ic + ROW_CHUNK);
    const i4End = ic + (iEnd - ic) - ((iEnd - ic) % 4);
    for (let j = 0; j < n4; j += 4) {
      const w0 = j * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
      const c0 = bias ? bias[j]! : 0, c1 = bias ? bias[j + 1]! : 0, c2 = bias ? bias[j + 2]! : 0, c3 = bias ? bias[j + 3]! : 0;
      let i = ic;
      for (; i < i4End; i += 4) {
        const x0 = i * k, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0;
        let s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        let s20 = 0, s21 = 0, s22 = 0, s23 = 0;
        let s30 = 0, s31 = 0, s32 = 0, s33 = 0;
        for (let p = 0; p < k; p++) {
          const b0 = w[w0 + p]!, b1 = w[w1 + p]!, b2 = w[w2 + p]!, b3 = w[w3 + p]!;
          const a0 = x[x0 + p]!;
          s00 += a0 * b0; s01 += a0 * b1; s02 += a0 * b2; s03 += a0 * b3;
          const a1 = x[x1 + p]!;
          s10 += a1 * b0; s11 += a1 * b1; s12 += a1 * b2; s13 += a1 * b3;
          const a2 = x[x2 + p]!;
          s20 += a2 * b0; s21 += a2 * b1; s22 += a2 * b2; s23 += a2 * b3;
          const a3 = x[x3 + p]!;
          s30 += a3 * b0; s31 += a3 * b1; s32 += a3 * b2; s33 += a3 * b3;
        }
        let o = outOff + i * ldo + j;
        out[o] = s00 + c0; out[o + 1] = s01 + c1; out[o + 2] = s02 + c2; out[o + 3] = s03 + c3;
        o += ldo;
        out[o] = s10 + c0; out[o + 1] = s11 + c1; out[o + 2] = s12 + c2; out[o + 3] = s13 + c3;
        o += ldo;
        out[o] = s20 + c0; out[o + 1] = s21 + c1; out[o + 2] = s22 + c2; out[o + 3] = s23 + c3;
        o += ldo;
        out[o] = s30 + c0; out[o + 1] = s31 + c1; out[o + 2] = s32 + c2; out[o + 3] = s33 + c3;
      }
      // Leftover rows (1–3, or m === 1: the gemv case): one x row against 4 w rows.
      // k unrolled by 2 with separate accumulators (shorter add dependency chains).
      for (; i < iEnd; i++) {
        const xo = i * k;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        let p = 0;
        for (; p + 2 <= k; p += 2) {
          const a = x[xo + p]!, b = x[xo + p + 1]!;
          s0 += a * w[w0 + p]!; s1 += a * w[w1 + p]!; s2 += a * w[w2 + p]!; s3 += a * w[w3 + p]!;
          t0 += b * w[w0 + p + 1]!; t1 += b * w[w1 + p + 1]!; t2 += b * w[w2 + p + 1]!; t3 += b * w[w3 + p + 1]!;
        }
        if (p < k) {
          const a = x[xo + p]!;
          s0 += a * w[w0 + p]!; s1 += a * w[w1 + p]!; s2 += a * w[w2 + p]!; s3 += a * w[w3 + p]!;
        }
        const o = outOff + i * ldo + j;
        out[o] = s0 + t0 + c0; out[o + 1] = s1 + t1 + c1; out[o + 2] = s2 + t2 + c2; out[o + 3] = s3 + t3 + c3;
      }
    }
    // Leftover columns (1–3 rows of w): plain dot products with two accumulators.
    for (let j = n4; j < n; j++) {
      const wo = j * k;
      const c = bias ? bias[j]! : 0;
      for (let i = ic; i < iEnd; i++) {
        const xo = i * k;
        let s0 = 0, s1 = 0;
        let p = 0;
        for (; p + 2 <= k; p += 2) {
          s0 += x[xo + p]! * w[wo + p]!;
          s1 += x[xo + p + 1]! * w[wo + p + 1]!;
        }
        if (p < k) s0 += x[xo + p]! * w[wo + p]!;
        out[outOff + i * ldo + j] = s0 + s1 + c;
      }
    }
  }
}

/**
 * out[m,n] = a[m,k] · b[k,n]. i-p-j order (streams rows of b); four rows of b are folded into each
 * pass over the output row, and groups of four zero coefficients (causal-mask zeros) are skipped.
 */
function matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, out: Float32Array): void {
  out.fill(0, 0, m * n);
  const k4 = k - (k % 4);
  for (let i = 0; i < m; i++) {
    const oo = i * n, ao = i * k;
    let p = 0;
    for (; p < k4; p += 4) {
      const a0 = a[ao + p]!, a1 = a[ao + p + 1]!, a2 = a[ao + p + 2]!, a3 = a[ao + p + 3]!;
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
      const b0 = p * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
      for (let j = 0; j < n; j++) {
        out[oo + j] = out[oo + j]! + (a0 * b[b0 + j]! + a1 * b[b1 + j]! + a2 * b[b2 + j]! + a3 * b[b3 + j]!);
      }
    }
    for (; p < k; p++) {
      const av = a[ao + p]!;
      if (av === 0) continue;
      const bo = p * n;
      for (let j = 0; j < n; j++) out[oo + j] = out[oo + j]! + av * b[bo + j]!;
    }
  }
}

/** Bytes of widened weight rows kept in the scratch tile of {@link linearWeight} (L2-sized). */
const TILE_BYTES = 256 * 1024;
let tile = new Float32Array(0);

/**
 * out[m,n] = x[m,k] · w[n,k]ᵀ (+ bias) for a weight in any storage dtype. Half-precision weights are
 * widened (exactly) a tile of rows at a time into a reused scratch buffer and multiplied by the same
 * kernel as {@link linear}; tiles hold a multiple of 4 rows, so the result is bit-identical to `linear`
 * on the float32 widening of `w`.
 */
function linearWeight(x: Float32Array, w: WeightArray, bias: Float32Array | null, m: number, k: number, n: number, out: Float32Array): void {
  if (w.dtype === 'f32') return linear(x, w.data, bias, m, k, n, out);
  if (w.data.length < n * k) throw new RangeError(`linearWeight: weight has ${w.data.length} elements but n*k = ${n * k}`);
  const rows = Math.max(4, Math.floor(TILE_BYTES / 4 / Math.max(1, k) / 4) * 4);
  if (tile.length < rows * k) tile = new Float32Array(rows * k);
  for (let j0 = 0; j0 < n; j0 += rows) {
    const nb = Math.min(rows, n - j0);
    widenInto(w, j0 * k, nb * k, tile, 0);
    linearStrided(x, tile, bias ? bias.subarray(j0, j0 + nb) : null, m, k, nb, out, j0, n);
  }
}

export const tsBackend: MatmulBackend = {
  name: 'ts',
  linear,
  linearWeight,
  matmul,
  attnScores: headScoresVia(linear),
  attnMix: headMixVia(matmul),
};
