/**
 * Edits that give mass never give it to masked or knocked-out keys: knockout + set on one row (the
 * knocked-out key stays 0, the level goes to the remaining selected keys; all selected keys knocked out is
 * an error), in either spec order; and on a sliding-window family (mistral, window 4) with an edit built by
 * hand WITHOUT the window (as `copying --level` builds it), keys outside the window get nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/model/load.ts';
import { attentionEdit, resolveSpecs, type AttentionMaskSpec, type ResolvedEdit } from '../../src/interventions/index.ts';

const PROMPT = [29, 87, 76, 87, 95, 7, 13, 83, 7];
const llama = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
const mistral = await loadModel('fixtures/tiny/mistral', { noTokenizer: true, backend: 'ts' });
const N = PROMPT.length;

function rowsOf(m: typeof llama, hooks: ReturnType<typeof attentionEdit>, layer: number) {
  const p = m.runWithCache(PROMPT, { names: [`blocks.${layer}.attn.hook_pattern`] }, { hooks }).cache.pattern(layer);
  return (h: number, q: number) => Array.from({ length: N }, (_, k) => p.get(0, h, q, k));
}
const KO: AttentionMaskSpec = { kind: 'knockout', layers: 0, heads: [0], edges: [{ sources: [4], targets: [1] }] };
const SET: AttentionMaskSpec = { kind: 'set', level: 0.6, layers: 0, heads: [0], edges: [{ sources: [4], targets: [1, 3] }] };

test('knockout + set on one row: the knocked-out key stays 0, the remaining selected key gets the level', () => {
  const ko = rowsOf(llama, attentionEdit(resolveSpecs([KO], llama, N)), 0)(0, 4);
  const both = rowsOf(llama, attentionEdit(resolveSpecs([KO, SET], llama, N)), 0)(0, 4);
  assert.equal(both[1], 0, 'knocked-out key 1 is not brought back');
  // hand computation from the knocked-out row w: key 3 → 0.6, others w·0.4/(1 − w3)
  for (let k = 0; k < N; k++) {
    const want = k === 3 ? 0.6 : k === 1 || k > 4 ? 0 : (ko[k]! * 0.4) / (1 - ko[3]!);
    assert.ok(Math.abs(both[k]! - want) < 1e-6, `k${k}: ${both[k]} vs ${want}`);
  }
  assert.ok(Math.abs(both.reduce((a, b) => a + b, 0) - 1) < 1e-6);
  // the spec order does not matter within one attentionEdit call: knockouts act before the softmax
  const rev = rowsOf(llama, attentionEdit(resolveSpecs([SET, KO], llama, N)), 0)(0, 4);
  assert.deepEqual(rev, both);
});

test('a set whose visible selected keys were all knocked out is an error: at validation for explicit rows, at run time otherwise', () => {
  // explicit rows: found by validation, before any work
  assert.throws(() => resolveSpecs([KO, { ...SET, edges: [{ sources: [4], targets: [1] }] }], llama, N), /spec\[1\]: kind "set" at layer 0, head 0, source 4: every target \(1\) is knocked out by another spec/);
  const ctl = (sources: number[] | string, targets: number[], match: number[]): AttentionMaskSpec => ({ kind: 'set-control', level: 0.3, layers: 0, heads: [0], edges: [{ sources, targets, match }] });
  assert.throws(() => resolveSpecs([KO, ctl([4], [3], [1])], llama, N), /spec\[1\]: kind "set-control" at layer 0, head 0, source 4: every match key \(1\) is knocked out/);
  // a knockout of only some selected keys is fine
  assert.doesNotThrow(() => resolveSpecs([KO, SET], llama, N));
  // wildcard sources: the forward pass throws at the row, naming hook, head and query
  const hooks = attentionEdit(resolveSpecs([KO, { ...SET, edges: [{ sources: '*', targets: [1] }] }], llama, N));
  assert.throws(() => llama.forward(PROMPT, { hooks }), /set\(0\.6\) at blocks\.0\.attn\.hook_pattern, head 0, query 4: every selected key visible from this query was knocked out/);
  assert.throws(() => llama.forward(PROMPT, { hooks: attentionEdit(resolveSpecs([KO, ctl('*', [1], [3])], llama, N)) }), /set-control\(0\.3\) at .*query 4: every target key visible/);
  assert.throws(() => llama.forward(PROMPT, { hooks: attentionEdit(resolveSpecs([KO, ctl('*', [3], [1])], llama, N)) }), /every match key visible/);
});

test('sliding window: an edit built without the window still gives no mass outside it (set, set-control, amplify)', () => {
  const W = mistral.spec.slidingWindow!;
  assert.equal(W, 4);
  const base = rowsOf(mistral, [], 0);
  // built by hand like copying.ts does: no slidingWindow field, wildcard sources
  const set: ResolvedEdit = { kind: 'set', factor: 1, level: 0.5, layers: [0], heads: [0, 1, 2, 3], rules: [{ sources: 'all', targets: [1, 2] }], edgesPerLayer: 0, dropped: [] };
  const ctl: ResolvedEdit = { ...set, kind: 'set-control', level: 0.5, onInfeasible: 'cap', rules: [{ sources: 'all', targets: [1, 2], match: [3] }] };
  const ampl: ResolvedEdit = { ...set, kind: 'amplify', factor: 3, basis: 'mass', level: null, rules: [{ sources: 'all', targets: [1, 2] }] };
  for (const e of [set, ctl, ampl, { ...set, slidingWindow: null }]) {
    const r = rowsOf(mistral, attentionEdit(e), 0);
    for (let h = 0; h < 4; h++)
      for (let q = 0; q < N; q++) {
        const got = r(h, q);
        const b = base(h, q);
        for (let k = 0; k < N; k++) if (k > q || q - k >= W) assert.equal(got[k], 0, `${e.kind} h${h} q${q}: key ${k} is masked`);
        if (q - 2 >= W) assert.deepEqual(got, b, `${e.kind} h${h} q${q}: no selected key is in the window, the row is untouched`);
      }
    // row 5 sees key 2 but not key 1: with set, key 2 alone carries the level
    if (e.kind === 'set') for (let h = 0; h < 4; h++) assert.ok(Math.abs(r(h, 5)[2]! - 0.5) < 1e-6);
  }
});
