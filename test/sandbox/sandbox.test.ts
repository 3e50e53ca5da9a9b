/**
 * The sandbox against hostile programs: each is contained and recorded, and the next run works.
 * Limits are kept low (5 s wall, 1 s CPU, 256 MiB, 16 processes, 64 KiB output) so the suite stays cheap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RUN_LIMITS, runSandboxed, sandboxCommand, shareWithSandbox, type SandboxLimits } from '../../src/sandbox/sandbox.ts';

const L: SandboxLimits = { ...RUN_LIMITS, wallMs: 5000, cpuSeconds: 1, memoryBytes: 256 * 2 ** 20, processes: 16, outputBytes: 64 * 1024, tmpBytes: 8 * 2 ** 20 };
const py = (src: string, limits = L) => runSandboxed({ argv: ['/usr/bin/python3', '-I', '-c', src], limits });

function processesWith(token: string): number {
  let n = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(token)) n++;
    } catch {
      /* gone */
    }
  }
  return n;
}

test('a normal program runs, with only the sandbox environment', async () => {
  process.env.PLIP_TEST_SECRET = 'do-not-leak';
  const r = await py('import os, sys; print(sorted(os.environ)); print(os.getcwd()); print(open("/in/x").read() if os.path.exists("/in/x") else "-")');
  delete process.env.PLIP_TEST_SECRET;
  assert.equal(r.outcome, 'exited');
  assert.equal(r.exitCode, 0);
  // bwrap --chdir sets PWD
  assert.equal(r.stdout, "['HOME', 'LANG', 'PATH', 'PWD', 'TMPDIR']\n/work\n-\n");
});

test('infinite loop: stopped by the CPU limit; sleeping forever: stopped by the wall clock', async () => {
  // a generous wall clock so that the CPU limit acts first even on a loaded machine
  const a = await py('while True: pass', { ...L, wallMs: 60_000 });
  assert.equal(a.outcome, 'signaled');
  assert.equal(a.signal, 'SIGXCPU');
  const b = await py('import time; time.sleep(60)');
  assert.equal(b.outcome, 'timeout');
});

test('fork bomb: the process limit holds, the wall clock ends it, nothing is left running', async () => {
  const token = `forkbomb_${randomBytes(6).toString('hex')}`;
  const r = await py(`import os, time\n${token} = 0\nn = 0\nwhile True:\n    try:\n        os.fork(); n += 1\n    except OSError:\n        time.sleep(0.01)`);
  assert.equal(r.outcome, 'timeout');
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(processesWith(token), 0);
  const c = await py('import os\nn = 0\ntry:\n    for _ in range(100):\n        if os.fork() == 0:\n            import time; time.sleep(1); os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nprint(n)');
  assert.equal(c.outcome, 'exited');
  assert.ok(Number(c.stdout) < 16, `forked ${c.stdout.trim()} children`);
});

test('writing outside /work fails; /work is a size-limited tmpfs; inputs are read-only', async () => {
  const host = join(tmpdir(), `plip-escape-${randomBytes(6).toString('hex')}`);
  const dir = mkdtempSync(join(tmpdir(), 'plip-sbx-in-'));
  writeFileSync(join(dir, 'x'), 'input');
  shareWithSandbox(dir, [join(dir, 'x')]);
  try {
    const src = [
      'import os',
      `for p in ["/escape", "/usr/escape", "/etc/alternatives/escape", "/in/x", "/in/y", "${host}", "/proc/escape"]:`,
      '    try:',
      '        open(p, "w").write("x"); print("WROTE", p)',
      '    except OSError as e:',
      '        print("denied", p)',
      'open("/work/ok", "w").write("x"); print("work ok")',
      'try:',
      '    open("/work/big", "wb").write(b"x" * (64 * 2**20)); print("WROTE big")',
      'except OSError as e:',
      '    print("big denied")',
    ].join('\n');
    const r = await runSandboxed({ argv: ['/usr/bin/python3', '-I', '-c', src], inputDir: dir, limits: L });
    assert.equal(r.outcome, 'exited', r.stderr);
    assert.doesNotMatch(r.stdout, /WROTE/);
    assert.match(r.stdout, /work ok/);
    assert.match(r.stdout, /big denied/);
    assert.equal(existsSync(host), false);
    assert.equal(readFileSync(join(dir, 'x'), 'utf8'), 'input');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no network: a server listening on the host loopback cannot be reached', async () => {
  const server = createServer((s) => s.end('hello'));
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as { port: number }).port;
  try {
    const r = await py(
      `import socket\nfor addr in [("127.0.0.1", ${port}), ("1.1.1.1", 80)]:\n    try:\n        socket.create_connection(addr, timeout=1); print("CONNECTED", addr)\n    except OSError as e:\n        print("refused", e.errno)`,
    );
    assert.equal(r.outcome, 'exited');
    assert.doesNotMatch(r.stdout, /CONNECTED/);
    assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('refused')).length, 2);
  } finally {
    server.close();
  }
});

test('allocating 10 GB fails with MemoryError; printing 1 GB is cut at the cap', async () => {
  const a = await py('x = bytearray(10 * 2**30)');
  assert.equal(a.outcome, 'exited');
  assert.equal(a.exitCode, 1);
  assert.match(a.stderr, /MemoryError/);
  const b = await py('import sys\nfor _ in range(2**14):\n    sys.stdout.write("x" * 2**16)');
  assert.equal(b.outcome, 'output_limit');
  assert.ok(b.stdout.length <= L.outputBytes);
});

test('after all of that the sandbox still works', async () => {
  const r = await py('print(6 * 7)');
  assert.deepEqual([r.outcome, r.stdout], ['exited', '42\n']);
});

test('no sandbox, no run: without bwrap it is an error, never an unsandboxed fallback', () => {
  const code = `import { runSandboxed, RUN_LIMITS } from ${JSON.stringify(new URL('../../src/sandbox/sandbox.ts', import.meta.url).href)};
try { await runSandboxed({ argv: ['/usr/bin/touch', '/tmp/plip-ran-unsandboxed'], limits: RUN_LIMITS }); console.log('RAN'); }
catch (e) { console.log(e.name + ': ' + e.message); }`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent' } });
  assert.match(r.stdout, /SandboxUnavailableError: cannot create the sandbox/, r.stderr);
  assert.doesNotMatch(r.stdout, /RAN/);
});

test('the command line: all namespaces unshared, read-only root, limits set inside', () => {
  const cmd = sandboxCommand({ argv: ['/usr/bin/true'], limits: L }).join(' ');
  for (const s of ['--unshare-all', '--die-with-parent', '--new-session', '--clearenv', '--remount-ro /', '--tmpfs /work', '--nproc=16', '--as=268435456', '--cpu=1:2']) {
    assert.ok(cmd.includes(s), `${s} in ${cmd}`);
  }
});
