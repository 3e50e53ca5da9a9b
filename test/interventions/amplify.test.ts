/**
 * amplify(f): on the logit basis each selected UNNORMALISED weight × f (+ ln f on the score: one edge of
 * weight w becomes f·w / (1 + (f − 1)·w)); on the mass basis the selection's mass × f, capped at 1.
 * Hand-computed rows: a prior hook fixes the scores of one row to [0, ln 3, 0] (weights [0.2, 0.6, 0.2]).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/model/load.ts';
import type { Hook } from '../../src/hooks/types.ts';
import { attentionEdit, parseSpecs, resolveSpecs, validateSpec, type AttentionMaskSpec } from '../../src/interventions/index.ts';
import { amplifyMassRow, KEY_KNOCKED_OUT, KEY_MASKED, KEY_VISIBLE } from '../../src/interventions/rows.ts';

const PROMPT = [29, 87, 76, 87, 95, 7, 13, 83, 7];
const model = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
const V = KEY_VISIBLE;

/** Scores of (layer 0, head 1, query 2) fixed to [0, ln 3, 0] over keys 0..2 (weights 0.2, 0.6, 0.2). */
const FIX: Hook = {
  name: 'blocks.0.attn.hook_attn_scores',
  fn: (t, ctx) => {
    const [, , T, S] = t.shape as number[];
    const r = [...ctx.queryPositions].indexOf(2);
    if (r < 0) return;
    const o = (1 * T! + r) * S!;
    t.data[o] = 0;
    t.data[o + 1] = Math.log(3);
    t.data[o + 2] = 0;
  },
};

function row(specs: AttentionMaskSpec[]): number[] {
  const hooks = [FIX, ...attentionEdit(resolveSpecs(specs, model, PROMPT.length))];
  const p = model.runWithCache(PROMPT, { names: ['blocks.0.attn.hook_pattern'] }, { hooks }).cache.pattern(0);
  return Array.from({ length: PROMPT.length }, (_, k) => p.get(0, 1, 2, k));
}
const amp = (targets: number[], extra: Partial<AttentionMaskSpec> = {}): AttentionMaskSpec => ({ kind: 'amplify', layers: 0, heads: [1], edges: [{ sources: [2], targets }], ...extra });
function close(got: number[], want: number[], tol = 1e-6) {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < tol, `[${i}] ${g} vs ${want[i]} (row ${got.map((x) => x.toFixed(6)).join(', ')})`));
}

test('the hand-fixed row is [0.2, 0.6, 0.2] before any edit', () => {
  close(row([]), [0.2, 0.6, 0.2, 0, 0, 0, 0, 0, 0]);
});

test('amplify (logit basis, default f = 2): one edge w → 2w/(1+w); two edges each × 2 unnormalised', () => {
  // scores [0, ln 6, 0] → [1, 6, 1] / 8; 2·0.6 / 1.6 = 0.75
  close(row([amp([1])]), [1 / 8, 6 / 8, 1 / 8, 0, 0, 0, 0, 0, 0]);
  // keys {0, 2}: [2, 3, 2] / 7 — selection mass 0.4 → 0.8/1.4, the selected keys keep their 1:1 ratio
  close(row([amp([0, 2])]), [2 / 7, 3 / 7, 2 / 7, 0, 0, 0, 0, 0, 0]);
  // amplify(3) on key 0: [3, 3, 1] / 7
  close(row([amp([0], { factor: 3 })]), [3 / 7, 3 / 7, 1 / 7, 0, 0, 0, 0, 0, 0]);
  close(row([amp([0], { kind: 'amplify', basis: 'logit', factor: 3 })]), [3 / 7, 3 / 7, 1 / 7, 0, 0, 0, 0, 0, 0]);
});

test('amplify (mass basis): mass × f, others rescaled; capped at 1 with the other keys at 0', () => {
  // key 0: 0.2 → 0.4; keys 1, 2 share 0.6 in ratio 3:1
  close(row([amp([0], { basis: 'mass' })]), [0.4, 0.45, 0.15, 0, 0, 0, 0, 0, 0]);
  // keys {0, 2}: 0.4 → 0.8 split 1:1; key 1 gets 0.2
  close(row([amp([0, 2], { basis: 'mass' })]), [0.4, 0.2, 0.4, 0, 0, 0, 0, 0, 0]);
  // key 1: 2 · 0.6 = 1.2 > 1 → capped: the whole row on key 1
  close(row([amp([1], { basis: 'mass' })]), [0, 1, 0, 0, 0, 0, 0, 0, 0]);
  // f = 0.5 shrinks: key 1 0.6 → 0.3, keys 0, 2 share 0.7 → 0.35 each
  close(row([amp([1], { basis: 'mass', factor: 0.5 })]), [0.35, 0.3, 0.35, 0, 0, 0, 0, 0, 0]);
});

