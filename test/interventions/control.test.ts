/**
 * The mass-holding steering control (kind "set-control") and its matched treatment (kind "set" with
 * `hold`): hand-computed rows, infeasibility (error or cap), and on the tiny llama fixture: the control keeps
 * the function tokens' weights exactly, and treatment and control rows differ only in where the mass goes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/model/load.ts';
import { attentionEdit, parseSpecs, resolveSpecs, validateSpec, type AttentionMaskSpec } from '../../src/interventions/index.ts';
import { InfeasibleEditError, KEY_KNOCKED_OUT, KEY_MASKED, KEY_VISIBLE, setControlRow, setRow } from '../../src/interventions/rows.ts';

const V = KEY_VISIBLE;
// columns: 0 other, 1–2 function tokens F (mass 0.1), 3–4 control keys C (mass 0.3), 5 other (others O: 0.6)
const W = [0.1, 0.05, 0.05, 0.2, 0.1, 0.5];
const ALL = [V, V, V, V, V, V];
const F = [1, 2];
const C = [3, 4];
function close(got: ArrayLike<number> | null, want: number[], tol = 1e-12) {
  assert.ok(got, 'row edited');
  assert.equal(got!.length, want.length);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got![i]! - want[i]!) < tol, `[${i}] ${got![i]} vs ${want[i]} (row ${Array.from(got!).join(', ')})`);
}

test('treatment set(ℓ) on F holding C, control set-control(ℓ) on C matching F: same O, Δ = ℓ − m_F goes to F or to C', () => {
  // ℓ = 0.4: Δ = 0.3; O (0.6) pays 0.3 → × 0.5 in both rows
  close(setRow(W, ALL, F, C, 0.4), [0.05, 0.2, 0.2, 0.2, 0.1, 0.25]);
  close(setControlRow(W, ALL, C, F, 0.4), [0.05, 0.05, 0.05, 0.4, 0.2, 0.25]);
  // ℓ below the natural mass (Δ = −0.06): F or C gives 0.06 to O (× 1.1)
  close(setRow(W, ALL, F, C, 0.04), [0.11, 0.02, 0.02, 0.2, 0.1, 0.55]);
  close(setControlRow(W, ALL, C, F, 0.04), [0.11, 0.05, 0.05, 0.16, 0.08, 0.55]);
  // ℓ = m_F: nothing moves
  close(setControlRow(W, ALL, C, F, 0.1), W);
  // high ℓ stays a control: F keeps exactly 0.1 (the old control, set(0.65) on C without hold, would give F 0.05)
  close(setControlRow(W, ALL, C, F, 0.65), [0.1 / 12, 0.05, 0.05, 0.85 * (2 / 3), 0.85 / 3, 0.5 / 12]);
  close(setRow(W, ALL, C, [], 0.65), [0.05, 0.025, 0.025, 0.65 * (2 / 3), 0.65 / 3, 0.25]);
});

test('infeasible levels: ℓ > 1 − m_C for both conditions (O cannot pay), C cannot give below 0 — error, or cap', () => {
  // ℓ = 0.75 needs Δ = 0.65 from O (0.6): both the treatment (0.75 + held 0.3 > 1) and the control are infeasible
  assert.throws(() => setRow(W, ALL, F, C, 0.75), (e: unknown) => e instanceof InfeasibleEditError && /level 0\.75 plus the held keys' mass 0\.3 exceeds 1/.test((e as Error).message));
  assert.throws(() => setControlRow(W, ALL, C, F, 0.75), /level 0\.75 moves Δ = 0\.65 .* but the other keys carry only 0\.6/);
  // cap: the treatment's F gets 1 − 0.3, the control's C gets 0.3 + 0.6; O is 0 in both
  close(setRow(W, ALL, F, C, 0.75, 'cap'), [0, 0.35, 0.35, 0.2, 0.1, 0]);
  close(setControlRow(W, ALL, C, F, 0.75, 'cap'), [0, 0.05, 0.05, 0.6, 0.3, 0]);
  // ℓ = 0 with C carrying only 0.02: C cannot give Δ = −0.1
  const w2 = [0.28, 0.05, 0.05, 0.01, 0.01, 0.6];
  assert.throws(() => setControlRow(w2, ALL, C, F, 0), /the control keys carry only 0\.02/);
  close(setControlRow(w2, ALL, C, F, 0, 'cap'), [0.28 * (0.9 / 0.88), 0.05, 0.05, 0, 0, 0.6 * (0.9 / 0.88)]); // Δ capped at −0.02: O 0.88 → 0.9
});

test('control rows: C without mass shares Δ equally; masked / knocked-out keys never get mass; nothing visible = untouched', () => {
  const w = [0.5, 0.1, 0, 0, 0.4];
  // C = {2, 3} visible with weight 0; F = {1}: Δ = 0.3 − 0.1 → 0.1 each; O (keys 0, 4) × 0.8/0.9
  close(setControlRow(w, [V, V, V, V, V], [2, 3], [1], 0.3), [0.5 * (0.7 / 0.9), 0.1, 0.1, 0.1, 0.4 * (0.7 / 0.9)]);
  // key 3 knocked out: key 2 alone takes Δ
  close(setControlRow(w, [V, V, V, KEY_KNOCKED_OUT, V], [2, 3], [1], 0.3), [0.5 * (0.7 / 0.9), 0.1, 0.2, 0, 0.4 * (0.7 / 0.9)]);
  // all control keys masked, or all match keys masked: the row is not edited (set(ℓ) on F would not edit it either)
  assert.equal(setControlRow(w, [V, V, KEY_MASKED, KEY_MASKED, V], [2, 3], [1], 0.3), null);
  assert.equal(setControlRow(w, [V, KEY_MASKED, V, V, V], [2, 3], [1], 0.3), null);
  assert.throws(() => setControlRow(w, [V, V, KEY_KNOCKED_OUT, KEY_KNOCKED_OUT, V], [2, 3], [1], 0.3), /every target key visible from this query was knocked out/);
});

test('on the model: the control keeps F exactly, treatment and control share every other key', async () => {
  const model = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
  const PROMPT = [29, 87, 76, 87, 95, 7, 13, 83, 7];
  const q = PROMPT.length - 1;
  const names = ['blocks.1.attn.hook_pattern'];
  const run = (specs: AttentionMaskSpec[]) => model.runWithCache(PROMPT, { names }, { hooks: attentionEdit(resolveSpecs(specs, model, PROMPT.length)) }).cache.pattern(1);
  const base = model.runWithCache(PROMPT, { names }).cache.pattern(1);
  const f = [1, 2];
  const c = [4, 6];
  const level = 0.5;
  const common = { layers: 1, heads: 'all', onInfeasible: 'error' } as const;
  const treat = run([{ kind: 'set', level, ...common, edges: [{ sources: [q], targets: f, hold: c }] }]);
  const ctrl = run([{ kind: 'set-control', level, ...common, edges: [{ sources: [q], targets: c, match: f }] }]);
  for (let h = 0; h < model.spec.nHeads; h++) {
    const b = (k: number) => base.get(0, h, q, k);
    const mF = f.reduce((s, k) => s + b(k), 0);
    const mC = c.reduce((s, k) => s + b(k), 0);
    assert.ok(level + mC <= 1, 'feasible at this level');
    for (const k of f) assert.equal(ctrl.get(0, h, q, k), b(k), `control h${h}: F key ${k} keeps its weight`);
    for (const k of c) assert.equal(treat.get(0, h, q, k), b(k), `treatment h${h}: C key ${k} keeps its weight`);
    assert.ok(Math.abs(f.reduce((s, k) => s + treat.get(0, h, q, k), 0) - level) < 1e-6);
    assert.ok(Math.abs(c.reduce((s, k) => s + ctrl.get(0, h, q, k), 0) - (mC + level - mF)) < 1e-6, 'C gains Δ = ℓ − m_F');
    for (let k = 0; k <= q; k++) if (!f.includes(k) && !c.includes(k)) assert.ok(Math.abs(treat.get(0, h, q, k) - ctrl.get(0, h, q, k)) < 1e-6, `h${h}: other key ${k} identical`);
  }
});

test('set-control / hold specs: match required and disjoint from targets, hold only with set', () => {
  const dims = { nLayers: 2, nHeads: 4, slidingWindow: null };
  assert.throws(() => parseSpecs({ kind: 'set-control', level: 0.3, layers: 0, edges: [{ sources: [5], targets: [1] }] }), /spec\[0\]\.edges\[0\]\.match: kind "set-control" needs match/);
  assert.throws(() => parseSpecs({ kind: 'knockout', layers: 0, edges: [{ sources: [5], targets: [1], hold: [2] }] }), /spec\[0\]\.edges\[0\]\.hold: hold is only allowed with kind "set"/);
  assert.throws(() => parseSpecs({ kind: 'set', level: 0.3, layers: 0, edges: [{ sources: [5], targets: [1], match: [2] }] }), /match is only allowed with kind "set-control"/);
  assert.throws(() => parseSpecs({ kind: 'scale', factor: 2, onInfeasible: 'cap', layers: 0, edges: [{ sources: [5], targets: [1] }] }), /spec\[0\]\.onInfeasible: onInfeasible is only allowed/);
  const v = validateSpec({ kind: 'set-control', level: 0.3, layers: 0, edges: [{ sources: [5], targets: [1, 2], match: [2, 3] }] }, dims, 8);
  assert.match(v.errors.join('\n'), /spec\[0\]\.edges\[0\]\.match: position 2 also in targets; match keys must be disjoint from the targets/);
  const [r] = resolveSpecs({ kind: 'set-control', level: 0.3, layers: 0, edges: [{ sources: [5, 6], targets: [1], match: [2, 3] }, { sources: [5], targets: [4], match: [0] }] }, dims, 8);
  assert.deepEqual(r!.rules, [{ sources: [5], targets: [1, 4], match: [0, 2, 3] }, { sources: [6], targets: [1], match: [2, 3] }]);
  assert.equal(r!.onInfeasible, 'error');
});

test('matchedSteeringSpecs builds exactly the treatment/control pair (same rows as the hand-written specs)', async () => {
  const { matchedSteeringSpecs } = await import('../../src/interventions/index.ts');
  const model = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
  const PROMPT = [29, 87, 76, 87, 95, 7, 13, 83, 7];
  const q = PROMPT.length - 1;
  const names = ['blocks.1.attn.hook_pattern'];
  const run = (specs: AttentionMaskSpec[]) => model.runWithCache(PROMPT, { names }, { hooks: attentionEdit(resolveSpecs(specs, model, PROMPT.length)) }).cache.pattern(1).data;
  const { treatment, control } = matchedSteeringSpecs({ layers: 1, sources: [q], functionKeys: [1, 2], controlKeys: [4, 6], level: 0.5 });
  assert.deepEqual(run([treatment]), run([{ kind: 'set', level: 0.5, layers: 1, heads: 'all', edges: [{ sources: [q], targets: [1, 2], hold: [4, 6] }] }]));
  assert.deepEqual(run([control]), run([{ kind: 'set-control', level: 0.5, layers: 1, heads: 'all', edges: [{ sources: [q], targets: [4, 6], match: [1, 2] }] }]));
  assert.throws(() => matchedSteeringSpecs({ layers: 1, sources: [q], functionKeys: [1, 2], controlKeys: [2, 6], level: 0.5 }), /control keys 2 are also function keys/);
});
