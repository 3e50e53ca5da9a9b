/**
 * Elementwise and row-wise operations of the decoder (float32 storage, float64 accumulation).
 */
import erf from '@stdlib/math-base-special-erf';
import type { NativeOps } from '../tensor/backend.ts';
import type { Activation, NormSpec, RotarySpec, RopeScaling } from './spec.ts';
import type { NormWeights } from './weights.ts';
import { scatterHeads, type ScatterHeads } from './kv-cache.ts';

/**
 * Normalises each of the `rows` rows of x ([rows, d]) into out.
 * RMSNorm: x / sqrt(mean(x²) + eps) · (offset + w)   (HF Llama/Gemma; computed in float32 there, float64 here).
 * LayerNorm: (x - mean) / sqrt(var + eps) · w + b   (biased variance, as torch.nn.LayerNorm).
 */
export function normalize(x: Float32Array, rows: number, d: number, spec: NormSpec, w: NormWeights, out: Float32Array): void {
  const { eps, weightOffset } = spec;
  const g = w.w;
  const b = w.b;
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    if (spec.kind === 'rmsnorm') {
      let ss = 0;
      for (let i = 0; i < d; i++) ss += x[o + i]! * x[o + i]!;
      const inv = 1 / Math.sqrt(ss / d + eps);
      for (let i = 0; i < d; i++) out[o + i] = Math.fround(x[o + i]! * inv) * (weightOffset + g[i]!) + (b ? b[i]! : 0);
    } else {
      let mean = 0;
      for (let i = 0; i < d; i++) mean += x[o + i]!;
      mean /= d;
      let v = 0;
      for (let i = 0; i < d; i++) {
        const t = x[o + i]! - mean;
        v += t * t;
      }
      const inv = 1 / Math.sqrt(v / d + eps);
      for (let i = 0; i < d; i++) out[o + i] = (x[o + i]! - mean) * inv * (weightOffset + g[i]!) + (b ? b[i]! : 0);
    }
  }
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Applies the activation in place over `n` elements. */
export function activate(x: Float32Array, n: number, act: Activation): void {
  switch (act) {
    case 'silu':
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        x[i] = v / (1 + Math.exp(-v));
      }
      return;
    case 'gelu':
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        x[i] = 0.5 * v * (1 + erf(v / Math.SQRT2));
      }
      return;
    case 'gelu_tanh':
      // 0.5·v·(1 + tanh(u)) == v − v / (1 + e^{2u}); Math.exp is ~2× faster than Math.tanh in V8.
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        const u = SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);
        x[i] = v - v / (1 + Math.exp(2 * u));
      }
      return;
    case 'relu':
      for (let i = 0; i < n; i++) if (x[i]! < 0) x[i] = 0;
      return;
  }
}

/**
 * Rotary tables: cos/sin for the given absolute positions, [positions.length, rotaryDim/2].
 * Mirrors HF: inv_freq computed in float32 as 1 / theta^(2i/dim), freqs = float32(pos) · inv_freq
 * (float32 product), then cos/sin; rope scaling variants adjust inv_freq (and longrope scales cos/sin).
 */
export function rotaryTables(r: RotarySpec, positions: Int32Array, seqLenHint: number): { cos: Float32Array; sin: Float32Array } {
  const half = r.rotaryDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = Math.fround(1 / Math.fround(Math.pow(r.theta, Math.fround((2 * i) / r.rotaryDim))));
  let mscale = 1;
  applyScaling(r.scaling, invFreq, r.rotaryDim, seqLenHint, (m) => (mscale = m));
  const cos = new Float32Array(positions.length * half);
  const sin = new Float32Array(positions.length * half);
  for (let p = 0; p < positions.length; p++) {
    const pos = positions[p]!;
    for (let i = 0; i < half; i++) {
      const f = Math.fround(pos * invFreq[i]!);
      cos[p * half + i] = Math.cos(f) * mscale;
      sin[p * half + i] = Math.sin(f) * mscale;
    }
  }
  return { cos, sin };
}

