/** Download progress when stderr is not a terminal: plain throttled lines with bytes, %, rate, ETA (fake clock). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProgress, formatBytes } from '../../src/io/progress.ts';

test('non-TTY download progress: one line per interval, a final line, nothing when disabled', () => {
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => (lines.push(...s.split('\n').filter(Boolean)), true) };
  let t = 0;
  const p = createProgress(true, stream, { intervalS: 10, now: () => t });
  p.addTotal(1_000_000);
  const f = p.file('model.safetensors', 1_000_000, 200_000); // 200 kB resumed from an earlier run
  for (let i = 1; i <= 80; i++) {
    t = i * 1000; // 10 kB/s
    f.add(10_000);
  }
  f.done();
  p.stop();
  assert.equal(lines.length, 8, lines.join('\n')); // t = 10 s … 80 s; the last one is also the final state
  assert.equal(lines[0], 'download: 300 kB / 1.0 MB (30.0%) 10.0 kB/s eta 1m10s model.safetensors');
  assert.match(lines.at(-1)!, /^download: 1\.0 MB \/ 1\.0 MB \(100\.0%\)/);
  const quiet: string[] = [];
  const q = createProgress(false, { isTTY: false, write: (s: string) => (quiet.push(s), true) });
  q.addTotal(5);
  q.file('x', 5, 0).add(5);
  q.stop();
  assert.deepEqual(quiet, []);
  assert.equal(formatBytes(1500), '1.5 kB');
});
