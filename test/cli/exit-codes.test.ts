/**
 * Exit codes of bin/plip.mjs: usage errors (bad flag, bad index list, bad option value) exit 2, runtime
 * errors (a model directory that does not exist) exit 1, each one line on stderr without a stack trace.
 * Library errors name the field; the CLI shows the flag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PlipOptionError } from '../../src/io/errors.ts';
import { action, flagOf, UsageError } from '../../src/cli/common.ts';

function plip(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/plip.mjs', ...args], { encoding: 'utf8', env: { ...process.env, PLIP_NO_PROGRESS: '1', PLIP_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function oneLineError(r: { stderr: string }, re: RegExp): void {
  assert.match(r.stderr, /^error: /m);
  assert.match(r.stderr, re);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('usage errors exit 2', () => {
  const bogus = plip('inspect', '--bogus');
  assert.equal(bogus.code, 2, bogus.stderr);
  assert.match(bogus.stderr, /unknown option '--bogus'/);
  const noCmd = plip('frobnicate');
  assert.equal(noCmd.code, 2, noCmd.stderr);
  // index-list syntax is checked while parsing the flags, before any model is loaded
  const syntax = plip('intervene', '--text', 'x', '--kind', 'knockout', '--layers', '1..x', '--sources', '0', '--targets', '0');
  assert.equal(syntax.code, 2, syntax.stderr);
  assert.match(syntax.stderr, /--layers.*cannot parse '1\.\.x'/);
  // range checks need the model: still a usage error naming the flag
  const range = plip('intervene', '--text', 'def f():', '--kind', 'knockout', '--layers', '0..99', '--sources', '0', '--targets', '0');
  assert.equal(range.code, 2, range.stderr);
  oneLineError(range, /error: --layers: end 99 in '0\.\.99' is out of range/);
});

test('a missing model directory is a runtime error (exit 1), at once and without a hub lookup', () => {
  for (const m of ['./no-such-model', 'models/plip-tiny-cod']) {
    const r = plip('inspect', '--model', m);
    assert.equal(r.code, 1, r.stderr);
    oneLineError(r, /does not exist/);
    assert.doesNotMatch(r.stderr, /Hub/i);
  }
});

test('action(): a library PlipOptionError is shown as its flag and exits 2; other errors exit 1', async () => {
  assert.equal(flagOf('nPermutations'), '--n-permutations');
  const written: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  const saved = process.exitCode;
  (process.stderr as { write: unknown }).write = (s: string) => (written.push(s), true);
  try {
    await action(() => {
      throw new PlipOptionError('nPermutations', 'must be > 16 (got 3)');
    })();
    assert.equal(process.exitCode, 2);
    await action(() => {
      throw new UsageError('--x: bad');
    })();
    assert.equal(process.exitCode, 2);
    await action(() => {
      throw new Error('disk full');
    })();
    assert.equal(process.exitCode, 1);
  } finally {
    (process.stderr as { write: unknown }).write = orig;
    process.exitCode = saved;
  }
  assert.deepEqual(written, ['error: --n-permutations: must be > 16 (got 3)\n', 'error: --x: bad\n', 'error: disk full\n']);
});

test('library option errors name the field (generate: maxTokens, temperature, batchSize), not a flag', async () => {
  const { loadModel } = await import('../../src/model/load.ts');
  const { generate, generateBatch } = await import('../../src/generate/generate.ts');
  const m = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
  const field = (f: () => unknown, name: string) =>
    assert.throws(f, (e: Error) => e instanceof PlipOptionError && e.field === name && !/--/.test(e.message), name);
  field(() => generate(m, [1, 2], { maxTokens: -1 }), 'maxTokens');
  field(() => generate(m, [1, 2], { maxTokens: 2, temperature: -1 }), 'temperature');
  field(() => generateBatch(m, [{ promptIds: [1, 2], maxTokens: 1 }], { batchSize: 0 }), 'batchSize');
});
