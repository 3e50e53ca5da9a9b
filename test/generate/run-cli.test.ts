/**
 * `plip run --prompts-file F.jsonl --batch-size B --out OUT.jsonl`: records identical for batch size 1 and B
 * under greedy decoding (and with seeded sampling), per-prompt settings honoured, records in input order,
 * resume without loss or duplication, clear errors (file:line: field) with exit code 2/1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const STORIES = '../shared/models/stories260K';
const tmp = mkdtempSync(join(tmpdir(), 'plip-run-'));

function plip(...args: string[]) {
  // the run command as `plip` registers it (test/generate/infer-cli.ts), independent of the other commands
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/generate/infer-cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, PLIP_NO_PROGRESS: '1', PLIP_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Line = { type: string; key?: string; id?: string | number; completion?: string; tokens?: number[]; stop?: string; settings?: Record<string, unknown> };
const records = (path: string) =>
  readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line).filter((l) => l.type === 'record');

/**
 * Records equal: ids, prompts, completions, tokens, stop reasons and settings exactly; log-probs to float32
 * rounding (a batch changes the matmul blocking, hence the last bits of a logit, never a greedy token here).
 */
function sameRecords(a: Line[], b: Line[], what: string): void {
  const strip = (r: Line) => ({ ...r, logprobs: undefined });
  assert.deepEqual(a.map(strip), b.map(strip), what);
  a.forEach((r, i) => {
    const x = (r as { logprobs: number[] }).logprobs, y = (b[i] as { logprobs: number[] }).logprobs;
    assert.equal(x.length, y.length);
    x.forEach((v, j) => assert.ok(Math.abs(v - y[j]!) <= 1e-5, `${what}: record ${i} logprob ${j}: ${v} vs ${y[j]}`));
  });
}

const PROMPTS = [
  { id: 'a', prompt: 'Once upon a time' },
  { id: 'b', prompt: 'Lily', max_tokens: 3 },
  { id: 7, prompt: 'The dog ran to the park and', stop: ['.'] },
  { id: 'd', prompt: 'Zoo', temperature: 0.8, seed: 3 },
  { id: 'e', prompt: 'One day, a little girl named Sue', max_tokens: 9, stop_at_eos: false },
];

test('plip run --prompts-file: identical records for --batch-size 1 and 4; per-prompt settings; input order', () => {
  const f = join(tmp, 'p.jsonl');
  writeFileSync(f, PROMPTS.map((p) => JSON.stringify(p)).join('\n') + '\n');
  const o1 = join(tmp, 'b1.jsonl'), o4 = join(tmp, 'b4.jsonl');
  const r1 = plip('run', '--model', STORIES, '--prompts-file', f, '--batch-size', '1', '--max-tokens', '12', '--out', o1);
  assert.equal(r1.code, 0, r1.stderr);
  const r4 = plip('run', '--model', STORIES, '--prompts-file', f, '--batch-size', '4', '--max-tokens', '12', '--out', o4);
  assert.equal(r4.code, 0, r4.stderr);
  const a = records(o1), b = records(o4);
  sameRecords(b, a, 'batch size changes nothing');
  assert.deepEqual(a.map((r) => r.id), ['a', 'b', 7, 'd', 'e'], 'input order');
  assert.equal(a[1]!.tokens!.length, 3);
  assert.equal(a[1]!.stop, 'max_tokens');
  assert.ok(a[2]!.stop !== 'stop_sequence' || a[2]!.completion!.includes('.'));
  assert.equal(a[3]!.settings!.temperature, 0.8);
  assert.equal(a[4]!.tokens!.length, 9);
  // the single-prompt path gives the same completion as its record
  const one = plip('run', '--model', STORIES, '--prompt', 'Once upon a time', '--max-tokens', '12', '--out', join(tmp, 'one.json'));
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(JSON.parse(readFileSync(join(tmp, 'one.json'), 'utf8')).ids, a[0]!.tokens);
});

test('plip run --prompts-file resumes an interrupted run without loss or duplication', () => {
  const f = join(tmp, 'r.jsonl');
  writeFileSync(f, PROMPTS.map((p) => JSON.stringify(p)).join('\n') + '\n');
  const full = join(tmp, 'full.jsonl');
  assert.equal(plip('run', '--model', STORIES, '--prompts-file', f, '--batch-size', '2', '--out', full).code, 0);
  // a progress file holding the header and the first two records, as a killed run leaves it
  const out = join(tmp, 'resumed.jsonl');
  const lines = readFileSync(full, 'utf8').trim().split('\n');
  writeFileSync(`${out}.progress.jsonl`, lines.slice(0, 3).join('\n') + '\n');
  const r = plip('run', '--model', STORIES, '--prompts-file', f, '--batch-size', '3', '--out', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /resuming: 2 record/);
  sameRecords(records(out), records(full), 'resumed = uninterrupted');
  assert.ok(!existsSync(`${out}.progress.jsonl`));
});

test('plip run --prompts-file: bad input gives file:line: field errors and exit codes', () => {
  const bad = (body: string) => {
    const f = join(tmp, `bad-${Math.random().toString(36).slice(2)}.jsonl`);
    writeFileSync(f, body);
    return { f, r: plip('run', '--model', STORIES, '--prompts-file', f, '--out', join(tmp, 'x.jsonl')) };
  };
  let x = bad('{"id": "a", "prompt": "x"}\n{"id": "b", "prompt": 3}\n');
  assert.equal(x.r.code, 1);
  assert.match(x.r.stderr, new RegExp(`${x.f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: prompt: `));
  x = bad('{"id": "a", "prompt": "x", "temp": 1}\n');
  assert.match(x.r.stderr, /:1: .*temp.*allowed: id, prompt/);
  x = bad('{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n');
  assert.match(x.r.stderr, /:2: id 'a' was already used on line 1/);
  x = bad('not json\n');
  assert.match(x.r.stderr, /:1: not valid JSON/);
  assert.ok(!x.r.stderr.includes('    at '), 'no stack trace');
  const both = plip('run', '--model', STORIES, '--prompt', 'x', '--prompts-file', x.f);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /exactly one of --prompt/);
  assert.equal(plip('run', '--model', STORIES, '--prompts-file', x.f).code, 2, '--out is required');
});
