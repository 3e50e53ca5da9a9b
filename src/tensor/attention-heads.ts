/**
 * Attention's per-head products over all heads, built from a backend's `linear` and `matmul` one head at a
 * time (the TypeScript backend, and addons without the native `attnScores` / `attnMix`).
 * Shapes and layouts as in {@link MatmulBackend.attnScores} / {@link MatmulBackend.attnMix}.
 */
import type { MatmulBackend } from './backend.ts';

type Linear = MatmulBackend['linear'];
type Matmul = MatmulBackend['matmul'];

/** attnScores from per-head `linear` calls (each head's queries copied out of the [T, H, Dh] rows). */
export function headScoresVia(linear: Linear): MatmulBackend['attnScores'] {
  let qh = new Float32Array(0);
  return (q, keys, stride, H, T, S, Dh, out) => {
    if (qh.length < T * Dh) qh = new Float32Array(T * Dh);
    const qv = qh.subarray(0, T * Dh);
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) qv.set(q.subarray((t * H + h) * Dh, (t * H + h + 1) * Dh), t * Dh);
      linear(qv, keys.subarray(h * stride, h * stride + S * Dh), null, T, Dh, S, out.subarray(h * T * S, (h + 1) * T * S));
    }
  };
}

/** attnMix from per-head `matmul` calls (each head's result copied into the [T, H, Dh] rows). */
export function headMixVia(matmul: Matmul): MatmulBackend['attnMix'] {
  let zh = new Float32Array(0);
  return (pattern, values, stride, H, T, S, Dh, z) => {
    if (zh.length < T * Dh) zh = new Float32Array(T * Dh);
    const zv = zh.subarray(0, T * Dh);
    for (let h = 0; h < H; h++) {
      matmul(pattern.subarray(h * T * S, (h + 1) * T * S), values.subarray(h * stride, h * stride + S * Dh), T, S, Dh, zv);
      for (let t = 0; t < T; t++) z.set(zv.subarray(t * Dh, (t + 1) * Dh), (t * H + h) * Dh);
    }
  };
}
