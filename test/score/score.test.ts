/**
 * The scorer on hand-written completions: passing, failing, unparsable, not compiling, timing out and
 * hostile ones (fork bomb, 10 GB, 1 GB of output, writes outside the sandbox), plus what counts as a call.
 * Execution limits are low (8 s wall, 1 s CPU, 256 MiB) to keep the suite cheap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPrompts, type PromptRecord } from '../../src/score/prompts-schema.ts';
import { scoreCompletion, staticScore, type CompletionScore } from '../../src/score/score.ts';
import { executionMemoSize } from '../../src/score/execute.ts';

// the wall clock only has to stop the programs that sleep or fork; generous so a loaded machine does not time out passing tests
const LIMITS = { run: { wallMs: 8000, cpuSeconds: 1, memoryBytes: 256 * 2 ** 20, processes: 16, outputBytes: 64 * 1024 } };
const pySet = loadPrompts('prompts/real-python.json');
const rsSet = loadPrompts('prompts/real-rust.json');
const byName = (s: typeof pySet, name: string): PromptRecord => [...s.byId.values()].find((r) => r.name === name)!;
const ADD = byName(pySet, 'add');
const SCALE = byName(pySet, 'scale_vector');
const RADD = byName(rsSet, 'add');

const score = (p: PromptRecord, c: string) => scoreCompletion(p, c, { limits: LIMITS });
const pick = (s: CompletionScore) => ({ called: s.called, arityOk: s.arityOk, paramNamesOk: s.paramNamesOk, syntaxOk: s.syntaxOk, executed: s.executed });

test('python: pass, fail, wrong arity, and text after the test ignored', async () => {
  assert.deepEqual(pick(await score(ADD, ' add(2, 3)\n    5\n')), { called: true, arityOk: true, paramNamesOk: null, syntaxOk: true, executed: 'pass' });
  assert.deepEqual(pick(await score(ADD, ' add(2, 3)\n    6\n')), { called: true, arityOk: true, paramNamesOk: null, syntaxOk: true, executed: 'fail' });
  assert.deepEqual(pick(await score(ADD, ' print(add(add(1, 2), 3))\n    6\n    >>> add(1, 1)\n    3\n')), { called: true, arityOk: true, paramNamesOk: null, syntaxOk: true, executed: 'pass' });
  const one = await score(ADD, ' add(1)\n    1\n');
  assert.deepEqual(pick(one), { called: true, arityOk: false, paramNamesOk: null, syntaxOk: true, executed: 'error' });
  assert.match(one.detail, /TypeError/);
  assert.equal((await staticScore(ADD, ' add(1, 2, 3)\n    6\n')).arityOk, false);
});

test('python: keyword arguments and defaults', async () => {
  assert.deepEqual(pick(await score(SCALE, ' scale_vector([1, 2], factor=3)\n    [3, 6]\n')), { called: true, arityOk: true, paramNamesOk: true, syntaxOk: true, executed: 'pass' });
  assert.deepEqual(pick(await score(SCALE, ' scale_vector([1, 2])\n    [2, 4]\n')), { called: true, arityOk: true, paramNamesOk: null, syntaxOk: true, executed: 'pass' });
  assert.deepEqual(pick(await score(SCALE, ' scale_vector(vector=[1], fctor=3)\n    [3]\n')), { called: true, arityOk: true, paramNamesOk: false, syntaxOk: true, executed: 'error' });
  assert.equal((await staticScore(SCALE, ' scale_vector([1], vector=[2])\n    [2]\n')).paramNamesOk, false, 'a keyword naming a parameter already given by position');
  assert.equal((await staticScore(SCALE, ' scale_vector()\n    []\n')).arityOk, false);
});

test('python: only free calls count (self.add, math.add, obj.add do not)', async () => {
  for (const c of [' self.add(2, 3)\n    5\n', ' math.add(2, 3)\n    5\n', ' calc.add(2, 3)\n    5\n', ' adder(2, 3)\n    5\n', ' add\n    <function add>\n']) {
    const s = await staticScore(ADD, c);
    assert.equal(s.called, false, c);
    assert.equal(s.arityOk, null, c);
  }
  assert.equal((await staticScore(ADD, ' [add(i, i) for i in range(2)]\n    [0, 2]\n')).called, true);
});

test('python: unparsable, timing out and hostile tests are contained and recorded', async () => {
  const bad = await score(ADD, ' add(2, 3\n    5\n');
  assert.equal(bad.syntaxOk, false);
  assert.equal(bad.executed, 'error');
  assert.equal((await score(ADD, ' add(2, 3) if __import__("time").sleep(60) else 5\n    5\n')).executed, 'timeout');
  assert.equal((await score(ADD, ' sum(1 for _ in iter(int, 1))\n    0\n')).executed, 'timeout');
  const bomb = await score(ADD, ' [__import__("os").fork() for _ in range(10**6)]\n    []\n');
  assert.ok(bomb.executed === 'error' || bomb.executed === 'timeout', bomb.detail);
  const big = await score(ADD, ' len(bytearray(10 * 2**30))\n    0\n');
  assert.deepEqual([big.executed, big.detail], ['error', 'MemoryError: ']);
  const spew = await score(ADD, ' [__import__("sys").__stdout__.write("x" * 65536) for _ in range(2**14)]\n    0\n');
  assert.deepEqual([spew.executed, spew.detail], ['error', 'output over the cap']);
  const write = await score(ADD, ' open("/usr/escape", "w")\n    0\n');
  assert.equal(write.executed, 'error');
  assert.match(write.detail, /OSError|Read-only/);
  assert.equal((await score(ADD, ' add(4, 4)\n    8\n')).executed, 'pass', 'the scorer goes on');
});

test('rust: pass, fail, compile error, unparsable, timeout', async () => {
  assert.deepEqual(pick(await score(RADD, '    assert_eq!(add(2, 3), 5);\n}\n\nfn trailing() {}\n')), { called: true, arityOk: true, paramNamesOk: null, syntaxOk: true, executed: 'pass' });
  const fail = await score(RADD, '    assert_eq!(add(2, 3), 6);\n}\n');
  assert.deepEqual(pick(fail), { called: true, arityOk: true, paramNamesOk: null, syntaxOk: true, executed: 'fail' });
  assert.match(fail.detail, /panicked/);
  const types = await score(RADD, '    assert_eq!(add("2", 3), 5);\n}\n');
  assert.deepEqual(pick(types), { called: true, arityOk: true, paramNamesOk: null, syntaxOk: true, executed: 'compile_error' });
  assert.match(types.detail, /^error/);
  const arity = await score(RADD, '    assert_eq!(add(2), 2);\n}\n');
  assert.deepEqual([arity.arityOk, arity.executed], [false, 'compile_error']);
  const unparsable = await score(RADD, '    assert_eq!(add(2, 3), 5)\n    let = ;\n}\n');
  assert.deepEqual([unparsable.syntaxOk, unparsable.executed], [false, 'compile_error']);
  const unfinished = await score(RADD, '    assert_eq!(add(2, 3), 5);\n');
  assert.deepEqual([unfinished.syntaxOk, unfinished.executed], [false, 'compile_error']);
  assert.equal((await score(RADD, '    loop {}\n}\n')).executed, 'timeout');
});

test('rust: hostile tests are contained and recorded', async () => {
  const spawnBomb = await score(RADD, '    loop { let _ = std::process::Command::new("/proc/self/exe").spawn(); }\n}\n');
  assert.equal(spawnBomb.executed, 'timeout', spawnBomb.detail);
  const big = await score(RADD, '    let v = vec![1u8; 10 << 30];\n    assert_eq!(v.len(), add(0, 0) as usize);\n}\n');
  assert.equal(big.executed, 'fail', big.detail);
  const spew = await score(RADD, '    use std::io::Write;\n    loop { std::io::stdout().write_all(&[b\'x\'; 65536]).unwrap(); }\n}\n');
  assert.deepEqual([spew.executed, spew.detail], ['fail', 'output over the cap']);
  const write = await score(RADD, '    std::fs::write("/usr/escape", "x").unwrap();\n}\n');
  assert.equal(write.executed, 'fail');
  assert.equal((await score(RADD, '    assert_eq!(add(1, 1), 2);\n}\n')).executed, 'pass', 'the scorer goes on');
  const size = executionMemoSize();
  const again = await Promise.all([score(RADD, '    assert_eq!(add(1, 1), 2);\n}\n'), score(RADD, '    assert_eq!(add(1, 1), 2);\n}\n')]);
  assert.deepEqual(again.map((s) => s.executed), ['pass', 'pass']);
  assert.equal(executionMemoSize(), size, 'identical programs reuse the result');
});

test('rust: what counts as a call (macros, turbofish, crate::/super::/self:: yes; methods and other paths no)', async () => {
  const yes = ['    let x = add(1, 2);\n}\n', '    assert!(vec![add(1, 2)].len() == 1);\n}\n', '    assert_eq!(crate::add(1, 2), 3);\n}\n', '    assert_eq!(self::add(1, 2), 3);\n}\n'];
  for (const c of yes) assert.equal((await staticScore(RADD, c)).called, true, c);
  const no = ['    assert_eq!(x.add(1, 2), 3);\n}\n', '    assert_eq!(Foo::add(1, 2), 3);\n}\n', '    assert_eq!(ops::add(1, 2), 3);\n}\n', '    let add_ = 3;\n    assert_eq!(adder(1, 2), 3);\n}\n'];
  for (const c of no) assert.equal((await staticScore(RADD, c)).called, false, c);
  const first = byName(rsSet, 'first');
  assert.deepEqual(await staticScore(first, '    assert_eq!(first::<i32>(&[]), None);\n}\n'), { called: true, arityOk: true, paramNamesOk: null, syntaxOk: true });
  assert.equal((await staticScore(RADD, '    assert_eq!(add(1, 2, 3), 6);\n    assert_eq!(add(1, 2), 3);\n}\n')).arityOk, false, 'every call must fit');
});
