/**
 * Spec parsing and validation: clear errors naming the field and value; edges to future tokens are
 * reported (error by default, dropped and listed on request); wildcards and ranges expand as documented.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/model/load.ts';
import {
  forwardWithIntervention,
  InterventionSpecError,
  parseListArg,
  parseSpecJson,
  parseSpecs,
  resolveSpecs,
  validateSpec,
  type AttentionMaskSpec,
} from '../../src/interventions/index.ts';

const dims = { nLayers: 5, nHeads: 8, slidingWindow: null };
const ko = (over: Partial<AttentionMaskSpec> = {}): AttentionMaskSpec => ({ kind: 'knockout', layers: 1, heads: 'all', edges: [{ sources: [6], targets: [1, 2] }], ...over });

test('a valid spec resolves: ranges, "all", wildcards, edge counts', () => {
  const [r] = resolveSpecs([{ kind: 'knockout', layers: '1..3', heads: 'all', edges: [{ sources: [6], targets: [1, 2] }] }], dims, 10);
  assert.deepEqual(r!.layers, [1, 2, 3]);
  assert.deepEqual(r!.heads, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(r!.rules, [{ sources: [6], targets: [1, 2] }]);
  assert.equal(r!.edgesPerLayer, 16);
  // targets '*' = every visible key of each source (q + 1 keys); sources '*' with explicit targets only pairs k ≤ q
  const [w] = resolveSpecs([{ kind: 'knockout', layers: 'all', heads: [0], edges: [{ sources: [3, 5], targets: '*' }] }], dims, 10);
  assert.equal(w!.edgesPerLayer, 4 + 6);
  assert.deepEqual(w!.layers, [0, 1, 2, 3, 4]);
  const [s] = resolveSpecs([{ kind: 'knockout', layers: 0, heads: [0], edges: [{ sources: '*', targets: [2, 8] }] }], dims, 10);
  assert.equal(s!.edgesPerLayer, 8 + 2, 'sources 2..9 see key 2, sources 8..9 see key 8');
  // sliding window: keys outside the window are not visible
  const [sw] = resolveSpecs([{ kind: 'knockout', layers: 0, heads: [0], edges: [{ sources: [9], targets: '*' }] }], { ...dims, slidingWindow: 4 }, 10);
  assert.equal(sw!.edgesPerLayer, 4);
});

test('invalid specs give clear errors naming the field and the value', () => {
  const errs = (s: AttentionMaskSpec, n = 10) => validateSpec(s, dims, n).errors.join('\n');
  assert.match(errs(ko({ layers: 99 })), /spec\[0\]\.layers: layer 99 is out of range \(the model has layers 0\.\.4\)/);
  assert.match(errs(ko({ heads: [-1, 2] })), /spec\[0\]\.heads: head -1 is out of range \(the model has heads 0\.\.7\)/);
  assert.match(errs(ko({ edges: [{ sources: [12], targets: [1] }] })), /spec\[0\]\.edges\[0\]\.sources: position 12 is out of range \(the sequence has token positions 0\.\.9\)/);
  assert.match(errs(ko({ edges: [{ sources: [6], targets: [10] }] })), /edges\[0\]\.targets: position 10 is out of range/);
  assert.match(errs(ko({ layers: '4..1' })), /spec\[0\]\.layers: range '4\.\.1' is empty/);
  assert.match(errs({ kind: 'scale', factor: -0.5, layers: 0, edges: [{ sources: '*', targets: [0] }] }), /spec\[0\]\.factor: must be a finite number ≥ 0 for kind "scale" \(got -0\.5\)/);
  // schema-level errors (parseSpecs): negative factor, missing factor, unknown kind/field, bad selector, malformed JSON
  assert.throws(() => parseSpecs({ kind: 'scale', factor: -1, layers: 0, edges: [{ sources: 1, targets: 0 }] }), /spec\[0\]\.factor: factor must be a finite number ≥ 0 \(got -1\)/);
  assert.throws(() => parseSpecs({ kind: 'scale(-2)', layers: 0, edges: [{ sources: 1, targets: 0 }] }), /factor must be a finite number ≥ 0 \(got -2\)/);
  assert.throws(() => parseSpecs({ kind: 'scale', layers: 0, edges: [{ sources: 1, targets: 0 }] }), /spec\[0\]\.factor: kind "scale" needs a factor/);
  assert.throws(() => parseSpecs({ kind: 'ablate', layers: 0, edges: [{ sources: 1, targets: 0 }] }), /spec\[0\]\.kind: expected "knockout"/);
  assert.throws(() => parseSpecs({ kind: 'knockout', layers: 0, edge: [] }), /spec\[0\]: Unrecognized key: "edge"/);
  assert.throws(() => parseSpecs([ko(), { kind: 'knockout', layers: 'x', edges: [{ sources: 1, targets: 0 }] }]), /spec\[1\]\.layers: expected an integer, a non-empty list/);
  assert.throws(() => parseSpecs({ kind: 'knockout', layers: 0, edges: [{ sources: [1.5], targets: 0 }] }), /spec\[0\]\.edges\[0\]\.sources/);
  assert.throws(() => parseSpecJson('{"kind": "knockout", "layers": 0,', 'my.json'), (e: unknown) => e instanceof InterventionSpecError && /^my\.json: malformed JSON/.test(e.message));
  assert.throws(() => parseSpecJson('{"kind":"knockout","layers":99}', 'my.json'), /my\.json: spec\[0\]\.edges/);
  // shorthand and list/array inputs parse
  const [p] = parseSpecs({ kind: 'scale(0.25)', layers: '0..2', edges: [{ sources: '*', targets: '*' }] });
  assert.equal(p!.kind, 'scale');
  assert.equal(p!.factor, 0.25);
  assert.equal(parseSpecJson(JSON.stringify([ko(), ko({ layers: 2 })])).length, 2);
  assert.deepEqual(parseListArg('0..2,4', '--layers'), [0, 1, 2, 4]);
  assert.equal(parseListArg('all', '--layers'), 'all');
  assert.throws(() => parseListArg('0-4', '--layers'), /--layers: '0-4' is not valid/);
});

test('edges to future tokens are reported: an error by default, dropped and listed on request', () => {
  const spec = ko({ edges: [{ sources: [0, 6], targets: [1, 2, 8] }] });
  const v = validateSpec(spec, dims, 10);
  assert.equal(v.ok, false);
  assert.equal(v.resolved, null);
  assert.deepEqual(
    v.masked.map((m) => [m.source, m.target, m.reason]),
    [
      [0, 1, 'future'],
      [0, 2, 'future'],
      [0, 8, 'future'],
      [6, 8, 'future'],
    ],
  );
  assert.match(v.errors[0]!, /spec\[0\]\.edges\[0\]: edge 0→1 is to a future token \(source 0 < target 1\)/);
  const d = validateSpec(spec, dims, 10, { onMaskedEdges: 'drop' });
  assert.ok(d.ok);
  assert.equal(d.resolved![0]!.dropped.length, 4);
  assert.deepEqual(d.resolved![0]!.rules, [{ sources: [6], targets: [1, 2] }]);
  assert.equal(d.resolved![0]!.edgesPerLayer, 16);
  // sliding window
  const sw = validateSpec(ko({ edges: [{ sources: [9], targets: [1] }] }), { ...dims, slidingWindow: 4 }, 10);
  assert.equal(sw.masked[0]!.reason, 'outside-sliding-window');
});

test('forwardWithIntervention rejects future edges by default and lists them when dropping', async () => {
  const m = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
  const ids = [29, 87, 76, 87, 95, 7];
  const spec = ko({ edges: [{ sources: [0], targets: [3] }] });
  assert.throws(() => forwardWithIntervention(m, ids, [spec]), (e: unknown) => e instanceof InterventionSpecError && /future token/.test(e.message));
  const r = forwardWithIntervention(m, ids, [spec], { onMaskedEdges: 'drop' });
  assert.deepEqual(r.dropped.map((x) => [x.source, x.target]), [[0, 3]]);
  assert.equal(r.metrics.kl, 0, 'nothing was applied');
  assert.deepEqual(r.intervened.logits.data, r.baseline.logits.data);
  assert.throws(() => forwardWithIntervention(m, ids, [ko({ layers: 99 })]), /layer 99 is out of range \(the model has layers 0\.\.1\)/);
});

test('a kind shorthand whose value is also given explicitly is rejected, naming both fields', () => {
  const edges = [{ sources: [4], targets: [1] }];
  assert.throws(
    () => parseSpecs({ kind: 'scale(0.5)', factor: 2, layers: 0, edges }),
    (e: unknown) => e instanceof InterventionSpecError && /spec\[0\]: kind "scale\(0\.5\)" and factor 2 both give the factor; give it once/.test(e.message),
  );
  assert.throws(() => parseSpecs({ kind: 'set(0.3)', level: 0.9, layers: 0, edges }), /spec\[0\]: kind "set\(0\.3\)" and level 0\.9 both give the level/);
  // equal values are still two places for one value: rejected too
  assert.throws(() => parseSpecs({ kind: 'set(0.3)', level: 0.3, layers: 0, edges }), /both give the level/);
  assert.throws(() => parseSpecs({ kind: 'amplify(3)', factor: 2, layers: 0, edges }), /kind "amplify\(3\)" and factor 2 both give the factor/);
  assert.throws(() => parseSpecs({ kind: 'set-control(0.2)', level: 0.5, layers: 0, edges: [{ sources: [4], targets: [1], match: [2] }] }), /kind "set-control\(0\.2\)" and level 0\.5 both give the level/);
  // the index of the offending spec in a list is named
  assert.throws(() => parseSpecs([ko(), { kind: 'scale(0.5)', factor: 0.5, layers: 0, edges }]), /spec\[1\]: kind "scale\(0\.5\)" and factor 0\.5/);
  // without a duplicate, the shorthands expand
  assert.equal(parseSpecs({ kind: 'amplify(3)', layers: 0, edges })[0]!.factor, 3);
  assert.deepEqual(parseSpecs({ kind: 'set-control(0.2)', layers: 0, edges: [{ sources: [4], targets: [1], match: [2] }] })[0]!.level, 0.2);
  assert.equal(parseSpecs({ kind: 'scale(0.5)', layers: 0, edges })[0]!.factor, 0.5);
});
