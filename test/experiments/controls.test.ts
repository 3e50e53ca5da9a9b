/**
 * The ONE matched-distance control rule (src/experiments/shared/controls.ts), used by scan, knockout,
 * steer and copying.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drawMatchedControls } from '../../src/experiments/shared/controls.ts';
import { createRng } from '../../src/stats/rng.ts';

test('controls: never BOS, a target, the marker or an excluded token; distinct inside a draw; distance within the tolerance', () => {
  const marker = 60;
  const targets = [1, 4, 8, 30];
  const exclude = [58, 59, 61, 10];
  const sel = drawMatchedControls(marker, targets, exclude, 50, createRng(3, 'scan-control/x'));
  assert.equal(sel.draws.length, 50);
  assert.deepEqual(sel.notes, []);
  for (const draw of sel.draws) {
    assert.equal(draw.length, targets.length);
    assert.equal(new Set(draw).size, draw.length, 'distinct keys inside a draw (as many edges as the targets)');
    draw.forEach((k, i) => {
      assert.ok(k >= 1 && k < marker, `control ${k} is visible and not BOS`);
      assert.ok(!targets.includes(k) && !exclude.includes(k));
      const d = marker - targets[i]!;
      const w = Math.max(2, Math.ceil(0.25 * d));
      assert.ok(Math.abs(marker - k - d) <= w, `control ${k} for target ${targets[i]} within ±${w} tokens of distance ${d}`);
    });
  }
  // Deterministic per (seed, stream); another seed draws other tokens.
  assert.deepEqual(drawMatchedControls(marker, targets, exclude, 50, createRng(3, 'scan-control/x')), sel);
  assert.notDeepEqual(drawMatchedControls(marker, targets, exclude, 50, createRng(4, 'scan-control/x')).draws, sel.draws);
});

test('controls: nearest unused distance when nothing is within the tolerance; shorter draws with a note when the pool runs out', () => {
  // candidates 2 and 5 (1, 3 targets; 4 excluded; 6 the marker); tolerance 0 → nearest distance, without replacement
  const sel = drawMatchedControls(6, [1, 3], [4], 3, createRng(0, 's'), { tolerance: { rel: 0, min: 0 } });
  for (const d of sel.draws) assert.deepEqual([...d].sort(), [2, 5]);
  assert.deepEqual(sel.draws[0], [2, 5], 'target 1 (distance 5) takes 2 (distance 4), target 3 the remaining 5');
  // one candidate (2) for two targets: each draw has one key, noted
  const small = drawMatchedControls(4, [1, 3], [], 2, createRng(0, 's'));
  assert.deepEqual(small.draws, [[2], [2]]);
  assert.equal(small.pool, 1);
  assert.match(small.notes[0]!, /only 1 control candidate\(s\) for 2 target\(s\)/);
  // minKey keeps low keys out of the pool
  const mk = drawMatchedControls(10, [5], [], 20, createRng(1, 's'), { minKey: 4 });
  for (const d of mk.draws) assert.ok(d[0]! >= 4);
  // no candidate at all
  assert.deepEqual(drawMatchedControls(3, [1, 2], [], 2, createRng(0, 's')).draws, [[], []]);
});
