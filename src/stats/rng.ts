/**
 * Deterministic, seeded random numbers with named streams.
 *
 * Every random quantity in an experiment (permutations, bootstrap resamples, prompt
 * subsampling, ...) should draw from its own *named stream* so that adding draws to
 * one part of an analysis never shifts the numbers another part sees.
 *
 * Stream seed derivation (exact, so it can be re-implemented elsewhere):
 * 1. `key = FNV-1a-64(UTF-8 bytes of stream)` (offset basis 0xcbf29ce484222325,
 *    prime 0x100000001b3).
 * 2. `s = mix64(uint64(seed)) XOR key`, where `mix64` is the SplitMix64 output
 *    finalizer (Steele, Lea & Flood 2014) and `uint64(seed)` is the seed's two's
 *    complement modulo 2^64.
 * 3. Run SplitMix64 from state `s` for two outputs `a, b`; the 32-bit words
 *    `[hi(a), lo(a), hi(b), lo(b)]` seed MT19937 via `init_by_array`
 *    (`@stdlib/random-base-mt19937` with an array seed — identical to
 *    `numpy.random.RandomState(words)`).
 * 4. `next()` is the classic 53-bit `genrand_res53` double:
 *    `((u1 >>> 5) * 2^26 + (u2 >>> 6)) / 2^53`, as in NumPy's legacy `random_sample`.
 *
 * Different stream names give unrelated MT19937 states (the hash avalanche makes
 * seeds for "perm" and "boot" effectively independent); MT19937 is not cryptographic.
 *
 * @module
 */
import mt19937 from '@stdlib/random-base-mt19937';

const MASK64 = (1n << 64n) - 1n;

/** FNV-1a 64-bit hash of the UTF-8 encoding of `s`. */
export function fnv1a64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(s)) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & MASK64;
  }
  return h;
}

/** SplitMix64 output finalizer (a bijective 64-bit mixer). */
export function mix64(z0: bigint): bigint {
  let z = z0 & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/**
 * The four 32-bit words used to seed MT19937 for `(seed, stream)`; exported so the
 * derivation can be checked against an independent implementation.
 *
 * @param seed - any safe integer (negative values are taken modulo 2^64)
 * @param stream - stream name; any string, including the empty string
 */
export function streamSeedWords(seed: number, stream: string): Uint32Array {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`createRng: seed must be a safe integer (got ${String(seed)})`);
  }
  if (typeof stream !== 'string') {
    throw new TypeError('createRng: stream must be a string');
  }
  let state = mix64(BigInt.asUintN(64, BigInt(seed))) ^ fnv1a64(stream);
  const words = new Uint32Array(4);
  for (let k = 0; k < 2; k++) {
    state = (state + 0x9e3779b97f4a7c15n) & MASK64;
    const out = mix64(state);
    words[2 * k] = Number(out >> 32n);
    words[2 * k + 1] = Number(out & 0xffffffffn);
  }
  return words;
}

/** A deterministic random number generator bound to one `(seed, stream)` pair. */
export interface Rng {
  /** The integer seed this generator was created with. */
  readonly seed: number;
  /** The stream name this generator was created with. */
  readonly stream: string;
  /** Uniform double in [0, 1) with 53 random bits. */
  next(): number;
  /** Raw uniform 32-bit unsigned integer in [0, 2^32). */
  uint32(): number;
  /**
   * Uniform integer in [0, n) without modulo bias (rejection sampling on 32-bit draws).
   * @throws RangeError unless `n` is an integer with 1 ≤ n ≤ 2^32
   */
  int(n: number): number;
  /** Fisher–Yates shuffle of `arr` in place; returns the same array. */
  shuffle<T>(arr: T[]): T[];
  /**
   * `k` distinct elements of `arr` drawn uniformly without replacement, in random
   * order (partial Fisher–Yates on a copy; `arr` is not modified).
   * @throws RangeError unless 0 ≤ k ≤ arr.length
   */
  sample<T>(arr: readonly T[], k: number): T[];
  /**
   * Normal deviate with the given mean and standard deviation (Box–Muller, one
   * output per two uniforms, no cached spare, so the stream position is simple).
   */
  normal(mean?: number, sd?: number): number;
}

/**
 * Creates a deterministic generator for the named stream.
 *
 * The same `(seed, stream)` always produces the same sequence, on every platform;
 * different stream names yield statistically independent sequences.
 *
 * @param seed - experiment seed (a safe integer)
 * @param stream - stream name, e.g. `"layer-scan/permutation"`
 * @returns a fresh {@link Rng}
 * @throws RangeError if `seed` is not a safe integer
 */
export function createRng(seed: number, stream: string): Rng {
  const words = streamSeedWords(seed, stream);
  const u32 = mt19937.factory({ seed: words });
  const next = (): number => {
    const a = u32() >>> 5;
    const b = u32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  };
  const int = (n: number): number => {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2^32] (got ${String(n)})`);
    }
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const u = u32();
      if (u < limit) return u % n;
    }
  };
  return {
    seed,
    stream,
    next,
    uint32: () => u32(),
    int,
    shuffle<T>(arr: T[]): T[] {
      for (let i = arr.length - 1; i > 0; i--) {
        const j = int(i + 1);
        const t = arr[i]!;
        arr[i] = arr[j]!;
        arr[j] = t;
      }
      return arr;
    },
    sample<T>(arr: readonly T[], k: number): T[] {
      if (!Number.isInteger(k) || k < 0 || k > arr.length) {
        throw new RangeError(`Rng.sample: k must be an integer in [0, ${arr.length}] (got ${String(k)})`);
      }
      const a = arr.slice();
      for (let i = 0; i < k; i++) {
        const j = i + int(a.length - i);
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
      }
      return a.slice(0, k);
    },
    normal(mean = 0, sd = 1): number {
      const u1 = 1 - next(); // (0, 1]: log is finite
      const u2 = next();
      return mean + sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    },
  };
}
