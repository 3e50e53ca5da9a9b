/**
 * Scratch buffers of a model's forward passes, kept from one call to the next.
 *
 * Writing to freshly allocated memory costs a page fault per 4 KiB page: on the 2-vCPU VMs this project
 * runs on, the first fill of a new 78 MB Float32Array took 30–40 ms and refilling it 4 ms. A forward pass
 * needs ~16 activation-sized buffers; allocating them per call (and collecting them after) cost more than
 * the elementwise work done in them. Hook tensors are views of these buffers, valid only during the call
 * (already the contract: buffers are reused from layer to layer; clone to keep one).
 */
import { KVCache } from './kv-cache.ts';

const RETAIN_FLOATS = 128 * 2 ** 20; // 512 MB: larger passes allocate what exceeds it per call

export class Scratch {
  private readonly bufs = new Map<string, Float32Array>();
  private readonly caches = new Map<number, KVCache>();
  private held = 0;
  busy = false;

  constructor(private readonly retain: boolean) {}

  /**
   * A view of `n` floats under `key`, filled with `fill` (0 by default; null: left as the last user left it,
   * for a buffer the caller overwrites whole), distinct from every other key's.
   */
  take(key: string, n: number, fill: number | null = 0): Float32Array {
    let b = this.bufs.get(key);
    if (!b || b.length < n) {
      const grow = n - (b?.length ?? 0);
      const fresh = new Float32Array(n);
      if (!this.retain || this.held + grow > RETAIN_FLOATS) {
        if (fill !== null && fill !== 0) fresh.fill(fill);
        return fresh;
      }
      this.held += grow;
      this.bufs.set(key, (b = fresh));
      if (fill !== null && fill !== 0) b.fill(fill);
      return b;
    }
    const v = b.length === n ? b : b.subarray(0, n);
    if (fill !== null) v.fill(fill);
    return v;
  }

  /**
   * An empty KV cache for batch row `row` of a pass that was given none (its keys and values are needed only
   * during the call), with room for T positions: the previous call's when it fits, else a new one.
   */
  tempCache(row: number, nLayers: number, nHeads: number, dHead: number, T: number): KVCache {
    const c = this.caches.get(row);
    if (c && c.nLayers === nLayers && c.nHeads === nHeads && c.dHead === dHead) {
      c.truncate(0);
      if (c.capacityFor(T)) return c;
    }
    const fresh = new KVCache(nLayers, nHeads, dHead, T);
    const floats = (c: KVCache) => 2 * c.nLayers * c.nHeads * c.dHead * c.capacity;
    const held = this.held - (c ? floats(c) : 0);
    if (!this.retain || held + floats(fresh) > RETAIN_FLOATS) return fresh;
    this.held = held + floats(fresh);
    this.caches.set(row, fresh);
    return fresh;
  }
}

const byModel = new WeakMap<object, Scratch>();

/**
 * The model's scratch, marked busy until `release`; a nested forward pass on the same model (from inside a
 * hook) gets a throwaway one instead of the buffers its caller is still using.
 */
export function acquireScratch(model: object): Scratch {
  let s = byModel.get(model);
  if (!s) byModel.set(model, (s = new Scratch(true)));
  if (s.busy) return new Scratch(false);
  s.busy = true;
  return s;
}

export function releaseScratch(s: Scratch): void {
  s.busy = false;
}
