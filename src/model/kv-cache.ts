/**
 * Key/value cache for incremental decoding.
 *
 * Keys and values are stored PER QUERY HEAD (GQA groups expanded) in a head-major layout
 * [H, capacity, Dh], so each head's keys are one contiguous block and a hook that edits
 * `hook_k`/`hook_v` for one query head is honoured in later decoding steps too.
 * Keys are stored after rotary (they never need re-rotation: absolute positions are fixed).
 */
export class KVCache {
  /** Absolute positions held so far are 0 .. length-1. */
  length = 0;
  private cap: number;
  private readonly k: Float32Array[] = [];
  private readonly v: Float32Array[] = [];

  constructor(
    readonly nLayers: number,
    readonly nHeads: number,
    readonly dHead: number,
    initialCapacity = 64,
  ) {
    this.cap = Math.max(1, initialCapacity);
    for (let l = 0; l < nLayers; l++) {
      this.k.push(new Float32Array(nHeads * this.capacity * dHead));
      this.v.push(new Float32Array(nHeads * this.capacity * dHead));
    }
  }

  /** Ensures room for `extra` more positions (doubling; re-lays out the head-major blocks). */
  reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.capacity) return;
    let cap = this.capacity;
    while (cap < need) cap *= 2;
    const { nHeads: H, dHead: Dh } = this;
    for (let l = 0; l < this.nLayers; l++) {
      for (const arr of [this.k, this.v]) {
        const old = arr[l]!;
        const next = new Float32Array(H * cap * Dh);
        for (let h = 0; h < H; h++) next.set(old.subarray(h * this.capacity * Dh, (h * this.capacity + this.length) * Dh), h * cap * Dh);
        arr[l] = next;
      }
    }
    this.cap = cap;
  }

  /** Positions the buffers hold before the next {@link reserve} grows them. */
  get capacity(): number {
    return this.cap;
  }

  /** Whether T positions fit without growing. */
  capacityFor(T: number): boolean {
    return this.length + T <= this.capacity;
  }

  /**
   * Writes new keys/values of `layer` at positions length .. length+T-1 (does not advance): [T, H/group, Dh]
   * row-major, query head h taking key/value head ⌊h / group⌋ (group 1: one per query head, [T, H, Dh]).
   * `scatter` does the copy (the decoder passes its backend's native one).
   */
  write(layer: number, kNew: Float32Array, vNew: Float32Array, T: number, group = 1, scatter: ScatterHeads = scatterHeads): void {
    const { nHeads: H, dHead: Dh, capacity: cap } = this;
    if (!Number.isInteger(group) || group < 1 || H % group !== 0) throw new RangeError(`KVCache.write: group ${group} does not divide ${H} heads`);
    const need = T * (H / group) * Dh;
    if (kNew.length < need || vNew.length < need) throw new RangeError(`KVCache.write: ${T} positions of ${H / group} heads need ${need} floats, got ${kNew.length} keys / ${vNew.length} values`);
    scatter(kNew, this.k[layer]!, T, H, group, Dh, cap, this.length);
    scatter(vNew, this.v[layer]!, T, H, group, Dh, cap, this.length);
  }

  /** Head h's keys for positions 0 .. S-1 as a contiguous [S, Dh] view. */
  keys(layer: number, h: number, S: number): Float32Array {
    const o = h * this.capacity * this.dHead;
    return this.k[layer]!.subarray(o, o + S * this.dHead);
  }

  values(layer: number, h: number, S: number): Float32Array {
    const o = h * this.capacity * this.dHead;
    return this.v[layer]!.subarray(o, o + S * this.dHead);
  }

  /** Layer `layer`'s keys, head-major: head h's position j at h·headStride + j·Dh (valid until the next reserve). */
  keyHeads(layer: number): { data: Float32Array; headStride: number } {
    return { data: this.k[layer]!, headStride: this.capacity * this.dHead };
  }

  /** Layer `layer`'s values, laid out as {@link keyHeads}. */
  valueHeads(layer: number): { data: Float32Array; headStride: number } {
    return { data: this.v[layer]!, headStride: this.capacity * this.dHead };
  }

  /** Marks T more positions as filled (after every layer has written them). */
  advance(T: number): void {
    this.length += T;
  }

  /**
   * A new cache holding this one's first `length` positions of layers ≥ `fromLayer`, with room for `extra`
   * more positions. Layers < `fromLayer` get this cache's first `earlierUpTo` positions (default none: a row
   * that starts at `fromLayer` never reads them; pass the row's final length to keep decoding from the fork).
   * Incremental recomputation forks a baseline's cache so each edited condition appends its own keys.
   */
  fork(length: number, fromLayer = 0, extra = 0, earlierUpTo = 0): KVCache {
    return this.forkInto(undefined, length, fromLayer, extra, earlierUpTo);
  }

  /**
   * {@link fork} into `into` when it has this cache's shape and room for `length + extra` positions (its
   * earlier contents are overwritten or past its new length), else into a new cache; returns the cache used.
   * Incremental sweeps refill a few caches instead of allocating one per condition (fresh memory costs a page
   * fault per 4 KiB and garbage collections).
   */
  forkInto(into: KVCache | undefined, length: number, fromLayer = 0, extra = 0, earlierUpTo = 0): KVCache {
    if (!Number.isInteger(length) || length < 0 || length > this.length) throw new Error(`KVCache.fork(${length}): cache holds ${this.length} positions`);
    if (earlierUpTo > this.length) throw new Error(`KVCache.fork: earlier layers up to ${earlierUpTo}, but the cache holds ${this.length} positions`);
    const need = Math.max(1, length + extra, earlierUpTo);
    const fits = into && into !== this && into.nLayers === this.nLayers && into.nHeads === this.nHeads && into.dHead === this.dHead && into.capacity >= need;
    const out = fits ? into : new KVCache(this.nLayers, this.nHeads, this.dHead, need);
    const { nHeads: H, dHead: Dh } = this;
    for (let l = 0; l < this.nLayers; l++) {
      const n = l < fromLayer ? earlierUpTo : length;
      if (n === 0) continue;
      for (let h = 0; h < H; h++) {
        out.k[l]!.set(this.k[l]!.subarray(h * this.capacity * Dh, (h * this.capacity + n) * Dh), h * out.capacity * Dh);
        out.v[l]!.set(this.v[l]!.subarray(h * this.capacity * Dh, (h * this.capacity + n) * Dh), h * out.capacity * Dh);
      }
    }
    out.length = length;
    return out;
  }

  /** Drops everything after `length` positions (e.g. to reuse a shared prompt prefix). */
  truncate(length: number): void {
    if (length < 0 || length > this.length) throw new Error(`KVCache.truncate(${length}): cache holds ${this.length} positions`);
    this.length = length;
  }
}

/** The KV cache write: dst[h, at + t, :] = src[t, ⌊h / group⌋, :] for a head-major [H, cap, Dh] block (a copy). */
export type ScatterHeads = (src: Float32Array, dst: Float32Array, T: number, H: number, group: number, Dh: number, cap: number, at: number) => void;

/**
 * {@link ScatterHeads} in TypeScript: one subarray + set per head vector (~1 ns per float, half the time of an
 * element loop); the native one (native/plip_exact.cc) copies the same floats without the views.
 */
export function scatterHeads(src: Float32Array, dst: Float32Array, T: number, H: number, group: number, Dh: number, cap: number, at: number): void {
  const Hs = H / group;
  // head by head, so the writes run through one contiguous [T, Dh] block at a time
  for (let h = 0; h < H; h++) {
    const g = (h / group) | 0;
    let d = (h * cap + at) * Dh;
    for (let t = 0; t < T; t++, d += Dh) {
      const so = (t * Hs + g) * Dh;
      dst.set(src.subarray(so, so + Dh), d);
    }
  }
}
