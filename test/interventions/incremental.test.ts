/**
 * Incremental recomputation (src/interventions/incremental.ts) equals full recomputation within 1e-5 on every
 * family's parity fixture and both backends: a per-layer knockout sweep at the prediction position, knockouts
 * of all queries, scale, set, activation and pattern patches — logits at every position and the captured
 * patterns / residual streams — batched as rows of one forward pass. Conditions without a known scope fall
 * back to full recomputation; forwardWithIntervention's default (incremental) equals `fullRecompute: true`.
 * At an attention edit's own layer only its edited query rows are recomputed (the later positions enter at the
 * next layer with the baseline's residual stream; at the last layer they keep the baseline's logits): counted
 * by a probe hook, and equal to full recomputation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadModel } from '../../src/model/load.ts';
import { loadBlasBackend } from '../../src/tensor/select.ts';
import type { Hook } from '../../src/hooks/types.ts';
import { attentionEdit, patchActivation, patchPattern, resolveSpecs, type AttentionMaskSpec } from '../../src/interventions/index.ts';
import { forwardWithIntervention, forwardWithInterventions, runCondition } from '../../src/interventions/forward.ts';
import { runConditionsIncremental, scopeOfActivationPatch, scopeOfEdits, scopeOfPatternPatch, type IncrementalCondition } from '../../src/interventions/incremental.ts';

const INDEX = JSON.parse(readFileSync('fixtures/tiny/index.json', 'utf8')) as { models: Array<{ dir: string }> };
const TOL = 1e-5;
const backends: Array<'ts' | 'blas'> = ['ts'];
if (loadBlasBackend() || process.env.CI === 'true') backends.push('blas');

const PROMPT = [29, 87, 76, 87, 95, 7, 13, 83, 7];
const CONT = [11, 40, 3];
const TOKENS = [...PROMPT, ...CONT];
const P = PROMPT.length - 1;

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

for (const { dir } of INDEX.models) {
  for (const backend of backends) {
    test(`incremental = full recomputation ${dir} (${backend}): knockout sweep, scale, set, patches`, async () => {
      const m = await loadModel(`fixtures/tiny/${dir}`, { noTokenizer: true, backend });
      const nL = m.spec.nLayers;
      const capture = ['blocks.0.attn.hook_pattern', `blocks.${nL - 1}.attn.hook_pattern`, `blocks.${nL - 1}.hook_resid_post`, 'ln_final.hook_normalized'];
      const base = runCondition(m, TOKENS, [], capture, P, 5);
      assert.ok(base.state, 'a baseline keeps its state');
      const donor = m.runWithCache([5, 17, 23, 64, 8, 20, 30, 2, 9, 10, 12, 14], { names: ['blocks.1.hook_resid_pre', 'blocks.0.attn.hook_pattern'] });
      const edits = (specs: AttentionMaskSpec[]) => resolveSpecs(specs, m, TOKENS.length);
      const conds: IncrementalCondition[] = [];
      for (let L = 0; L < nL; L++) {
        const e = edits([{ kind: 'knockout', layers: L, heads: 'all', edges: [{ sources: [P], targets: [P - 2, P - 1] }] }]);
        conds.push({ hooks: attentionEdit(e), scope: scopeOfEdits(e) });
      }
      for (const specs of [
        [{ kind: 'knockout', layers: 1, heads: [0], edges: [{ sources: '*', targets: [4] }] }],
        [{ kind: 'scale', factor: 0.3, layers: 0, heads: 'all', edges: [{ sources: [5, 6], targets: [3] }] }],
        [{ kind: 'set', level: 0.6, layers: nL - 1, heads: [1], edges: [{ sources: [7], targets: [5, 6] }] }],
      ] as AttentionMaskSpec[][]) {
        const e = edits(specs);
        conds.push({ hooks: attentionEdit(e), scope: scopeOfEdits(e) });
      }
      const ap = { hook: 'blocks.1.hook_resid_pre', donor: donor.cache.get('blocks.1.hook_resid_pre'), positions: new Map([[5, 3], [9, 9]]) };
      conds.push({ hooks: [patchActivation(ap)], scope: scopeOfActivationPatch(ap, nL) });
      const pp = { layer: 0, donor: donor.cache.get('blocks.0.attn.hook_pattern'), positions: new Map([[0, 0], [6, 6], [7, 7], [10, 10]]), slidingWindow: m.spec.slidingWindow };
      conds.push({ hooks: [patchPattern(pp)], scope: scopeOfPatternPatch(pp) });
      const opaque: Hook = { name: `blocks.${nL - 1}.hook_mlp_out`, fn: (t) => void t.data.fill(0.01) };
      conds.push({ hooks: [opaque], scope: null });

      assert.deepEqual(conds[0]!.scope, { layer: 0, position: P, firstLayerEnd: P + 1 }, 'a knockout changes only its query row at its own layer');
      assert.deepEqual(conds[nL]!.scope, { layer: 1, position: 4 });
      assert.deepEqual(conds[nL + 3]!.scope, { layer: 1, position: 5 });
      const inc = runConditionsIncremental(m, base.state!, base, conds, { capture, batchSize: 4 });
      let moved = 0;
      conds.forEach((c, i) => {
        const ref = m.runWithCache(TOKENS, { names: capture }, { hooks: c.hooks });
        assert.equal(inc[i]!.incremental, c.scope !== null, `condition ${i}: incremental unless its scope is unknown`);
        // rows read one at a time (what the metrics do) before the [1, N, V] tensor is assembled, then both
        const V = m.spec.vocabSize;
        const rows = TOKENS.map((_, t) => inc[i]!.row(t).slice());
        assert.throws(() => inc[i]!.row(TOKENS.length), /out of range/);
        const d = maxAbs(inc[i]!.logits.data, ref.logits!.data);
        assert.ok(d <= TOL, `${dir} condition ${i}: logits differ from full recomputation by ${d}`);
        rows.forEach((r, t) => assert.deepEqual(r, inc[i]!.logits.data.slice(t * V, (t + 1) * V), `condition ${i}: row ${t} equals the assembled tensor's`));
        assert.equal(inc[i]!.logits, inc[i]!.logits, 'assembled once');
        for (const n of capture) {
          const dn = maxAbs(inc[i]!.cache.get(n).data, ref.cache.get(n).data);
          assert.ok(dn <= TOL, `${dir} condition ${i} ${n}: differs by ${dn}`);
        }
        moved = Math.max(moved, maxAbs(ref.logits!.data, base.logits.data));
      });
      assert.ok(moved > 1e-3, 'the edits change the logits');

      // full mode gives the same through the same API
      const fullMode = runConditionsIncremental(m, base.state!, base, conds.slice(0, 2), { capture, fullRecompute: true });
      assert.ok(fullMode.every((o) => !o.incremental));
      assert.ok(maxAbs(fullMode[1]!.logits.data, inc[1]!.logits.data) <= TOL);
    });
  }

  test(`forwardWithIntervention ${dir}: incremental (default) equals fullRecompute, batched conditions too`, async () => {
    const m = await loadModel(`fixtures/tiny/${dir}`, { noTokenizer: true, backend: 'ts' });
    const nL = m.spec.nLayers;
    const sweep: AttentionMaskSpec[][] = Array.from({ length: nL }, (_, L) => [{ kind: 'knockout', layers: L, heads: 'all', edges: [{ sources: [P], targets: [P - 3, P - 1] }] }]);
    sweep.push([{ kind: 'set', level: 0.5, layers: 'all', heads: [0], edges: [{ sources: [P], targets: [P - 2] }] }]);
    const baseline = runCondition(m, TOKENS, [], [], P, 5); // no patterns captured: completed in place on first use
    const inc = forwardWithInterventions(m, PROMPT, sweep, { continuation: CONT, baseline, topK: 5 });
    assert.ok(baseline.state, 'the given baseline was completed in place (state)');
    assert.ok(baseline.cache.has('blocks.0.attn.hook_pattern'), 'the given baseline was completed in place (captures)');
    const full = sweep.map((s) => forwardWithIntervention(m, PROMPT, s, { continuation: CONT, topK: 5, fullRecompute: true }));
    inc.forEach((r, i) => {
      const f = full[i]!;
      assert.equal(r.intervened.incremental, true);
      assert.ok(maxAbs(r.intervened.logits.data, f.intervened.logits.data) <= TOL, `condition ${i}: logits`);
      for (const l of Object.keys(f.intervened.patterns)) assert.ok(maxAbs(r.intervened.patterns[Number(l)]!.data, f.intervened.patterns[Number(l)]!.data) <= TOL, `condition ${i} pattern ${l}`);
      assert.ok(Math.abs(r.metrics.kl - f.metrics.kl) <= TOL, `condition ${i}: KL ${r.metrics.kl} vs ${f.metrics.kl}`);
      assert.deepEqual(r.intervened.topk.map((t) => t.id), f.intervened.topk.map((t) => t.id));
      assert.ok(maxAbs(r.metrics.continuation!.nllIntervened, f.metrics.continuation!.nllIntervened) <= TOL, `condition ${i}: continuation NLL`);
    });
    const one = forwardWithIntervention(m, PROMPT, sweep[0]!, { continuation: CONT, topK: 5 });
    assert.ok(maxAbs(one.intervened.logits.data, full[0]!.intervened.logits.data) <= TOL);
  });
}

/** maxAbs where equal values (masked scores: −∞ in both) count as no difference. */
function maxAbsMasked(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let m = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

for (const { dir } of INDEX.models) {
  test(`incremental ${dir}: at the edit's own layer only the edited query rows are recomputed, equal to full recomputation`, async () => {
    const m = await loadModel(`fixtures/tiny/${dir}`, { noTokenizer: true, backend: 'ts' });
    const nL = m.spec.nLayers, N = TOKENS.length;
    const capture = ['blocks.0.attn.hook_pattern', 'blocks.1.attn.hook_pattern', 'blocks.0.attn.hook_attn_scores', 'blocks.1.hook_resid_post'];
    const base = runCondition(m, TOKENS, [], capture, P, 5);
    const cases: { L: number; sources: number[]; rows: number }[] = [
      { L: 0, sources: [P - 2], rows: 1 },
      { L: 0, sources: [P - 2, P], rows: 3 }, // rows P−2 .. P
      { L: nL - 1, sources: [P], rows: 1 }, // the last layer: the later positions keep the baseline's logits
    ];
    for (const c of cases) {
      const e = resolveSpecs([{ kind: 'knockout', layers: c.L, heads: 'all', edges: [{ sources: c.sources, targets: [P - 3] }] }], m, N);
      const p = Math.min(...c.sources);
      assert.deepEqual(scopeOfEdits(e), { layer: c.L, position: p, firstLayerEnd: Math.max(...c.sources) + 1 });
      const seen: Record<number, number> = {};
      const probe: Hook[] = Array.from({ length: nL }, (_, l) => ({ name: `blocks.${l}.attn.hook_q`, fn: (t) => void (seen[l] = t.shape[1]!) }));
      const [inc] = runConditionsIncremental(m, base.state!, base, [{ hooks: [...attentionEdit(e), ...probe], scope: scopeOfEdits(e) }], { capture });
      for (let l = 0; l < nL; l++) assert.equal(seen[l], l < c.L ? undefined : l === c.L ? c.rows : N - p, `${dir} L=${c.L}: rows computed at layer ${l}`);
      const ref = m.runWithCache(TOKENS, { names: capture }, { hooks: attentionEdit(e) });
      assert.ok(maxAbs(inc!.logits.data, ref.logits!.data) <= TOL, `${dir} L=${c.L}: logits`);
      assert.ok(maxAbs(ref.logits!.data, base.logits.data) > 1e-4, `${dir} L=${c.L}: the knockout changes the logits`);
      for (const n of capture) assert.ok(maxAbsMasked(inc!.cache.get(n).data, ref.cache.get(n).data) <= TOL, `${dir} L=${c.L} ${n}`);
    }
  });
}

test('forwardBatch: a row computing fewer positions at its start layer needs residNext and a later layer', async () => {
  const m = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
  const D = m.spec.dModel, nL = m.spec.nLayers;
  const base = runCondition(m, TOKENS, [], [], P, 5);
  const row = (L: number, extra: object) => ({ tokens: TOKENS.slice(P), kvCache: base.state!.kv.fork(P, L, TOKENS.length - P), startLayer: L, residIn: base.state!.residPre[L]!.subarray(P * D), ...extra });
  assert.throws(() => m.forwardBatch([row(1, { startRows: 0 })]), /startRows 0 is out of range 1\.\.4/);
  assert.throws(() => m.forwardBatch([row(1, { startRows: 2 })]), /needs startLayer < \d+ and residNext of 128 values, got none/);
  assert.throws(() => m.forwardBatch([row(nL - 1, { startRows: 2, residNext: new Float32Array(2 * D) })]), /computes 2 of 4 positions/);
});

test('incremental: clear errors for a bad scope or a capture the baseline lacks', async () => {
  const m = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
  const base = runCondition(m, TOKENS, [], [], P, 5);
  assert.throws(() => runConditionsIncremental(m, base.state!, base, [{ hooks: [], scope: { layer: 9, position: 0 } }]), /invalid scope/);
  assert.throws(() => runConditionsIncremental(m, base.state!, base, [], { capture: ['blocks.0.attn.hook_pattern'] }), /not in the baseline's cache/);
  const past = runConditionsIncremental(m, base.state!, base, [{ hooks: [], scope: { layer: 0, position: 99 } }]);
  assert.equal(past[0]!.logits, base.logits, 'an edit starting after the sequence changes nothing');
});

test('scopeOfActivationPatch with the baseline state skips rows that write the baseline\'s own values', async () => {
  const m = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
  const base = runCondition(m, TOKENS, [], [], P, 5);
  const self = m.runWithCache(TOKENS, { names: ['blocks.1.hook_resid_pre'] }).cache.get('blocks.1.hook_resid_pre');
  const other = m.runWithCache([...TOKENS.slice(0, 5), 50, ...TOKENS.slice(6)], { names: ['blocks.1.hook_resid_pre'] }).cache.get('blocks.1.hook_resid_pre');
  const all = new Map(TOKENS.map((_, i) => [i, i] as [number, number]));
  assert.deepEqual(scopeOfActivationPatch({ hook: 'blocks.1.hook_resid_pre', donor: self, positions: all }, m.spec.nLayers, base.state), { layer: 1, position: TOKENS.length }, 'a self-patch writes nothing new');
  assert.deepEqual(scopeOfActivationPatch({ hook: 'blocks.1.hook_resid_pre', donor: other, positions: all }, m.spec.nLayers, base.state), { layer: 1, position: 5 }, 'the donor differs from position 5 on');
  assert.deepEqual(scopeOfActivationPatch({ hook: 'blocks.0.hook_resid_post', donor: other, positions: all }, m.spec.nLayers), { layer: 0, position: 0 }, 'without the state: every mapped row');
  const ap = { hook: 'blocks.1.hook_resid_pre', donor: other, positions: all };
  const [inc] = runConditionsIncremental(m, base.state!, base, [{ hooks: [patchActivation(ap)], scope: scopeOfActivationPatch(ap, m.spec.nLayers, base.state) }]);
  const ref = m.forward(TOKENS, { hooks: [patchActivation(ap)] }).logits!.data;
  assert.ok(maxAbs(inc!.logits.data, ref) <= TOL);
});
