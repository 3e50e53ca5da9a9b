import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mcnemarExact, mcnemarPaired, minMcNemarP, wilson } from '../../src/stats/proportion.ts';

test('wilson: matches the score-interval formula computed independently (Python, z = 1.959964)', () => {
  // 46/50 → (0.811618, 0.968450); 0/10 → (0, 0.277533); 10/10 → (0.722467, 1)
  const a = wilson(46, 50);
  assert.ok(Math.abs(a.lo! - 0.811618) < 1e-6 && Math.abs(a.hi! - 0.968450) < 1e-6, JSON.stringify(a));
  const b = wilson(0, 10);
  assert.equal(b.lo, 0);
  assert.ok(Math.abs(b.hi! - 0.27753) < 1e-4);
  const c = wilson(10, 10);
  assert.ok(Math.abs(c.lo! - 0.72247) < 1e-4);
  assert.equal(c.hi, 1);
  assert.equal(wilson(0, 0).rate, null);
  assert.throws(() => wilson(3, 2), /0 ≤ k ≤ n/);
});

test('mcnemarExact: two-sided binomial on discordant pairs, with direction', () => {
  // 8 lost, 0 gained: two-sided p = 2 × 0.5^8 = 0.0078125
  const r = mcnemarExact(8, 0);
  assert.equal(r.direction, 'decrease');
  assert.ok(Math.abs(r.p - 2 / 256) < 1e-12);
  // one-sided in the observed direction halves it; in the other direction it is ~1
  assert.ok(Math.abs(mcnemarExact(8, 0, 'decrease').p - 1 / 256) < 1e-12);
  assert.ok(mcnemarExact(8, 0, 'increase').p > 0.99);
  assert.equal(mcnemarExact(0, 0).p, 1);
  // 3 vs 3: no evidence either way
  assert.equal(mcnemarExact(3, 3).p, 1);
  assert.equal(mcnemarExact(1, 5).direction, 'increase');
});

test('mcnemarPaired counts lost and gained pairs', () => {
  const r = mcnemarPaired([1, 1, 0, 0, 1], [0, 1, 1, 0, 0]);
  assert.equal(r.lost, 2);
  assert.equal(r.gained, 1);
  assert.throws(() => mcnemarPaired([1], [1, 0]), /1 vs 2/);
});

test('minMcNemarP: the design floor, with Holm', () => {
  assert.equal(minMcNemarP(10), 2 / 1024);
  assert.equal(minMcNemarP(10, 28), Math.min(1, 28 * 2 / 1024));
  assert.equal(minMcNemarP(0), 1);
  assert.equal(minMcNemarP(10, 1, false), 1 / 1024);
});
