/**
 * Sampling's candidate order: the typed-key sort equals a comparator sort by (logit descending, id
 * ascending), and `pick` chooses exactly what the straightforward comparator-sort sampler chooses (same id,
 * same logprob bits) for any u, temperature, top-k and top-p.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byLogitDescending, pick } from '../../src/generate/generate.ts';
import { createRng } from '../../src/stats/rng.ts';

/** The sampler written the plain way: every array a JS array, a comparator sort. */
function pickReference(logits: Float32Array, temperature: number, topK: number, topP: number, u: number): { id: number; logprob: number } {
  let order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (topK > 0) order = order.slice(0, topK);
  const m = logits[order[0]!]! / temperature;
  let probs = order.map((i) => Math.exp(logits[i]! / temperature - m));
  let z = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / z);
  if (topP < 1) {
    let acc = 0;
    let k = 0;
    while (k < probs.length && acc < topP) acc += probs[k++]!;
    order = order.slice(0, k);
    probs = probs.slice(0, k);
    z = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / z);
  }
  let acc = 0;
  for (let i = 0; i < order.length; i++) {
    acc += probs[i]!;
    if (u < acc || i === order.length - 1) return { id: order[i]!, logprob: Math.log(probs[i]!) };
  }
  throw new Error('unreachable');
}

/** Logits with many ties, both zeros, ±large values and −∞ (a masked id). */
function awkwardLogits(V: number, seed: number): Float32Array {
  const rng = createRng(seed, 'test');
  const x = new Float32Array(V);
  for (let i = 0; i < V; i++) {
    const r = rng.next();
    x[i] = r < 0.05 ? -0 : r < 0.1 ? 0 : r < 0.12 ? -Infinity : r < 0.14 ? 1e30 * (rng.next() - 0.5) : Math.round((rng.next() * 16 - 8) * 4) / 4;
  }
  return x;
}

test('byLogitDescending orders like the comparator sort (ties toward the lowest id, −0 equal to +0, −∞ last)', () => {
  for (const [V, seed] of [[1, 1], [7, 2], [500, 3], [40_000, 4]] as const) {
    const x = awkwardLogits(V, seed);
    const want = Array.from({ length: V }, (_, i) => i).sort((a, b) => x[b]! - x[a]! || a - b);
    assert.deepEqual(Array.from(byLogitDescending(x)), want, `V=${V}`);
  }
  const neg = Float32Array.from([-3, -1, -2, -Infinity, -1]);
  assert.deepEqual(Array.from(byLogitDescending(neg)), [1, 4, 2, 0, 3]);
});

test('pick samples exactly what the comparator-sort sampler does (id and logprob bit for bit)', () => {
  const rng = createRng(9, 'test');
  for (const [V, seed] of [[3, 5], [64, 6], [2000, 7]] as const) {
    const x = awkwardLogits(V, seed).map((v) => (Math.abs(v) > 1e3 ? 0.5 : v)); // keep finite spread; −∞ stays
    for (const temperature of [0.3, 1, 1.7])
      for (const topK of [0, 1, 5, V + 3])
        for (const topP of [1, 0.9, 0.2])
          for (let t = 0; t < 8; t++) {
            const u = t === 0 ? 0 : t === 1 ? 1 - 2 ** -53 : rng.next();
            const got = pick(x, temperature, topK, topP, () => u);
            const want = pickReference(x, temperature, topK, topP, u);
            assert.deepEqual(got, want, `V=${V} T=${temperature} k=${topK} p=${topP} u=${u}`);
          }
  }
});

test('pick rejects NaN logits and empty rows instead of sampling garbage', () => {
  assert.throws(() => pick(Float32Array.from([0, NaN, 1]), 1, 0, 1, () => 0.5), /logit 1 is NaN/);
  assert.throws(() => pick(new Float32Array(0), 1, 0, 1, () => 0.5), /empty logits row/);
});

test('byLogitDescending past 2^21 ids falls back to the comparator sort with the same order', () => {
  const V = 2 ** 21 + 5;
  const x = new Float32Array(V);
  for (let i = 0; i < V; i++) x[i] = ((i * 2654435761) >>> 0) % 97; // many ties
  const o = byLogitDescending(x);
  assert.equal(o.length, V);
  for (let i = 1; i < V; i++) {
    const a = o[i - 1]!, b = o[i]!;
    if (!(x[a]! > x[b]! || (x[a] === x[b] && a < b))) assert.fail(`order broken at ${i}: ids ${a}, ${b}`);
  }
});
