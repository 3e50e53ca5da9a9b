/**
 * The index-list grammar shared by every --layers / --heads: forms, range checks, error messages naming
 * the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkIndexListSyntax, IndexListError, parseIndexList, parseIndexSelection } from '../../src/cli/indices.ts';

const P = (s: string, n = 6) => parseIndexList(s, n, 'layers');

test('every form of the grammar', () => {
  assert.deepEqual(P('all'), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(P('*'), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(P('3'), [3]);
  assert.deepEqual(P('1..4'), [1, 2, 3]); // end excluded
  assert.deepEqual(P('1..=4'), [1, 2, 3, 4]);
  assert.deepEqual(P('4..'), [4, 5]);
  assert.deepEqual(P('..2'), [0, 1]);
  assert.deepEqual(P('..=2'), [0, 1, 2]);
  assert.deepEqual(P('..'), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(P('0..6'), [0, 1, 2, 3, 4, 5]); // exclusive end may equal the count
  assert.deepEqual(P(' 5, 0..2 ,1 '), [0, 1, 5]); // sorted, deduplicated, whitespace ignored
  assert.deepEqual(P('0..2,4..'), [0, 1, 4, 5]);
});

test('parseIndexSelection keeps a lone all/* as "all"', () => {
  assert.equal(parseIndexSelection('all', 4, 'heads'), 'all');
  assert.equal(parseIndexSelection(' * ', 4, 'heads'), 'all');
  assert.deepEqual(parseIndexSelection('0,1', 4, 'heads'), [0, 1]);
});

function err(s: string, n = 6, field = 'layers'): IndexListError {
  try {
    parseIndexList(s, n, field);
  } catch (e) {
    assert.ok(e instanceof IndexListError, String(e));
    assert.equal(e.field, field);
    assert.ok(e.message.startsWith(`${field}: `), e.message);
    return e;
  }
  assert.fail(`'${s}' should be rejected`);
}

test('range checks and syntax errors name the field and the item', () => {
  assert.match(err('6').message, /index 6 .* out of range \(valid: 0\.\.6/);
  assert.match(err('0..7').message, /end 7 .* out of range/);
  assert.match(err('0..=6').message, /index 6 in '0\.\.=6' is out of range/);
  assert.match(err('6..').message, /out of range/);
  assert.match(err('3..3').message, /empty .* write 3\.\.=3/);
  assert.match(err('4..2').message, /empty/);
  assert.match(err('4..=2').message, /empty \(start > end\)/);
  assert.match(err('').message, /empty list/);
  assert.match(err('1,,2').message, /cannot parse ''/);
  assert.match(err('-1').message, /cannot parse '-1'/);
  assert.match(err('1.5').message, /cannot parse/);
  assert.match(err('a..b').message, /cannot parse 'a\.\.b'/);
  assert.match(err('2..=').message, /cannot parse/);
  assert.match(err('x', 4, 'heads').message, /^heads: /);
  assert.match(err('all', 0).message, /selects nothing/);
});

test('checkIndexListSyntax: syntax errors before the count is known, no range check', () => {
  for (const ok of ['all', '*', '3', '99', '0..2,5', '4..', '..=9', '100..=200']) assert.doesNotThrow(() => checkIndexListSyntax(ok, 'layers'), ok);
  for (const bad of ['', 'x', '1,,2', '-1', '2..=', '3..3', '5..2', '4..=3']) assert.throws(() => checkIndexListSyntax(bad, 'layers'), (e: Error) => e instanceof IndexListError && e.message.startsWith('layers: '), bad);
});
