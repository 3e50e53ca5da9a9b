/**
 * Position-matched control selection and the --layers / --heads index-set syntax.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectControls } from '../../src/experiments/scan-control.ts';
import { expandIndexSpec, parseIndexList, parseIndexSpec } from '../../src/experiments/scan-args.ts';
import { createRng } from '../../src/stats/rng.ts';

test('controls: never BOS, a target, the marker or an excluded token; distance within the tolerance', () => {
  const marker = 60;
  const targets = [1, 4, 8, 30];
  const exclude = new Set([58, 59, 61, 10]);
  const sel = selectControls(marker, targets, exclude, createRng(3, 'scan-control/x'), { draws: 50 });
  assert.equal(sel.tokens.length, 50);
  for (const draw of sel.tokens) {
    assert.equal(draw.length, targets.length);
    draw.forEach((k, i) => {
      assert.ok(k >= 1 && k < marker, `control ${k} is visible and not BOS`);
      assert.ok(!targets.includes(k) && !exclude.has(k));
      const d = marker - targets[i]!;
      const w = Math.max(2, Math.ceil(0.25 * d));
      assert.ok(Math.abs(marker - k - d) <= w, `control ${k} for target ${targets[i]} within ±${w} tokens of distance ${d}`);
    });
  }
  assert.ok(sel.candidates.every((n) => n > 0));
  // Deterministic per (seed, stream); another seed draws other tokens.
  assert.deepEqual(selectControls(marker, targets, exclude, createRng(3, 'scan-control/x'), { draws: 50 }), sel);
  assert.notDeepEqual(selectControls(marker, targets, exclude, createRng(4, 'scan-control/x'), { draws: 50 }).tokens, sel.tokens);
});

test('controls: nearest distance when nothing is within the tolerance; none when no candidate exists', () => {
  // Only token 2 is a candidate (1, 3 are targets; 4 is the marker).
  const sel = selectControls(4, [1, 3], new Set(), createRng(0, 's'), { draws: 3, minWindow: 0, relWindow: 0 });
  assert.deepEqual(sel.tokens, [
    [2, 2],
    [2, 2],
    [2, 2],
  ]);
  const none = selectControls(3, [1, 2], new Set(), createRng(0, 's'));
  assert.deepEqual(none.tokens, []);
  assert.match(none.note!, /no candidate control tokens/);
  // No visible targets: empty draws (the control of such a sample is 0, like its observed value).
  const inv = selectControls(2, [], new Set(), createRng(0, 's'), { draws: 2 });
  assert.deepEqual(inv.tokens, [[], []]);
});

test('index sets: single, list, inclusive ranges, open ranges, all; sorted and deduplicated', () => {
  assert.deepEqual(parseIndexList('3', '--layers', 5, 'layer'), [3]);
  assert.deepEqual(parseIndexList('4,0,2,2', '--layers', 5, 'layer'), [0, 2, 4]);
  assert.deepEqual(parseIndexList('1..3', '--layers', 5, 'layer'), [1, 2, 3]);
  assert.deepEqual(parseIndexList('1..=3', '--layers', 5, 'layer'), [1, 2, 3]);
  assert.deepEqual(parseIndexList('3..', '--layers', 5, 'layer'), [3, 4]);
  assert.deepEqual(parseIndexList('..1,4', '--layers', 5, 'layer'), [0, 1, 4]);
  assert.deepEqual(parseIndexList('all', '--heads', 3, 'head'), [0, 1, 2]);
  assert.deepEqual(parseIndexList(undefined, '--heads', 2, 'head'), [0, 1]);
  assert.deepEqual(expandIndexSpec(parseIndexSpec(' 0 .. 1 ', '--x'), '--x', 4, 'layer'), [0, 1]);
});

test('index sets: clear errors for syntax and out-of-range values', () => {
  assert.throws(() => parseIndexSpec('a', '--layers'), /--layers: cannot parse 'a' \(use e\.g\. 3, 0,3,5, 2\.\.5 \(inclusive\)/);
  assert.throws(() => parseIndexSpec('-1', '--heads'), /--heads: cannot parse '-1'/);
  assert.throws(() => parseIndexSpec('1,,2', '--heads'), /--heads: cannot parse ''/);
  assert.throws(() => parseIndexSpec('3..1', '--layers'), /--layers: range '3\.\.1' is empty/);
  assert.throws(() => parseIndexList('5', '--layers', 5, 'layer'), /--layers: layer 5 is out of range \(the model has layers 0\.\.4\)/);
  assert.throws(() => parseIndexList('0,3,8', '--heads', 8, 'head'), /--heads: head 8 is out of range \(the model has heads 0\.\.7\)/);
  assert.throws(() => parseIndexList('2..9', '--layers', 5, 'layer'), /layer 9 is out of range/);
});
