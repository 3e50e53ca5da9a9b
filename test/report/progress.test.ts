/**
 * Progress when stderr is not a terminal: plain lines with count, rate and ETA, at most one per
 * interval (a fake clock; no wall-clock assertion), a final line, nothing with PLIP_NO_PROGRESS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, progressBar } from '../../src/report/progress.ts';

function sink(isTTY = false) {
  const lines: string[] = [];
  return { lines, stream: { isTTY, write: (s: string) => void lines.push(...s.split('\n').filter(Boolean)) } };
}

test('non-TTY: periodic plain lines (count, %, rate, ETA), throttled to the interval, then a final line', () => {
  const { lines, stream } = sink(false);
  let t = 0;
  const p = progressBar(100, 'knockout', { stream, intervalS: 10, now: () => t });
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^knockout: 0\/100 started/);
  for (let i = 1; i <= 100; i++) {
    t = i * 1000; // one step per second
    p.tick(1, `sample-${i}`);
  }
  // ticks at t = 10 s, 20 s, …, 100 s each print: 10 lines, not 100
  assert.equal(lines.length, 1 + 10);
  assert.equal(lines[1], 'knockout: 10/100 (10.0%) 1.00/s elapsed 10s eta 1m30s sample-10');
  assert.equal(lines[5], 'knockout: 50/100 (50.0%) 1.00/s elapsed 50s eta 50s sample-50');
  p.stop();
  assert.equal(lines.length, 11, 'no duplicate final line when the last tick was printed');
  const q = progressBar(3, 'scan', { stream, intervalS: 60, now: () => t });
  q.tick();
  q.tick();
  q.stop();
  q.stop();
  assert.match(lines.at(-1)!, /^scan: 2\/3 \(66\.7%\)/);
  assert.equal(lines.filter((l) => l.startsWith('scan: 2/3')).length, 1);
});

test('PLIP_NO_PROGRESS and total ≤ 0 print nothing', () => {
  const { lines, stream } = sink(false);
  process.env.PLIP_NO_PROGRESS = '1';
  try {
    const p = progressBar(5, 'x', { stream, now: () => 0 });
    p.tick();
    p.stop();
  } finally {
    delete process.env.PLIP_NO_PROGRESS;
  }
  progressBar(0, 'x', { stream }).stop();
  assert.equal(lines.length, 0);
});

test('formatDuration', () => {
  assert.equal(formatDuration(42.4), '42s');
  assert.equal(formatDuration(185), '3m05s');
  assert.equal(formatDuration(3725), '1h02m');
  assert.equal(formatDuration(Infinity), '?');
});

test('CLI with stderr piped (as under nohup, tee, CI): an experiment prints plain progress lines', async () => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'plip-progress-'));
  const s = (id: string, name: string, py: boolean) =>
    py
      ? { id, code: `def ${name}(a, b):\n    """\n    >>> ${name}(1, 2)\n    """\n    return a`, marker_pattern: '>>>', targets: 'function-signature' }
      : { id, code: `fn ${name}(a: i32) -> i32 { a }\n#[test]\nfn t() { assert_eq!(${name}(1), 1); }`, marker_pattern: '#[test]', targets: 'function-signature' };
  writeFileSync(join(dir, 'c.json'), JSON.stringify({ _format_version: '2.0', python_doctest: [s('p1', 'add', true), s('p2', 'mul', true)], rust_test: [s('r1', 'add', false), s('r2', 'mul', false)] }));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, PLIP_PROGRESS_INTERVAL: '0.000001' };
    delete env.PLIP_NO_PROGRESS;
    const r = spawnSync(process.execPath, ['bin/plip.mjs', 'scan', '--corpus', join(dir, 'c.json'), '--layers', '0', '--n-permutations', '99', '--n-boot', '99', '--controls', '2', '--out', join(dir, 'scan.json'), '--quiet'], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('scan: '));
    assert.match(lines[0]!, /^scan: 0\/4 started/);
    assert.ok(lines.some((l) => /^scan: 4\/4 \(100\.0%\) [\d.]+\/s elapsed \S+ eta \S+/.test(l)), lines.join('\n'));
    assert.doesNotMatch(r.stderr, /\r|\u001b\[/, 'no terminal control codes');
    assert.doesNotMatch(r.stdout, /scan: \d/, 'progress stays off stdout');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
