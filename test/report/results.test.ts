import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResultsStore, type Provenance } from '../../src/report/results.ts';

const header = (settings: Record<string, unknown> = { layers: [0, 1] }): Provenance => ({
  tool: { name: 'plip-ts', version: '0' },
  experiment: 'demo',
  schemaVersion: 1,
  model: { id: 'm', path: '/x', format: 'hf', family: 'llama', nLayers: 2, nHeads: 2, backend: 'ts', configHash: 'abc' },
  corpus: { path: 'c.json', sha256: 'ff', nSamples: 3 },
  settings,
  seed: 1,
  startedAt: new Date().toISOString(),
});

test('records survive a crash; resume skips them, drops a torn line, and never duplicates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plip-res-'));
  const out = join(dir, 'r.json');
  const a = new ResultsStore<{ key: string; v: number }>(out, header());
  a.add({ key: 's1', v: 1 });
  a.add({ key: 's2', v: 2 });
  a.close(); // simulated crash: no finish()
  appendFileSync(a.progressPath, '{"type":"record","key":"s3","v":'); // torn write
  const b = new ResultsStore<{ key: string; v: number }>(out, header());
  assert.equal(b.resumed, 2);
  assert.ok(b.has('s1') && b.has('s2') && !b.has('s3'));
  assert.throws(() => b.add({ key: 's1', v: 9 }), /duplicate/);
  b.add({ key: 's3', v: 3 });
  b.finish({ n: 3 });
  assert.ok(!existsSync(b.progressPath));
  const doc = JSON.parse(readFileSync(out, 'utf8'));
  assert.deepEqual(doc.records.map((r: { key: string }) => r.key), ['s1', 's2', 's3']);
  assert.deepEqual(doc.summary, { n: 3 });
});

test('resuming with different settings is refused with a clear message; --restart discards', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plip-res-'));
  const out = join(dir, 'r.jsonl');
  const a = new ResultsStore<{ key: string }>(out, header());
  a.add({ key: 'x' });
  a.close();
  assert.throws(() => new ResultsStore(out, header({ layers: [5] })), /DIFFERENT settings.*--restart/);
  const c = new ResultsStore<{ key: string }>(out, header({ layers: [5] }), { restart: true });
  assert.equal(c.resumed, 0);
  c.finish({});
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines[0].type, 'header');
  assert.equal(lines.at(-1).type, 'summary');
});

test('exclusive lock: a live writer is named by pid; a stale lock of a dead process is taken over; released at the end', async () => {
  const { spawn, spawnSync } = await import('node:child_process');
  const { writeFileSync, mkdirSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'plip-lock-'));
  const out = join(dir, 'r.json');
  const live = spawn('sleep', ['30']);
  try {
    writeFileSync(`${out}.lock`, `${live.pid}\n`);
    assert.throws(() => new ResultsStore(out, header()), new RegExp(`another run \\(pid ${live.pid}\\) is writing this results file`));
  } finally {
    live.kill();
  }
  const dead = spawnSync('true').pid!;
  writeFileSync(`${out}.lock`, `${dead}\n`);
  const s = new ResultsStore<{ key: string }>(out, header());
  assert.equal(readFileSync(`${out}.lock`, 'utf8').trim(), String(process.pid), 'stale lock taken over');
  // the lock is linked into place from a file already holding the pid, which is removed again
  assert.ok(!existsSync(`${out}.lock.${process.pid}`), 'no staging file left beside the lock');
  assert.throws(() => new ResultsStore(out, header()), /already has this results file open/);
  s.add({ key: 'a' });
  s.finish({});
  assert.ok(!existsSync(`${out}.lock`), 'lock released');
  // a directory as output is refused before anything is written
  mkdirSync(join(dir, 'd'));
  assert.throws(() => new ResultsStore(join(dir, 'd'), header()), /is a directory/);
});

test('no record, no progress file; a stray .tmp-PID of a killed run is removed', async () => {
  const { writeFileSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'plip-res-'));
  const out = join(dir, 'r.json');
  writeFileSync(`${out}.tmp-99999999`, 'half a file');
  const s = new ResultsStore<{ key: string }>(out, header());
  assert.ok(!existsSync(`${out}.tmp-99999999`), 'stray tmp removed');
  s.close(); // e.g. the run failed before its first record
  assert.ok(!existsSync(s.progressPath), 'no header-only progress file');
  assert.ok(!existsSync(`${out}.lock`));
});
