import { test } from 'node:test';
import assert from 'node:assert/strict';
import { foldRepeated } from '../../src/report/table.ts';

test('foldRepeated: identical lines once with a count, in order of first appearance', () => {
  assert.deepEqual(foldRepeated(['a', 'b', 'a', 'a', 'c']), ['a (×3)', 'b', 'c']);
  assert.deepEqual(foldRepeated([]), []);
});
