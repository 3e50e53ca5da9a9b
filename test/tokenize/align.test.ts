/** alignSurfaces: edits between token surfaces and the text (insertions, deletions, substitutions). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignSurfaces } from '../../src/tokenize/index.ts';
import { ALIGN_LIMITS, type AlignStats } from '../../src/tokenize/align.ts';

const u = (s: string): Uint8Array => new TextEncoder().encode(s);

test('exact surfaces map one to one, multi-byte pieces share their character', () => {
  assert.deepEqual(alignSurfaces('ab', [u('a'), u('b')]), [[0, 1], [1, 2]]);
  const rocket = u('🚀');
  assert.deepEqual(alignSurfaces('x🚀', [u('x'), rocket.subarray(0, 2), rocket.subarray(2)]), [[0, 1], [1, 2], [1, 2]]);
});

test('inserted dummy prefix maps to nothing, at the start of a run of spaces', () => {
  assert.deepEqual(alignSurfaces('Hello', [u(' Hello')]), [[0, 5]]);
  assert.deepEqual(alignSurfaces('Hello', [u(' '), u('Hello')]), [[0, 0], [0, 5]]);
  // "▁▁" + "▁def" for "  def": the first "▁" is the inserted one.
  assert.deepEqual(alignSurfaces('  def', [u('  '), u(' def')]), [[0, 1], [1, 5]]);
});

test('deleted text belongs to no token; substitutions cover their source', () => {
  assert.deepEqual(alignSurfaces('a   b', [u('a'), u('b')]), [[0, 1], [4, 5]]);
  // NFC: "e\u0301" (2 code points) became "é".
  assert.deepEqual(alignSurfaces('xe\u0301y', [u('x'), u('\u00e9'), u('y')]), [[0, 1], [1, 3], [3, 4]]);
  // Lowercasing normaliser.
  assert.deepEqual(alignSurfaces('Hello World', [u('hello'), u(' world')]), [[0, 5], [5, 11]]);
});

test('unrelated surfaces stay monotone and inside the text, with bounded work', () => {
  const text = 'x'.repeat(5000);
  const surfaces = Array.from({ length: 1000 }, () => u('#####'));
  const stats: AlignStats = { probes: 0, failedSearches: 0 };
  const out = alignSurfaces(text, surfaces, stats);
  // the search gives up after maxFailedSearches and spreads the rest: work independent of the input size
  assert.equal(stats.failedSearches, ALIGN_LIMITS.maxFailedSearches + 1);
  assert.ok(stats.probes <= stats.failedSearches * ALIGN_LIMITS.probesPerSearch, `${stats.probes} probes`);
  const big: AlignStats = { probes: 0, failedSearches: 0 };
  alignSurfaces('x'.repeat(50_000), Array.from({ length: 10_000 }, () => u('#####')), big);
  assert.equal(big.probes, stats.probes, 'ten times the input, the same work');
  const exact: AlignStats = { probes: 0, failedSearches: 0 };
  alignSurfaces('ab'.repeat(2000), Array.from({ length: 2000 }, () => u('ab')), exact);
  assert.deepEqual(exact, { probes: 0, failedSearches: 0 }, 'verbatim text needs no search');
  let prev = [0, 0];
  for (const [s, e] of out) {
    assert.ok(0 <= s && s <= e && e <= 5000 && s >= prev[0]! && e >= prev[1]!);
    prev = [s, e];
  }
  assert.deepEqual(alignSurfaces('', [u('<unk>')]), [[0, 0]]);
  assert.deepEqual(alignSurfaces('abc', []), []);
});
