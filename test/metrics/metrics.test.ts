/**
 * Metrics against hand computations: KL(p‖p) = 0, KL equal to a direct float64 computation on a small
 * example, stability for extreme logits, top-k / Jaccard, Δprob / Δlogit, continuation perplexity deltas.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareContinuation, compareDistributions, continuationNll, jaccard, klDivergence, logSoftmax, topK } from '../../src/metrics/index.ts';

test('KL of identical distributions is exactly 0', () => {
  const x = Float32Array.from([1.5, -2, 0.25, 3, -40, 7]);
  assert.equal(klDivergence(x, x), 0);
  // a constant shift of the logits is the same distribution
  const y = Float32Array.from(x, (v) => v + 3);
  assert.ok(klDivergence(x, y) < 1e-15);
});

test('KL matches a direct float64 computation on a small hand example', () => {
  // P = softmax([0, ln 2, ln 3]) = [1/6, 2/6, 3/6];  Q = softmax([0, 0, ln 2]) = [1/4, 1/4, 2/4]
  const P = [1 / 6, 2 / 6, 3 / 6];
  const Q = [1 / 4, 1 / 4, 2 / 4];
  let direct = 0;
  for (let i = 0; i < 3; i++) direct += P[i]! * Math.log(P[i]! / Q[i]!);
  const kl = klDivergence([0, Math.log(2), Math.log(3)], [0, 0, Math.log(2)]);
  assert.ok(Math.abs(kl - direct) < 1e-15, `${kl} vs ${direct}`);
  // hand value: (1/6)ln(2/3) + (1/3)ln(4/3) + (1/2)ln(1) = 0.02832...
  assert.ok(Math.abs(kl - ((1 / 6) * Math.log(2 / 3) + (1 / 3) * Math.log(4 / 3))) < 1e-15);
  // asymmetry
  assert.notEqual(kl, klDivergence([0, 0, Math.log(2)], [0, Math.log(2), Math.log(3)]));
});

test('KL is stable for extreme logits and does not truncate small probabilities', () => {
  // a huge logit gap: naive exp overflows; tiny probabilities still count
  const p = [1000, 0, -1000];
  const q = [1000, 10, -1000];
  const lp = logSoftmax(p);
  assert.ok(lp.every(Number.isFinite));
  const kl = klDivergence(p, q);
  assert.ok(Number.isFinite(kl) && kl >= 0);
  // P(second) = e^-1000 underflows to 0, so the KL is the p≈1 term: log(1/(1/(1+e^10+…)))≈ log(1+e^-990) ≈ 0
  assert.ok(kl < 1e-300 || kl === 0);
  // small-but-representable probabilities contribute: P = [1-ε, ε], Q = [1-ε, ε·e^-5] shifted
  const a = [0, -30];
  const b = [0, -35];
  const pa = logSoftmax(a).map(Math.exp);
  const pb = logSoftmax(b).map(Math.exp);
  const direct = pa[0]! * Math.log(pa[0]! / pb[0]!) + pa[1]! * Math.log(pa[1]! / pb[1]!);
  assert.ok(direct > 0);
  assert.ok(Math.abs(klDivergence(a, b) - direct) < 1e-18);
  // −Infinity logits are probability 0 (allowed); NaN is rejected
  assert.equal(klDivergence([0, -Infinity, 1], [0, -Infinity, 1]), 0);
  assert.equal(klDivergence([0, 1], [-Infinity, 1]), Infinity);
  assert.throws(() => klDivergence([0, NaN], [0, 1]), /logit 1 is NaN/);
});

test('top-k, Jaccard, Δprob and Δlogit of the baseline top token', () => {
  const base = Float32Array.from([0.5, 3, 2, 3, -1]);
  const edit = Float32Array.from([0.5, 1, 2, 3, 4]);
  const tk = topK(base, 3);
  assert.deepEqual(tk.map((t) => t.id), [1, 3, 2], 'ties break toward the lower id');
  assert.ok(Math.abs(tk.reduce((s, t) => s + t.prob, 0) - [3, 3, 2].reduce((s, v) => s + Math.exp(v), 0) / [0.5, 3, 2, 3, -1].reduce((s, v) => s + Math.exp(v), 0)) < 1e-12);
  assert.equal(jaccard([1, 2, 3], [3, 4, 1]), 2 / 4);
  assert.equal(jaccard([], []), 1);
  const c = compareDistributions(base, edit, 3);
  assert.equal(c.top1Baseline, 1);
  assert.equal(c.top1Intervened, 4);
  assert.equal(c.top1Changed, true);
  assert.equal(c.topkJaccard, 2 / 4); // {1,3,2} vs {4,3,2}
  assert.equal(c.dLogitTop1, 1 - 3);
  const pB = Math.exp(3) / [0.5, 3, 2, 3, -1].reduce((s, v) => s + Math.exp(v), 0);
  const pI = Math.exp(1) / [0.5, 1, 2, 3, 4].reduce((s, v) => s + Math.exp(v), 0);
  assert.ok(Math.abs(c.dProbTop1 - (pI - pB)) < 1e-12);
  assert.ok(Math.abs(c.kl - klDivergence(base, edit)) === 0);
});

test('top-k equals a full sort by (logit descending, id ascending) over ties, ±0 and −∞', () => {
  let seed = 7;
  const r = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const levels = [-Infinity, -2, -0, 0, 0.5, 1, 3];
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(r() * 60);
    const x = Float32Array.from({ length: n }, () => (r() < 0.7 ? levels[Math.floor(r() * levels.length)]! : (r() - 0.5) * 8));
    const ref = [...x.keys()].sort((a, b) => (x[b]! > x[a]! ? 1 : x[b]! < x[a]! ? -1 : a - b));
    for (const k of [1, 2, 5, n, n + 3]) {
      const lp = new Float64Array(n); // probabilities are not what this compares
      assert.deepEqual(topK(x, k, lp).map((t) => t.id), ref.slice(0, k), `n = ${n}, k = ${k}, x = [${[...x]}]`);
    }
  }
});

test('continuation: per-position NLL, perplexity and its change, KL at every position', () => {
  const V = 3;
  // logits are float32 (as the engine produces), so ln 2 / ln 3 are rounded: tolerances are 1e-6
  // three positions; tokens = [0, 1, 2, 0]; positions 1..2 score tokens 2 and 0
  const base = Float32Array.from([0, 0, 0, 0, 0, 0, 0, Math.log(2), Math.log(3)]);
  const edit = Float32Array.from([0, 0, 0, 0, 0, Math.log(2), 0, 0, 0]);
  const tokens = [0, 1, 2, 0];
  const nll = continuationNll(base, V, tokens, 1, 3);
  assert.ok(Math.abs(nll[0]! - Math.log(3)) < 1e-6);
  assert.ok(Math.abs(nll[1]! - Math.log(6)) < 1e-6);
  const c = compareContinuation(base, edit, V, tokens, 1, 3);
  assert.deepEqual(c.positions, [1, 2]);
  assert.deepEqual(c.tokens, [2, 0]);
  // edited: position 1 P(2) = 2/4 → NLL ln 2; position 2 uniform → ln 3
  assert.ok(Math.abs(c.nllIntervened[0]! - Math.log(2)) < 1e-6);
  assert.ok(Math.abs(c.nllIntervened[1]! - Math.log(3)) < 1e-6);
  const mb = (Math.log(3) + Math.log(6)) / 2;
  const mi = (Math.log(2) + Math.log(3)) / 2;
  assert.ok(Math.abs(c.pplBaseline - Math.exp(mb)) < 1e-6);
  assert.ok(Math.abs(c.dPpl - (Math.exp(mi) - Math.exp(mb))) < 1e-6);
  assert.ok(Math.abs(c.dMeanNll - (mi - mb)) < 1e-6);
  assert.equal(c.kl.length, 2);
  assert.ok(Math.abs(c.kl[1]! - klDivergence([0, Math.log(2), Math.log(3)], [0, 0, 0])) < 1e-6);
  assert.throws(() => continuationNll(base, V, tokens, 1, 4), /need logits rows and a next token/);
});
