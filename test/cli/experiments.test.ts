/**
 * The experiment contract through the CLI on the bundled model organism: whole-input validation before any
 * work (unusable prompts reported and skipped, nothing usable = error, the context rule), output checks
 * (directory, lock held by a live process), usage errors (exit 2), and the copying results schema against
 * real output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyingResultsSchema } from '../../src/experiments/copying/schema.ts';

const PROMPTS = 'training/eval/eval_prompts.json';
const CORPUS = '../shared/corpus/attention_samples_universal.json';
const dir = mkdtempSync(join(tmpdir(), 'plip-exp-cli-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, PLIP_NO_PROGRESS: '1' };
const plip = (args: string[]) => spawnSync(process.execPath, ['bin/plip.mjs', ...args], { encoding: 'utf8', env });
const leftovers = (out: string) => readdirSync(dir).filter((f) => f.startsWith(out.split('/').at(-1)!));

test('copying: unusable prompts are reported and skipped (counts in the summary), the rest runs; the file matches the schema', () => {
  const out = join(dir, 'mixed.json');
  const r = plip(['copying', '--prompts', PROMPTS, '--groups', 'python_doctest,rust_doc_attr_test', '--limit', '2', '--layers', '3', '--controls', '1', '--max-tokens', '4', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /2 input item\(s\) cannot be used and are skipped/);
  const warn = r.stdout.indexOf('prompt(s) skipped');
  assert.ok(warn >= 0 && warn < r.stdout.indexOf('Share of completions'), 'the caveat comes before the tables');
  const doc = copyingResultsSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
  assert.equal(doc.records.length, 2);
  assert.deepEqual(doc.summary.skipped.map((s) => s.group), ['rust_doc_attr_test', 'rust_doc_attr_test']);
  assert.match(doc.summary.skipped[0]!.reason, /function name 'direct_journal' does not occur before the marker/);
  // strict: an unknown field fails
  assert.throws(() => copyingResultsSchema.parse({ ...doc, records: [{ ...doc.records[0], extra: 1 }] }));
});

test('copying: a prompt set with nothing usable, or with no prompt at all, is an error before any work and leaves nothing behind', () => {
  const out = join(dir, 'none.json');
  const r = plip(['copying', '--prompts', PROMPTS, '--groups', 'rust_doc_attr_test', '--layers', '3', '--out', out]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /copying: nothing to run: every item was skipped \(rs_doc_000: .*direct_journal/);
  assert.deepEqual(leftovers(out), []);
  const empty = join(dir, 'empty-prompts.json');
  writeFileSync(empty, JSON.stringify({ python_doctest: [], rust_test: [] }));
  const e = plip(['patch', '--prompts', empty, '--out', join(dir, 'e.json')]);
  assert.equal(e.status, 1);
  assert.match(e.stderr, /no prompts \(every group is empty/);
});

test('--out naming a directory, or an output locked by a live process, fails at once; no progress or tmp files', () => {
  const d = join(dir, 'adir');
  mkdirSync(d);
  const r = plip(['knockout', '--corpus', CORPUS, '--layers', '3', '--out', d]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /adir: is a directory/);
  const out = join(dir, 'locked.json');
  const live = spawn('sleep', ['30']);
  try {
    writeFileSync(`${out}.lock`, `${live.pid}\n`);
    const l = plip(['scan', '--corpus', CORPUS, '--layers', '3', '--out', out]);
    assert.equal(l.status, 1);
    assert.match(l.stderr, new RegExp(`another run \\(pid ${live.pid}\\) is writing this results file`));
    assert.ok(!existsSync(`${out}.progress.jsonl`));
  } finally {
    live.kill();
  }
});

test('one context rule: a sample longer than the model context is an error naming it, before any record (scan, knockout, steer)', () => {
  const c = JSON.parse(readFileSync(CORPUS, 'utf8'));
  const long = { ...c.python_doctest[0], id: 'py_too_long', code: c.python_doctest[0].code + '\nx = 1'.repeat(400) };
  c.python_doctest.push(long);
  const file = join(dir, 'long.json');
  writeFileSync(file, JSON.stringify(c));
  for (const cmd of ['scan', 'knockout', 'steer']) {
    const out = join(dir, `long-${cmd}.json`);
    const r = plip([cmd, '--corpus', file, '--layers', '3', '--out', out]);
    assert.equal(r.status, 1, `${cmd}: ${r.stderr}`);
    assert.match(r.stderr, /sample 'py_too_long': \d+ tokens exceed the model's context of 256 tokens/, cmd);
    assert.deepEqual(leftovers(out), [], `${cmd}: nothing left behind`);
  }
  // a huge sample is rejected on its length, before it is tokenized
  c.python_doctest[c.python_doctest.length - 1] = { ...long, id: 'py_huge', code: long.code + '\nx = 1'.repeat(20000) };
  writeFileSync(file, JSON.stringify(c));
  for (const cmd of ['scan', 'knockout']) {
    const r = plip([cmd, '--corpus', file, '--layers', '3', '--out', join(dir, `huge-${cmd}.json`)]);
    assert.equal(r.status, 1, `${cmd}: ${r.stderr}`);
    assert.match(r.stderr, /sample 'py_huge': \d+ characters cannot fit the model's context of 256 tokens \(checked before tokenizing/, cmd);
  }
});

test('usage errors exit 2 with the flag named; --out is required by every experiment command', () => {
  for (const cmd of ['scan', 'knockout', 'steer']) assert.equal(plip([cmd, '--corpus', CORPUS]).status, 2, `${cmd} without --out`);
  for (const cmd of ['copying', 'patch']) assert.equal(plip([cmd, '--prompts', PROMPTS]).status, 2, `${cmd} without --out`);
  const c = plip(['knockout', '--corpus', CORPUS, '--controls', '0', '--out', join(dir, 'x.json')]);
  assert.equal(c.status, 2);
  assert.match(c.stderr, /--controls/);
  const g = plip(['copying', '--prompts', PROMPTS, '--groups', 'nope', '--out', join(dir, 'x.json')]);
  assert.equal(g.status, 2);
  assert.match(g.stderr, /--groups: unknown group 'nope'/);
  const s = plip(['scan', '--corpus', CORPUS, '--compare', 'a,b', '--out', join(dir, 'x.json')]);
  assert.equal(s.status, 2);
  assert.match(s.stderr, /--compare: group 'a' is not in the corpus/);
  const k = plip(['knockout', '--corpus', CORPUS, '--groups', 'nope', '--out', join(dir, 'x.json')]);
  assert.equal(k.status, 2);
  assert.match(k.stderr, /--groups: corpus has no group 'nope'/);
});

test('two processes writing the same --out: the second fails at once naming the first one\'s pid; the first finishes intact', async () => {
  const out = join(dir, 'twice.json');
  const args = ['copying', '--prompts', PROMPTS, '--groups', 'python_doctest', '--limit', '6', '--layers', '3', '--controls', '2', '--max-tokens', '16', '--out', out];
  const first = spawn(process.execPath, ['bin/plip.mjs', ...args], { env, stdio: 'ignore' });
  const exited = new Promise<number | null>((res) => first.on('exit', (code) => res(code)));
  const t0 = Date.now();
  while (!existsSync(`${out}.lock`)) {
    if (Date.now() - t0 > 120_000) assert.fail('the first run never took the lock');
    await new Promise((r) => setTimeout(r, 50));
  }
  // Pause the first run while it holds the lock, so that the second meets it whatever the
  // machine's speed (on a fast machine the first could otherwise finish before the second starts).
  first.kill('SIGSTOP');
  assert.ok(existsSync(`${out}.lock`), 'the first run finished before it could be paused; give it more work');
  let second;
  try {
    second = plip(args);
  } finally {
    first.kill('SIGCONT');
  }
  assert.equal(second.status, 1, second.stderr);
  assert.match(second.stderr, new RegExp(`another run \\(pid ${first.pid}\\) is writing this results file`));
  assert.equal(await exited, 0);
  const doc = copyingResultsSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
  assert.equal(doc.records.length, 6);
  assert.equal(new Set(doc.records.map((r) => r.key)).size, 6);
  assert.ok(!existsSync(`${out}.lock`));
});
