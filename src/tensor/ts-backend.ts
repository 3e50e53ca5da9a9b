/**
 * Pure-TypeScript matmul kernels. Always available; used when the OpenBLAS addon
 * cannot be loaded, and as the reference the BLAS backend is tested against.
 */
import type { MatmulBackend } from './backend.ts';

/** out[m,n] = x[m,k] · w[n,k]ᵀ (+ bias). Blocks 4 output rows × 1 weight row so each weight row is read once per block. */
function linear(x: Float32Array, w: Float32Array, bias: Float32Array | null, m: number, k: number, n: number, out: Float32Array): void {
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const x0 = i * k, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
    for (let j = 0; j < n; j++) {
      const wo = j * k;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let p = 0; p < k; p++) {
        const wv = w[wo + p]!;
        s0 += x[x0 + p]! * wv;
        s1 += x[x1 + p]! * wv;
        s2 += x[x2 + p]! * wv;
        s3 += x[x3 + p]! * wv;
      }
      const b = bias ? bias[j]! : 0;
      out[i * n + j] = s0 + b;
      out[(i + 1) * n + j] = s1 + b;
      out[(i + 2) * n + j] = s2 + b;
      out[(i + 3) * n + j] = s3 + b;
    }
  }
  for (; i < m; i++) {
    const xo = i * k;
    for (let j = 0; j < n; j++) {
      const wo = j * k;
      let s0 = 0, s1 = 0;
      let p = 0;
      for (; p + 2 <= k; p += 2) {
        s0 += x[xo + p]! * w[wo + p]!;
        s1 += x[xo + p + 1]! * w[wo + p + 1]!;
      }
      if (p < k) s0 += x[xo + p]! * w[wo + p]!;
      out[i * n + j] = s0 + s1 + (bias ? bias[j]! : 0);
    }
  }
}

/** out[m,n] = a[m,k] · b[k,n], i-p-j loop order (streams rows of b). */
function matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, out: Float32Array): void {
  out.fill(0, 0, m * n);
  for (let i = 0; i < m; i++) {
    const oo = i * n;
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p]!;
      if (av === 0) continue;
      const bo = p * n;
      for (let j = 0; j < n; j++) out[oo + j]! += av * b[bo + j]!;
    }
  }
}

export const tsBackend: MatmulBackend = { name: 'ts', linear, matmul };
