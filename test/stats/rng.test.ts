import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng, fnv1a64, streamSeedWords } from '../../src/stats/rng.ts';

// Reference values: an independent Python implementation of the documented derivation
// (FNV-1a-64 of the stream, SplitMix64) followed by NumPy's MT19937:
//   words = derive(seed, stream)                       # see src/stats/rng.ts header
//   numpy.random.RandomState(numpy.array(words, dtype=numpy.uint32)).random_sample(4)
const REFERENCE: { seed: number; stream: string; words: number[]; draws: number[] }[] = [
  { seed: 42, stream: 'perm', words: [1895157, 3672312183, 1605567365, 2221165567], draws: [0.16647689662382992, 0.7113921165777095, 0.9143959631302012, 0.2199896743920441] },
  { seed: 42, stream: 'boot', words: [2045663079, 4005745314, 3360951435, 295255183], draws: [0.8850872121303486, 0.32883507287403946, 0.24042595816152446, 0.7556073660399985] },
  { seed: 0, stream: '', words: [3280043009, 1805975344, 269277868, 3233583894], draws: [0.23697496992255263, 0.061721513807491246, 0.3672911258392726, 0.22461949734795472] },
  { seed: -1, stream: 'layer-scan/π', words: [3781490542, 2884250418, 3614954237, 1827585520], draws: [0.5448473114162937, 0.6609656835127263, 0.09929384874786829, 0.9195467985377569] },
];

test('FNV-1a-64 matches published test vectors', () => {
  assert.equal(fnv1a64(''), 0xcbf29ce484222325n);
  assert.equal(fnv1a64('a'), 0xaf63dc4c8601ec8cn);
  assert.equal(fnv1a64('foobar'), 0x85944171f73967e8n);
});

test('stream seed words and first draws match the Python/NumPy reference bit-for-bit', () => {
  for (const ref of REFERENCE) {
    assert.deepEqual(Array.from(streamSeedWords(ref.seed, ref.stream)), ref.words, `words for (${ref.seed}, '${ref.stream}')`);
    const rng = createRng(ref.seed, ref.stream);
    assert.deepEqual([rng.next(), rng.next(), rng.next(), rng.next()], ref.draws);
  }
});

test('same (seed, stream) reproduces the sequence; seed or stream change alters it', () => {
  const seq = (seed: number, stream: string): number[] => {
    const r = createRng(seed, stream);
    return Array.from({ length: 50 }, () => r.next());
  };
  assert.deepEqual(seq(7, 'a'), seq(7, 'a'));
  assert.notDeepEqual(seq(7, 'a'), seq(7, 'b'));
  assert.notDeepEqual(seq(7, 'a'), seq(8, 'a'));
  const r1 = createRng(7, 'shuffle');
  const r2 = createRng(7, 'shuffle');
  assert.deepEqual(r1.shuffle([...Array(20).keys()]), r2.shuffle([...Array(20).keys()]));
  assert.deepEqual(r1.sample(['a', 'b', 'c', 'd', 'e'], 3), r2.sample(['a', 'b', 'c', 'd', 'e'], 3));
  assert.equal(r1.normal(), r2.normal());
});

test('streams are uncorrelated and draws are uniform on [0, 1)', () => {
  const n = 20000;
  const a = createRng(123, 'stream-a');
  const b = createRng(123, 'stream-b');
  let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, min = 1, max = 0;
  const bins = new Array<number>(10).fill(0);
  for (let i = 0; i < n; i++) {
    const u = a.next();
    const v = b.next();
    sa += u; sb += v; saa += u * u; sbb += v * v; sab += u * v;
    min = Math.min(min, u); max = Math.max(max, u);
    bins[Math.floor(u * 10)]! += 1;
  }
  const cov = sab / n - (sa / n) * (sb / n);
  const corr = cov / Math.sqrt((saa / n - (sa / n) ** 2) * (sbb / n - (sb / n) ** 2));
  assert.ok(Math.abs(corr) < 0.03, `correlation ${corr}`); // SE ≈ 0.007
  assert.ok(Math.abs(sa / n - 0.5) < 0.01, `mean ${sa / n}`);
  assert.ok(min >= 0 && max < 1);
  // Chi-square goodness of fit, 9 df: 99.9% quantile is 27.9.
  const chi2 = bins.reduce((s, c) => s + (c - n / 10) ** 2 / (n / 10), 0);
  assert.ok(chi2 < 27.9, `chi2 ${chi2}`);
});

test('int(n) is unbiased and in range; invalid n throws', () => {
  const r = createRng(5, 'int');
  const counts = new Array<number>(7).fill(0);
  for (let i = 0; i < 70000; i++) {
    const k = r.int(7);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
    counts[k]! += 1;
  }
  const chi2 = counts.reduce((s, c) => s + (c - 10000) ** 2 / 10000, 0);
  assert.ok(chi2 < 22.5, `chi2 ${chi2}`); // 6 df, 99.9% quantile 22.46
  assert.throws(() => r.int(0), RangeError);
  assert.throws(() => r.int(2.5), RangeError);
  assert.equal(r.int(1), 0);
});

test('shuffle is an in-place permutation; sample draws distinct elements without mutating', () => {
  const r = createRng(9, 'perm');
  const arr = [...Array(30).keys()];
  const same = r.shuffle(arr);
  assert.equal(same, arr);
  assert.deepEqual(arr.slice().sort((u, v) => u - v), [...Array(30).keys()]);
  assert.notDeepEqual(arr, [...Array(30).keys()]);
  const src = [10, 20, 30, 40, 50, 60];
  const s = r.sample(src, 4);
  assert.equal(s.length, 4);
  assert.equal(new Set(s).size, 4);
  assert.ok(s.every((v) => src.includes(v)));
  assert.deepEqual(src, [10, 20, 30, 40, 50, 60]);
  assert.deepEqual(r.sample(src, 0), []);
  assert.equal(r.sample(src, 6).length, 6);
  assert.throws(() => r.sample(src, 7), RangeError);
  // Each position of a 3-element shuffle is uniform: 6 orders each ≈ 1/6.
  const freq = new Map<string, number>();
  for (let i = 0; i < 6000; i++) {
    const k = r.shuffle([1, 2, 3]).join('');
    freq.set(k, (freq.get(k) ?? 0) + 1);
  }
  assert.equal(freq.size, 6);
  for (const c of freq.values()) assert.ok(Math.abs(c - 1000) < 150, `order count ${c}`);
});

test('normal() has mean ≈ 0 and variance ≈ 1 and honours mean/sd', () => {
  const r = createRng(11, 'normal');
  const n = 20000;
  let s = 0, ss = 0;
  for (let i = 0; i < n; i++) {
    const z = r.normal();
    assert.ok(Number.isFinite(z));
    s += z; ss += z * z;
  }
  assert.ok(Math.abs(s / n) < 0.03, `mean ${s / n}`);
  assert.ok(Math.abs(ss / n - (s / n) ** 2 - 1) < 0.05, `var ${ss / n}`);
  const r2 = createRng(11, 'normal');
  const z0 = r2.normal();
  const r3 = createRng(11, 'normal');
  assert.equal(r3.normal(10, 2), 10 + 2 * z0);
});

test('invalid seeds are rejected', () => {
  assert.throws(() => createRng(1.5, 'x'), RangeError);
  assert.throws(() => createRng(Number.NaN, 'x'), RangeError);
  assert.throws(() => createRng(2 ** 60, 'x'), RangeError);
});
