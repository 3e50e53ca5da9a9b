/**
 * Safetensors dtypes and bit-exact float conversions.
 *
 * Widening to float32 (used when reading with `loadSafetensorsFile`, and on tiles of bf16/f16 weights
 * kept as stored): F16 via a 65 536-entry lookup table (exact, including subnormals, ±inf and NaN
 * payloads), BF16 by placing the 16 bits in the upper half of a float32.
 * Writing narrows with round-to-nearest-even, like numpy / torch.
 */

/** Dtypes this toolkit can read (model matrices stay F16/BF16; everything else is widened to float32). */
export const SUPPORTED_DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32'] as const;
export type SafetensorsDtype = (typeof SUPPORTED_DTYPES)[number];
/** Dtypes {@link writeSafetensorsFile} can write. */
export type WritableDtype = 'F32' | 'F16' | 'BF16';

const ITEMSIZE: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4 };

export function isSupportedDtype(d: string): d is SafetensorsDtype {
  return Object.prototype.hasOwnProperty.call(ITEMSIZE, d);
}

/** Bytes per element of a supported dtype. */
export function itemSize(d: SafetensorsDtype): number {
  return ITEMSIZE[d];
}

let f16Table: Uint32Array | undefined;

/** float32 bit patterns of all 65 536 half-precision values. */
function halfTable(): Uint32Array {
  if (f16Table) return f16Table;
  const t = new Uint32Array(65536);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // zero or subnormal: mant * 2^-24, exactly representable in float32
      f[0] = mant * 2 ** -24;
      t[h] = (sign | u[0]!) >>> 0;
    } else if (exp === 31) {
      // inf (mant 0) or NaN (payload kept in the top mantissa bits)
      t[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    } else {
      t[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    }
  }
  f16Table = t;
  return t;
}

/** Widens `src` (F16 bit patterns) into `dst` (float32 bit patterns), element for element. */
export function f16BitsToF32Bits(src: Uint16Array, dst: Uint32Array): void {
  const t = halfTable();
  const n = src.length;
  for (let i = 0; i < n; i++) dst[i] = t[src[i]!]!;
}

/** Widens `src` (BF16 bit patterns) into `dst` (float32 bit patterns). */
export function bf16BitsToF32Bits(src: Uint16Array, dst: Uint32Array): void {
  const n = src.length;
  for (let i = 0; i < n; i++) dst[i] = src[i]! << 16;
}

/** float32 bit pattern → F16 bit pattern, round-to-nearest-even; overflow → ±inf; NaN stays NaN. */
export function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    mant |= 0x800000;
    const shift = 14 - e; // 14..24
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (up to inf)
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++;
  return half;
}

/** float32 bit pattern → BF16 bit pattern, round-to-nearest-even; NaN stays (quiet) NaN. */
export function f32BitsToBf16(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  const bias = 0x7fff + ((x >>> 16) & 1);
  return ((x >>> 0) + bias) >>> 16;
}