function applyScaling(sc: RopeScaling | null, invFreq: Float32Array, dim: number, seqLen: number, setMscale: (m: number) => void): void {
  if (!sc) return;
  const half = invFreq.length;
  switch (sc.type) {
    case 'linear':
      for (let i = 0; i < half; i++) invFreq[i] = invFreq[i]! / sc.factor;
      return;
    case 'llama3': {
      // HF _compute_llama3_parameters
      const lowWl = sc.originalMaxPositionEmbeddings / sc.lowFreqFactor;
      const highWl = sc.originalMaxPositionEmbeddings / sc.highFreqFactor;
      for (let i = 0; i < half; i++) {
        const f = invFreq[i]!;
        const wl = (2 * Math.PI) / f;
        if (wl < highWl) continue;
        if (wl > lowWl) {
          invFreq[i] = f / sc.factor;
        } else {
          const smooth = (sc.originalMaxPositionEmbeddings / wl - sc.lowFreqFactor) / (sc.highFreqFactor - sc.lowFreqFactor);
          invFreq[i] = (1 - smooth) * (f / sc.factor) + smooth * f;
        }
      }
      return;
    }
    case 'longrope': {
      // HF _compute_longrope_parameters: long factors beyond the original context, short otherwise.
      const ext = seqLen > sc.originalMaxPositionEmbeddings ? sc.longFactor : sc.shortFactor;
      if (ext.length !== half) throw new Error(`rope_scaling factors have ${ext.length} entries, expected rotary_dim/2 = ${half}`);
      for (let i = 0; i < half; i++) invFreq[i] = Math.fround(invFreq[i]! / ext[i]!);
      const factor = sc.maxPositionEmbeddings / sc.originalMaxPositionEmbeddings;
      setMscale(factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(sc.originalMaxPositionEmbeddings)));
      return;
    }
  }
  void dim;
}

/**
 * Rotates, in place, the first rotaryDim dims of each head vector in x ([T, heads, dHead]).
 * 'half': pairs (i, i + rot/2)  — HF rotate_half.   'interleaved': pairs (2i, 2i+1) — llama2.c / GPT-J.
 */
export function applyRotary(x: Float32Array, T: number, heads: number, dHead: number, r: RotarySpec, cos: Float32Array, sin: Float32Array): void {
  const half = r.rotaryDim / 2;
  for (let t = 0; t < T; t++) {
    const co = t * half;
    for (let h = 0; h < heads; h++) {
      const o = (t * heads + h) * dHead;
      if (r.style === 'half') {
        for (let i = 0; i < half; i++) {
          const a = x[o + i]!;
          const b = x[o + i + half]!;
          const c = cos[co + i]!;
          const s = sin[co + i]!;
          x[o + i] = a * c - b * s;
          x[o + i + half] = b * c + a * s;
        }
      } else {
        for (let i = 0; i < half; i++) {
          const a = x[o + 2 * i]!;
          const b = x[o + 2 * i + 1]!;
          const c = cos[co + i]!;
          const s = sin[co + i]!;
          x[o + 2 * i] = a * c - b * s;
          x[o + 2 * i + 1] = a * s + b * c;
        }
      }
    }
  }
}

/** Numerically stable softmax of one row in place; an all -Infinity row becomes all zeros (documented behaviour). */
export function softmaxRow(x: Float32Array, off: number, n: number): void {
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (x[off + i]! > m) m = x[off + i]!;
  if (m === -Infinity) {
    x.fill(0, off, off + n);
    return;
  }
  let s = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(x[off + i]! - m);
    x[off + i] = e;
    s += e;
  }
  const inv = 1 / s;
  for (let i = 0; i < n; i++) x[off + i] = x[off + i]! * inv;
}

/**
 * scores[h, t, j] (heads × T × S) ← scores · scale (then the tanh softcap when `cap` is not null), −∞ where key
 * j (absolute position j) lies after query position qpos[t] or `window` or more positions before it.
 */
export function scaleMask(scores: Float32Array, H: number, T: number, S: number, qpos: Int32Array, scale: number, win: number | null, cap: number | null): void {
  for (let h = 0; h < H; h++) {
    for (let t = 0; t < T; t++) {
      const o = (h * T + t) * S;
      const qt = qpos[t]!;
      for (let j = 0; j < S; j++) {
        if (j > qt || (win !== null && qt - j >= win)) {
          scores[o + j] = -Infinity;
          continue;
        }
        let v = scores[o + j]! * scale;
        if (cap !== null) v = Math.tanh(v / cap) * cap;
        scores[o + j] = v;
      }
    }
  }
}

/** Index of the first NaN or ±∞ in x[0..n), or −1. */
export function firstNonFinite(x: Float32Array, n: number): number {
  for (let i = 0; i < n; i++) if (!Number.isFinite(x[i]!)) return i;
  return -1;
}

