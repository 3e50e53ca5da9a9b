import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSyncScorer } from '../../src/score/sync.ts';
import { scoreCompletion } from '../../src/score/score.ts';
import type { PromptRecord } from '../../src/score/prompts-schema.ts';

const p: PromptRecord = { id: 'add', language: 'python', name: 'add', params: ['a', 'b'], category: 'math', prompt: 'def add(a, b):\n    """Add two numbers.\n\n    >>> ', reference: 'def add(a, b):\n    return a + b\n' };

test('the synchronous scorer gives exactly what scoreCompletion gives (pass, fail, method call, no execution)', async () => {
  const s = await createSyncScorer();
  const noexec = await createSyncScorer({ execute: false });
  try {
    for (const c of ['add(2, 3)\n    5\n', 'add(2, 3)\n    6\n', 'self.add(2)\n    6\n', 'add(a=1, c=2)\n    3\n']) {
      const want = await scoreCompletion(p, c);
      assert.deepEqual(s.score(p, c), want, c);
      const st = noexec.score(p, c);
      assert.equal(st.executed, null);
      assert.equal(st.called, want.called);
      assert.equal(st.arityOk, want.arityOk);
      assert.equal(st.paramNamesOk, want.paramNamesOk);
    }
  } finally {
    s.close();
    noexec.close();
  }
});

test('a scorer error reaches the caller as an error naming the prompt, and the scorer keeps working', async () => {
  const s = await createSyncScorer({ execute: false });
  try {
    const bad = { ...p, id: 'bad', reference: 'x = 1\n' };
    assert.throws(() => s.score(bad, 'add(1, 2)\n'), /scorer: prompt bad/);
    assert.equal(s.score(p, 'add(1, 2)\n    3\n').called, true);
  } finally {
    s.close();
  }
});
