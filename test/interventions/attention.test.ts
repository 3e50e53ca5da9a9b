/**
 * Attention-edge interventions on the tiny llama fixture, against hand-computed expectations:
 * knocked-out weights are exactly 0 with rows summing to 1, scale(1) is bit-identical to the baseline,
 * scale(0) equals knockout, edits at layer L leave layers < L untouched, full-row knockout is NaN-free.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/model/load.ts';
import { attentionEdit, forwardWithIntervention, resolveSpecs, type AttentionMaskSpec } from '../../src/interventions/index.ts';

const PROMPT = [29, 87, 76, 87, 95, 7, 13, 83, 7];
const LAST = PROMPT.length - 1;
const model = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
const H = model.spec.nHeads;
const NAMES = ['attn.hook_pattern', 'hook_resid_post', 'attn.hook_attn_scores'];

function run(specs: AttentionMaskSpec[]) {
  const hooks = attentionEdit(resolveSpecs(specs, model, PROMPT.length));
  return model.runWithCache(PROMPT, { names: NAMES }, { hooks });
}
const base = model.runWithCache(PROMPT, { names: NAMES });

test('knockout: the edge weight is exactly 0, the row still sums to 1, other rows and heads are untouched', () => {
  const spec: AttentionMaskSpec = { kind: 'knockout', layers: 1, heads: [0, 2], edges: [{ sources: [LAST], targets: [1, 2] }] };
  const out = run([spec]);
  const pat = out.cache.pattern(1);
  const bp = base.cache.pattern(1);
  const sc = out.cache.get('blocks.1.attn.hook_attn_scores');
  for (let h = 0; h < H; h++) {
    for (let q = 0; q < PROMPT.length; q++) {
      let s = 0;
      for (let k = 0; k < PROMPT.length; k++) s += pat.get(0, h, q, k);
      const edited = (h === 0 || h === 2) && q === LAST;
      if (edited) {
        assert.equal(pat.get(0, h, q, 1), 0);
        assert.equal(pat.get(0, h, q, 2), 0);
        assert.equal(sc.get(0, h, q, 1), -Infinity);
        assert.ok(Math.abs(s - 1) < 1e-6, `row sum ${s}`);
        // hand computation: remaining weights are the baseline weights renormalised without keys 1, 2
        const rest = 1 - bp.get(0, h, q, 1) - bp.get(0, h, q, 2);
        for (const k of [0, 3, LAST]) assert.ok(Math.abs(pat.get(0, h, q, k) - bp.get(0, h, q, k) / rest) < 1e-6);
      } else {
        for (let k = 0; k < PROMPT.length; k++) assert.equal(pat.get(0, h, q, k), bp.get(0, h, q, k), `untouched h${h} q${q} k${k}`);
      }
    }
  }
  assert.notDeepEqual(out.logits!.data, base.logits!.data);
});

test('scale(1) is bit-identical to the baseline (logits, patterns, residual stream)', () => {
  const out = run([{ kind: 'scale', factor: 1, layers: 'all', heads: 'all', edges: [{ sources: '*', targets: [0, 1, 2] }] }]);
  assert.deepEqual(out.logits!.data, base.logits!.data);
  for (let l = 0; l < model.spec.nLayers; l++) {
    assert.deepEqual(out.cache.pattern(l).data, base.cache.pattern(l).data);
    assert.deepEqual(out.cache.residPost(l).data, base.cache.residPost(l).data);
  }
});

test('scale(0) equals knockout (within float tolerance), including a full row', () => {
  for (const edges of [[{ sources: [4, LAST], targets: [0, 2, 3] }], [{ sources: [4], targets: '*' }]]) {
    const ko = run([{ kind: 'knockout', layers: [0, 1], heads: 'all', edges }]);
    const s0 = run([{ kind: 'scale', factor: 0, layers: [0, 1], heads: 'all', edges }]);
    for (let i = 0; i < ko.logits!.data.length; i++) assert.ok(Math.abs(ko.logits!.data[i]! - s0.logits!.data[i]!) < 1e-5);
    for (let l = 0; l < 2; l++) {
      const a = ko.cache.pattern(l).data;
      const b = s0.cache.pattern(l).data;
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-6);
    }
  }
});

test('scale(0.5): the edited weight relative to the others is halved and the row sums to 1', () => {
  const out = run([{ kind: 'scale', factor: 0.5, layers: 0, heads: [1], edges: [{ sources: [5], targets: [0] }] }]);
  const p = out.cache.pattern(0);
  const b = base.cache.pattern(0);
  const ratio = (p.get(0, 1, 5, 0) / p.get(0, 1, 5, 3)) / (b.get(0, 1, 5, 0) / b.get(0, 1, 5, 3));
  assert.ok(Math.abs(ratio - 0.5) < 1e-5);
  let s = 0;
  for (let k = 0; k < PROMPT.length; k++) s += p.get(0, 1, 5, k);
  assert.ok(Math.abs(s - 1) < 1e-6);
  // hand computation: w0' = 0.5 w0 / (1 − 0.5 w0)
  const w0 = b.get(0, 1, 5, 0);
  assert.ok(Math.abs(p.get(0, 1, 5, 0) - (0.5 * w0) / (1 - 0.5 * w0)) < 1e-6);
});

test('an intervention on layer L leaves layers < L (and earlier positions) unchanged', () => {
  const out = run([{ kind: 'knockout', layers: 1, edges: [{ sources: [4, 6], targets: [0, 1] }] }]);
  assert.deepEqual(out.cache.residPost(0).data, base.cache.residPost(0).data);
  assert.deepEqual(out.cache.pattern(0).data, base.cache.pattern(0).data);
  const V = model.spec.vocabSize;
  assert.deepEqual(out.logits!.data.subarray(0, 4 * V), base.logits!.data.subarray(0, 4 * V), 'positions before the first edited query');
  assert.notDeepEqual(out.cache.residPost(1).data, base.cache.residPost(1).data);
});

test('full-row knockout: the row is all zeros (documented), and nothing is NaN', () => {
  const out = run([{ kind: 'knockout', layers: 0, heads: [0], edges: [{ sources: [4], targets: '*' }] }]);
  const p = out.cache.pattern(0);
  for (let k = 0; k < PROMPT.length; k++) assert.equal(p.get(0, 0, 4, k), 0);
  assert.ok(out.logits!.data.every(Number.isFinite));
  // explicit list of every visible key = the same as the wildcard
  const out2 = run([{ kind: 'knockout', layers: 0, heads: [0], edges: [{ sources: [4], targets: [0, 1, 2, 3, 4] }] }]);
  assert.deepEqual(out2.logits!.data, out.logits!.data);
});

test('forwardWithIntervention: baseline from the same path, patterns of edited layers, top-k, metrics', () => {
  const r = forwardWithIntervention(model, PROMPT.slice(0, 6), [{ kind: 'knockout', layers: 1, edges: [{ sources: [5], targets: [1, 2] }] }], {
    topK: 5,
    continuation: PROMPT.slice(6),
  });
  assert.equal(r.position, 5);
  assert.deepEqual(r.tokens, PROMPT);
  assert.deepEqual(r.baseline.logits.data, base.logits!.data, 'baseline equals a plain forward');
  assert.deepEqual(Object.keys(r.intervened.patterns), ['1']);
  assert.equal(r.intervened.patterns[1]!.get(0, 0, 5, 1), 0);
  assert.equal(r.baseline.topk.length, 5);
  assert.ok(r.baseline.topk[0]!.prob >= r.baseline.topk[1]!.prob);
  assert.ok(r.metrics.kl > 0);
  const c = r.metrics.continuation!;
  assert.deepEqual(c.positions, [5, 6, 7]);
  assert.deepEqual(c.tokens, [13, 83, 7]);
  assert.ok(Math.abs(c.dPpl - (c.pplIntervened - c.pplBaseline)) < 1e-12);
  // no edit → KL exactly 0 and all deltas 0
  const same = forwardWithIntervention(model, PROMPT, [{ kind: 'scale', factor: 1, layers: 0, edges: [{ sources: '*', targets: '*' }] }]);
  assert.equal(same.metrics.kl, 0);
  assert.equal(same.metrics.dLogitTop1, 0);
  assert.equal(same.metrics.top1Changed, false);
  assert.equal(same.metrics.topkJaccard, 1);
});