/** [T, Hkv, Dh] → out [T, Hkv·group, Dh] with each KV head repeated for its `group` query heads (HF repeat_kv order). */
export function expandHeads(x: Float32Array, T: number, Hkv: number, group: number, Dh: number, out: Float32Array): Float32Array {
  if (group === 1) {
    out.set(x.subarray(0, T * Hkv * Dh));
    return out;
  }
  const H = Hkv * group;
  for (let t = 0; t < T; t++) {
    for (let g = 0; g < Hkv; g++) {
      const src = x.subarray((t * Hkv + g) * Dh, (t * Hkv + g + 1) * Dh);
      for (let r = 0; r < group; r++) out.set(src, (t * H + g * group + r) * Dh);
    }
  }
  return out;
}

// The elementwise loops of a forward pass are small functions of their own: inside the forward pass (large,
// and full of per-call closures) V8 re-optimised the whole function around each hot loop and deoptimised it
// again at the next call (six OSR compiles of up to 128 ms over the first ten Qwen2.5-0.5B-dims passes).
/** x[i] ·= f for i in [lo, hi). */
export function scaleRange(x: Float32Array, lo: number, hi: number, f: number): void {
  for (let i = lo; i < hi; i++) x[i] = x[i]! * f;
}
/** x ← tanh(x / c) · c (Gemma-2 final-logit softcap). */
export function softcapRange(x: Float32Array, c: number): void {
  for (let i = 0; i < x.length; i++) x[i] = Math.tanh(x[i]! / c) * c;
}

/** out[i] = a[i] + b[i] for i in [lo, hi). */
export function addRange(out: Float32Array, a: Float32Array, b: Float32Array, lo: number, hi: number): void {
  for (let i = lo; i < hi; i++) out[i] = a[i]! + b[i]!;
}
/** out[i] = a[i] + b[i] + c[i] for i in [lo, hi) (float64 sum, rounded once). */
export function add3Range(out: Float32Array, a: Float32Array, b: Float32Array, c: Float32Array, lo: number, hi: number): void {
  for (let i = lo; i < hi; i++) out[i] = a[i]! + b[i]! + c[i]!;
}
/** x[i] ·= y[i] for i in [lo, hi). */
export function mulRange(x: Float32Array, y: Float32Array, lo: number, hi: number): void {
  for (let i = lo; i < hi; i++) x[i] = x[i]! * y[i]!;
}

/** The decoder's elementwise / row-wise ops, native where the backend has them (see {@link decoderOps}). */
export interface DecoderOps {
  normalize: typeof normalize;
  addRange: typeof addRange;
  add3Range: typeof add3Range;
  mulRange: typeof mulRange;
  activate(x: Float32Array, n: number, act: Activation): void;
  softmaxRows(x: Float32Array, rows: number, n: number): void;
  scaleMask: typeof scaleMask;
  firstNonFinite: typeof firstNonFinite;
  scatterHeads: ScatterHeads;
}

const TS_OPS: DecoderOps = {
  normalize,
  addRange,
  add3Range,
  mulRange,
  activate,
  softmaxRows: (x, rows, n) => {
    for (let r = 0; r < rows; r++) softmaxRow(x, r * n, n);
  },
  scaleMask,
  firstNonFinite,
  scatterHeads,
};
const cache = new WeakMap<NativeOps, DecoderOps>();

/**
 * The one place that chooses between the TypeScript ops above (the reference; the 'ts' backend) and a
 * backend's native ones (native/plip_ops.cc): native for what it implements, TypeScript for the rest
 * (activations other than SiLU and tanh-GELU).
 */
export function decoderOps(native: NativeOps | undefined): DecoderOps {
  if (!native) return TS_OPS;
  let ops = cache.get(native);
  if (!ops) {
    const ex = native.exact;
    ops = {
      normalize: ex
        ? (x, rows, d, spec, w, out) => ex.normRows(x, rows, d, spec.kind === 'rmsnorm' ? 0 : 1, spec.eps, spec.weightOffset, w.w, w.b ?? null, out)
        : normalize,
      addRange: ex ? ex.addRange : addRange,
      add3Range: ex ? ex.add3Range : add3Range,
      mulRange: ex ? ex.mulRange : mulRange,
      activate: (x, n, act) => (act === 'silu' || act === 'gelu_tanh' ? native.activate(x, n, act) : activate(x, n, act)),
      softmaxRows: native.softmaxRows,
      scaleMask: native.scaleMask,
      firstNonFinite: native.firstNonFinite,
      scatterHeads: ex ? ex.scatterHeads : scatterHeads,
    };
    cache.set(native, ops);
  }
  return ops;
}
