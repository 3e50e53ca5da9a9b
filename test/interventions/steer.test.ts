/**
 * Steering (`kind: "set"`): the selected edges of each edited row get attention mass ℓ exactly, the other
 * keys keep their proportions, rows sum to 1; set(current mass) is a no-op; set(0) equals knockout;
 * masked (future) edges are errors; a selection covering the whole row yields a row summing to ℓ.
 * Hand-computed on the tiny llama fixture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/model/load.ts';
import { attentionEdit, parseSpecs, resolveSpecs, validateSpec, type AttentionMaskSpec } from '../../src/interventions/index.ts';

const PROMPT = [29, 87, 76, 87, 95, 7, 13, 83, 7];
const LAST = PROMPT.length - 1;
const model = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
const H = model.spec.nHeads;
const NAMES = ['attn.hook_pattern', 'hook_resid_post'];

function run(specs: AttentionMaskSpec[]) {
  const hooks = attentionEdit(resolveSpecs(specs, model, PROMPT.length));
  return model.runWithCache(PROMPT, { names: NAMES }, { hooks });
}
const base = model.runWithCache(PROMPT, { names: NAMES });

test('set(ℓ): selected mass is exactly ℓ, the others keep their proportions, the row sums to 1, nothing else changes', () => {
  const level = 0.6;
  const sel = [1, 3];
  const out = run([{ kind: 'set', level, layers: 1, heads: [0, 2], edges: [{ sources: [LAST], targets: sel }] }]);
  const p = out.cache.pattern(1);
  const b = base.cache.pattern(1);
  for (let h = 0; h < H; h++)
    for (let q = 0; q < PROMPT.length; q++) {
      const edited = (h === 0 || h === 2) && q === LAST;
      if (!edited) {
        for (let k = 0; k < PROMPT.length; k++) assert.equal(p.get(0, h, q, k), b.get(0, h, q, k));
        continue;
      }
      const bSel = sel.reduce((s, k) => s + b.get(0, h, q, k), 0);
      let sum = 0;
      let mass = 0;
      for (let k = 0; k < PROMPT.length; k++) {
        sum += p.get(0, h, q, k);
        // hand computation: selected keys ∝ their baseline weights with total ℓ; others × (1 − ℓ)/(1 − bSel)
        const want = sel.includes(k) ? (level * b.get(0, h, q, k)) / bSel : (b.get(0, h, q, k) * (1 - level)) / (1 - bSel);
        assert.ok(Math.abs(p.get(0, h, q, k) - want) < 1e-6, `h${h} k${k}: ${p.get(0, h, q, k)} vs ${want}`);
        if (sel.includes(k)) mass += p.get(0, h, q, k);
      }
      assert.ok(Math.abs(sum - 1) < 1e-6, `row sum ${sum}`);
      assert.ok(Math.abs(mass - level) < 1e-6, `selected mass ${mass}`);
      assert.ok(Math.abs(level - bSel) > 0.05, 'the test level differs from the natural mass');
    }
  assert.notDeepEqual(out.logits!.data, base.logits!.data);
});

test('set to the current mass is a no-op (within float rounding); set(0) equals knockout', () => {
  const b = base.cache.pattern(0);
  const natural = b.get(0, 1, 5, 0) + b.get(0, 1, 5, 2);
  const same = run([{ kind: 'set', level: natural, layers: 0, heads: [1], edges: [{ sources: [5], targets: [0, 2] }] }]);
  for (let i = 0; i < same.logits!.data.length; i++) assert.ok(Math.abs(same.logits!.data[i]! - base.logits!.data[i]!) < 1e-5);
  const edges = [{ sources: [4, LAST], targets: [0, 2, 3] }];
  const ko = run([{ kind: 'knockout', layers: [0, 1], heads: 'all', edges }]);
  const s0 = run([{ kind: 'set', level: 0, layers: [0, 1], heads: 'all', edges }]);
  for (let i = 0; i < ko.logits!.data.length; i++) assert.ok(Math.abs(ko.logits!.data[i]! - s0.logits!.data[i]!) < 1e-5);
});

test('set with wildcard sources edits only rows that can see a selected key; set(1) puts the whole row on the selection', () => {
  const out = run([{ kind: 'set', level: 1, layers: 0, heads: [0], edges: [{ sources: '*', targets: [3, 4] }] }]);
  const p = out.cache.pattern(0);
  const b = base.cache.pattern(0);
  for (let q = 0; q < 3; q++) for (let k = 0; k < PROMPT.length; k++) assert.equal(p.get(0, 0, q, k), b.get(0, 0, q, k), `row ${q} cannot see keys 3, 4`);
  for (let q = 3; q < PROMPT.length; q++) {
    let mass = 0;
    for (let k = 0; k < PROMPT.length; k++) {
      if (k === 3 || k === 4) mass += p.get(0, 0, q, k);
      else assert.equal(p.get(0, 0, q, k), 0);
    }
    assert.ok(Math.abs(mass - 1) < 1e-6);
  }
  // row 3 sees only key 3 of the selection: it gets everything; key 4 (future for row 3) stays 0
  assert.ok(Math.abs(p.get(0, 0, 3, 3) - 1) < 1e-6);
  assert.equal(p.get(0, 0, 3, 4), 0);
});

test('a selection covering every visible key leaves a row summing to ℓ (documented), never NaN', () => {
  const out = run([{ kind: 'set', level: 0.25, layers: 0, heads: [0], edges: [{ sources: [3], targets: [0, 1, 2, 3] }] }]);
  const p = out.cache.pattern(0);
  const b = base.cache.pattern(0);
  let s = 0;
  for (let k = 0; k < 4; k++) {
    s += p.get(0, 0, 3, k);
    assert.ok(Math.abs(p.get(0, 0, 3, k) - 0.25 * b.get(0, 0, 3, k)) < 1e-6);
  }
  assert.ok(Math.abs(s - 0.25) < 1e-6);
  assert.ok(out.logits!.data.every(Number.isFinite));
});

test('set after a knockout of the other keys does not resurrect them', () => {
  const out = run([
    { kind: 'knockout', layers: 0, heads: [0], edges: [{ sources: [4], targets: [0, 1, 2] }] },
    { kind: 'set', level: 0.5, layers: 0, heads: [0], edges: [{ sources: [4], targets: [3] }] },
  ]);
  const p = out.cache.pattern(0);
  for (const k of [0, 1, 2]) assert.equal(p.get(0, 0, 4, k), 0);
  assert.ok(Math.abs(p.get(0, 0, 4, 3) - 0.5) < 1e-6);
  assert.ok(Math.abs(p.get(0, 0, 4, 4) - 0.5) < 1e-6);
});

test('invalid set specs give clear errors: level range, missing level, wildcard targets, future edges', () => {
  assert.deepEqual(parseSpecs({ kind: 'set(0.3)', layers: 0, edges: [{ sources: [4], targets: [1] }] })[0]!.level, 0.3);
  assert.throws(() => parseSpecs({ kind: 'set', layers: 0, edges: [{ sources: [4], targets: [1] }] }), /spec\[0\]\.level: kind "set" needs a level/);
  assert.throws(() => parseSpecs({ kind: 'set', level: 1.5, layers: 0, edges: [{ sources: [4], targets: [1] }] }), /spec\[0\]\.level: level must be a number in \[0, 1\]/);
  assert.throws(() => parseSpecs({ kind: 'set(-1)', layers: 0, edges: [{ sources: [4], targets: [1] }] }), /level must be a number in \[0, 1\]/);
  assert.throws(() => parseSpecs({ kind: 'set', level: 0.2, layers: 0, edges: [{ sources: [4], targets: '*' }] }), /spec\[0\]\.edges\[0\]\.targets: kind "set" needs explicit targets/);
  assert.throws(() => parseSpecs({ kind: 'knockout', level: 0.2, layers: 0, edges: [{ sources: [4], targets: [1] }] }), /spec\[0\]\.level: level is only allowed with kinds "set" and "set-control"/);
  const v = validateSpec({ kind: 'set', level: 0.2, layers: 0, edges: [{ sources: [2], targets: [1, 5] }] }, model, PROMPT.length);
  assert.equal(v.ok, false);
  assert.match(v.errors.join('\n'), /edge 2→5 is to a future token/);
});
