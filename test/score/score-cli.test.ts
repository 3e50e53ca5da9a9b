/**
 * `plip score`: records in input order, the summary with Wilson intervals, resuming, and bad input
 * (unknown id, malformed line with its number, bad prompts file → exit 2; a held lock → exit 1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'plip-score-cli-'));
const plip = (...args: string[]) => spawnSync(process.execPath, ['bin/plip.mjs', 'score', ...args], { encoding: 'utf8', env: { ...process.env, PLIP_DEBUG: '' } });
const jsonl = (name: string, rows: unknown[]) => {
  const f = join(dir, name);
  writeFileSync(f, rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n');
  return f;
};
const readOut = (f: string) => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

const ROWS = [
  { id: 'py_real_00_add', completion: ' add(2, 3)\n    5\n' },
  { id: 'py_real_00_add', completion: ' add(2, 3)\n    6\n' },
  { id: 'py_real_01_sub', completion: ' self.sub(2, 3)\n    -1\n' },
];

test('scores each line in order and prints rates with Wilson intervals', () => {
  const out = join(dir, 'a.jsonl');
  const r = plip('--prompts', 'prompts/real-python.json', '--completions', jsonl('a-in.jsonl', ROWS), '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readOut(out), [
    { id: 'py_real_00_add', called: true, arityOk: true, paramNamesOk: null, syntaxOk: true, executed: 'pass' },
    { id: 'py_real_00_add', called: true, arityOk: true, paramNamesOk: null, syntaxOk: true, executed: 'fail' },
    { id: 'py_real_01_sub', called: false, arityOk: null, paramNamesOk: null, syntaxOk: true, executed: 'error' },
  ]);
  assert.match(r.stdout, /python: 3 completion\(s\)/);
  // 2 of 3 called: Wilson 95% [20.8, 93.9]
  assert.match(r.stdout, /called\s+66\.7% \[20\.8, 93\.9\] \(2\/3\)/);
  assert.match(r.stdout, /executed=pass\s+33\.3% .*\(1\/3\)/);
  assert.match(r.stdout, /executed\s+pass 1, fail 1, error 1/);
  assert.equal(existsSync(`${out}.lock`), false);
});

test('resumes after the records already written; --out of another input is refused', () => {
  const out = join(dir, 'b.jsonl');
  const first = JSON.stringify({ id: 'py_real_00_add', called: true, arityOk: true, paramNamesOk: null, syntaxOk: true, executed: 'pass', marker: 'kept' });
  writeFileSync(out, first + '\n' + '{"id": "py_real_00_ad'); // one record and a cut line
  const r = plip('--prompts', 'prompts/real-python.json', '--completions', jsonl('b-in.jsonl', ROWS), '--out', out);
  assert.equal(r.status, 0, r.stderr);
  const recs = readOut(out);
  assert.equal(recs.length, 3);
  assert.equal(recs[0].marker, 'kept', 'the first record was not redone');
  assert.equal(recs[1].executed, 'fail');
  const other = plip('--prompts', 'prompts/real-python.json', '--completions', jsonl('b2-in.jsonl', [ROWS[2]]), '--out', out);
  assert.equal(other.status, 2);
  assert.match(other.stderr, /holds 3 records but the input has 1 completions/);
});

test('bad input: exit 2 with the file, line and what is wrong', () => {
  const out = join(dir, 'c.jsonl');
  const cases: [string[], RegExp][] = [
    [['--completions', jsonl('c1.jsonl', [ROWS[0], { id: 'nope', completion: 'x' }])], /c1\.jsonl:2: unknown id "nope" \(no such prompt in prompts\/real-python\.json\)/],
    [['--completions', jsonl('c2.jsonl', [ROWS[0], '', '{"id": "py_real_00_add", "completion": ']), '--out', out], /c2\.jsonl:3: not a JSON line/],
    [['--completions', jsonl('c3.jsonl', [{ id: 'py_real_00_add' }])], /c3\.jsonl:1: field "completion" must be a string/],
    [['--completions', jsonl('c4.jsonl', [[1, 2]])], /c4\.jsonl:1: expected a JSON object/],
    [['--completions', join(dir, 'missing.jsonl')], /missing\.jsonl: cannot read the completions file/],
  ];
  for (const [args, msg] of cases) {
    const r = plip('--prompts', 'prompts/real-python.json', '--out', out, ...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stderr, /    at /, 'no stack trace');
  }
  const badPrompts = join(dir, 'bad-prompts.json');
  writeFileSync(badPrompts, JSON.stringify({ python: [{ id: 'x' }] }));
  const bp = plip('--prompts', badPrompts, '--completions', jsonl('c5.jsonl', [ROWS[0]]), '--out', out);
  assert.equal(bp.status, 2);
  assert.match(bp.stderr, /bad-prompts\.json: python\[0\] \(id "x"\): field "language"/);
  const missing = plip('--prompts', 'prompts/real-python.json');
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--completions/);
  assert.equal(existsSync(out), false, 'nothing written on bad input');
});

test('--jobs 2 gives the same records in the same order', () => {
  const out = join(dir, 'j.jsonl');
  const r = plip('--prompts', 'prompts/real-python.json', '--completions', jsonl('j-in.jsonl', ROWS), '--out', out, '--jobs', '2', '--details');
  assert.equal(r.status, 0, r.stderr);
  const recs = readOut(out);
  assert.deepEqual(recs.map((x) => [x.id, x.executed]), [['py_real_00_add', 'pass'], ['py_real_00_add', 'fail'], ['py_real_01_sub', 'error']]);
  assert.match(recs[1].detail, /expected '6\\n', got '5\\n'/);
});

test('a reference that does not run is a runtime error naming the prompt and line (exit 1)', () => {
  const prompts = join(dir, 'broken-ref.json');
  const rec = { id: 'b1', language: 'python', name: 'add', params: ['a', 'b'], category: 'x', prompt: 'def add(a, b):\n    """Add.\n\n    >>>', reference: 'def add(a, b):\n    return a + b\nimport no_such_module_plip\n' };
  writeFileSync(prompts, JSON.stringify({ python: [rec] }));
  const r = plip('--prompts', prompts, '--completions', jsonl('e-in.jsonl', [{ id: 'b1', completion: ' add(1, 2)\n    3\n' }]), '--out', join(dir, 'e.jsonl'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /b1 \(input line 1\): the reference implementation does not run: ModuleNotFoundError/);
});

test('a held lock is a runtime error (exit 1)', () => {
  const out = join(dir, 'd.jsonl');
  writeFileSync(`${out}.lock`, '');
  const r = plip('--prompts', 'prompts/real-python.json', '--completions', jsonl('d-in.jsonl', [ROWS[0]]), '--out', out);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /d\.jsonl\.lock exists: another plip score is writing/);
});