test('amplifyMassRow on hand rows: masked and knocked-out keys get nothing; no mass = no edit', () => {
  const w = [0.2, 0.6, 0.2, 0];
  close([...amplifyMassRow(w, [V, V, V, KEY_MASKED], [0], 2)!], [0.4, 0.45, 0.15, 0]);
  // a masked or knocked-out selected key is skipped; only the eligible part of the selection is amplified
  close([...amplifyMassRow([0.25, 0, 0.5, 0.25], [V, KEY_KNOCKED_OUT, V, V], [0, 1], 2)!], [0.5, 0, 1 / 3, 1 / 6]);
  assert.equal(amplifyMassRow(w, [V, V, V, KEY_MASKED], [3], 2), null, 'selection only masked');
  assert.equal(amplifyMassRow([0, 0.5, 0.5], [V, V, V], [0], 2), null, 'selection has no mass');
});

test('amplify on the logit basis equals scale(f) (the same renormalisation) on real rows; masked keys stay 0', () => {
  const edges = [{ sources: '3..8', targets: [0, 2] }];
  const names = ['attn.hook_pattern'];
  const a = model.runWithCache(PROMPT, { names }, { hooks: attentionEdit(resolveSpecs([{ kind: 'amplify', factor: 2, layers: 'all', heads: 'all', edges }], model, PROMPT.length)) });
  const s = model.runWithCache(PROMPT, { names }, { hooks: attentionEdit(resolveSpecs([{ kind: 'scale', factor: 2, layers: 'all', heads: 'all', edges }], model, PROMPT.length)) });
  const b = model.runWithCache(PROMPT, { names });
  let d = 0;
  let eff = 0;
  for (let l = 0; l < model.spec.nLayers; l++) {
    const pa = a.cache.pattern(l).data;
    const ps = s.cache.pattern(l).data;
    const pb = b.cache.pattern(l).data;
    for (let i = 0; i < pa.length; i++) {
      d = Math.max(d, Math.abs(pa[i]! - ps[i]!));
      eff = Math.max(eff, Math.abs(pa[i]! - pb[i]!));
      if (pb[i] === 0) assert.equal(pa[i], 0, 'a masked key stays 0');
    }
  }
  assert.ok(d < 1e-6, `amplify(2) vs scale(2): ${d}`);
  assert.ok(eff > 1e-3, 'the edit changes the pattern');
});

test('amplify after a knockout of the same key leaves it at 0 (both bases)', () => {
  for (const basis of ['logit', 'mass'] as const) {
    const r = row([{ kind: 'knockout', layers: 0, heads: [1], edges: [{ sources: [2], targets: [1] }] }, amp([1, 2], { basis })]);
    assert.equal(r[1], 0);
    // remaining row [0.5, 0, 0.5]: logit doubles key 2's unnormalised weight → [1/3, 0, 2/3]; mass: 0.5 → 1 (cap)
    close(r, basis === 'logit' ? [1 / 3, 0, 2 / 3, 0, 0, 0, 0, 0, 0] : [0, 0, 1, 0, 0, 0, 0, 0, 0]);
  }
});

test('amplify specs: shorthand, defaults, invalid factors and bases, explicit targets', () => {
  const edges = [{ sources: [4], targets: [1] }];
  const [r] = resolveSpecs(parseSpecs({ kind: 'amplify', layers: 0, edges }), model, PROMPT.length);
  assert.equal(r!.factor, 2);
  assert.equal(r!.basis, 'logit');
  assert.equal(resolveSpecs(parseSpecs({ kind: 'amplify(4)', basis: 'mass', layers: 0, edges }), model, PROMPT.length)[0]!.factor, 4);
  assert.throws(() => parseSpecs({ kind: 'amplify', factor: 0, layers: 0, edges }), /spec\[0\]\.factor: amplify factor must be a finite number > 0 \(got 0\)/);
  assert.throws(() => parseSpecs({ kind: 'amplify', basis: 'prob', layers: 0, edges }), /spec\[0\]\.basis: expected "logit" or "mass"/);
  assert.throws(() => parseSpecs({ kind: 'scale', factor: 2, basis: 'mass', layers: 0, edges }), /spec\[0\]\.basis: basis is only allowed with kind "amplify"/);
  assert.throws(() => parseSpecs({ kind: 'amplify', layers: 0, edges: [{ sources: [4], targets: '*' }] }), /spec\[0\]\.edges\[0\]\.targets: kind "amplify" needs explicit targets/);
  const v = validateSpec({ kind: 'amplify', layers: 0, edges: [{ sources: [2], targets: [5] }] }, model, PROMPT.length);
  assert.match(v.errors.join('\n'), /edge 2→5 is to a future token/);
});
