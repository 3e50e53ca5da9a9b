/**
 * Weight matrices in their checkpoint dtype.
 *
 * A {@link WeightArray} is a row-major weight (PyTorch `nn.Linear` layout `[out, in]`, or an
 * embedding table `[V, D]`) kept exactly as stored: float32, or the raw 16-bit patterns of bf16 / f16.
 * Nothing widens a whole matrix to float32; kernels widen tiles (or single values) on the fly and
 * accumulate in float32 or wider. Every bf16 and f16 value is exactly representable in float32, so a
 * product with a half-precision weight equals the product with its float32 widening (see
 * {@link MatmulBackend.linearWeight} for the precise summation-order guarantees).
 */
import { bf16BitsToF32Bits, f16BitsToF32Bits } from '../io/dtype.ts';

/** Storage dtype of a weight matrix. */
export type WeightDtype = 'f32' | 'bf16' | 'f16';

/** A float32 weight. */
export interface F32Weight {
  readonly dtype: 'f32';
  readonly data: Float32Array;
}
/** A half-precision weight: `data` holds the raw 16-bit patterns (little-endian, as in safetensors). */
export interface HalfWeight {
  readonly dtype: 'bf16' | 'f16';
  readonly data: Uint16Array;
}
/** A weight matrix with its storage dtype. Shape is implied by the model spec (row-major). */
export type WeightArray = F32Weight | HalfWeight;

/** Wraps a float32 array (no copy). */
export function f32Weight(data: Float32Array): F32Weight {
  return { dtype: 'f32', data };
}

/** Wraps raw bf16/f16 bit patterns (no copy). */
export function halfWeight(dtype: 'bf16' | 'f16', data: Uint16Array): HalfWeight {
  return { dtype, data };
}

/** Number of elements. */
export function weightLength(w: WeightArray): number {
  return w.data.length;
}

/** Bytes held (2 per element for bf16/f16, 4 for f32). */
export function weightBytes(w: WeightArray): number {
  return w.data.byteLength;
}

/** Zero-copy view of elements [begin, end). */
export function weightSubarray(w: WeightArray, begin: number, end: number): WeightArray {
  return w.dtype === 'f32' ? { dtype: 'f32', data: w.data.subarray(begin, end) } : { dtype: w.dtype, data: w.data.subarray(begin, end) };
}

/**
 * Widens elements [start, start + n) of `w` into `out[outOff .. outOff + n)` (exact: bf16/f16 → float32
 * is lossless).
 */
export function widenInto(w: WeightArray, start: number, n: number, out: Float32Array, outOff = 0): void {
  if (w.dtype === 'f32') {
    out.set(w.data.subarray(start, start + n), outOff);
    return;
  }
  const src = w.data.subarray(start, start + n);
  const dst = new Uint32Array(out.buffer, out.byteOffset + outOff * 4, n);
  if (w.dtype === 'bf16') bf16BitsToF32Bits(src, dst);
  else f16BitsToF32Bits(src, dst);
}

/** A fresh float32 copy of the whole weight (tests and small tensors only; never used for model matrices). */
export function widenWeight(w: WeightArray): Float32Array {
  const out = new Float32Array(w.data.length);
  widenInto(w, 0, w.data.length, out, 0);
  return out;
}

/**
 * Index of the first NaN or ±Inf element of a weight (raw float32, bf16 or f16 data), or -1. Works on
 * bit patterns: an all-ones exponent field means Inf or NaN in all three formats.
 */
export function firstNonFinite(data: Float32Array | Uint16Array, dtype: WeightDtype): number {
  if (dtype === 'f32') {
    const u = new Uint32Array(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < u.length; i++) if ((u[i]! & 0x7f800000) === 0x7f800000) return i;
    return -1;
  }
  const mask = dtype === 'bf16' ? 0x7f80 : 0x7c00;
  const u = data as Uint16Array;
  const n = u.length;
  // Two elements per 32-bit read where the view is 4-byte aligned.
  let i = 0;
  if ((u.byteOffset & 3) === 0) {
    const u32 = new Uint32Array(u.buffer, u.byteOffset, n >>> 1);
    const m2 = ((mask << 16) | mask) >>> 0;
    for (let j = 0; j < u32.length; j++) {
      const v = u32[j]! & m2;
      if ((v & mask) === mask || (v >>> 16) === mask) {
        i = 2 * j;
        break;
      }
      i = 2 * j + 2;
    }
  }
  for (; i < n; i++) if ((u[i]! & mask) === mask) return i;
  return -1;
}

/** The value at element `i` widened to a JS number (for error messages and tests). */
export function weightValue(w: WeightArray, i: number): number {
  const out = new Float32Array(1);
  widenInto(w, i, 1, out, 0);
  return out[0]!;
}
