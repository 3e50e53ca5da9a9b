/**
 * Sandboxed execution of untrusted (model-generated) code.
 *
 * Each run is its own `bwrap` (bubblewrap) process: new user, pid, network, ipc, uts and mount
 * namespaces (`--unshare-all`, so no network: only a loopback device that is down), killed with its
 * caller (`--die-with-parent`), in its own session (`--new-session`, no terminal injection). The file
 * system is read-only (`/usr` and the merged-/usr links, `/etc/alternatives` for `cc`, the root remounted
 * read-only); the only writable place is `/work`: a size-limited tmpfs, or a host temp dir bound
 * read-write when a step must leave files behind (compiling). Inputs are bound read-only at `/in`. The
 * environment is cleared. Inside, `prlimit` sets CPU seconds, address space, file size, process count
 * (counted in the run's own user namespace) and no core dumps before `exec`-ing the command; the
 * caller enforces wall-clock time and the output cap by killing the process group.
 *
 * When the caller is root the sandbox drops to uid/gid 65534 first (`setpriv`): the kernel never applies
 * RLIMIT_NPROC to uid 0, so as root a fork bomb would not be contained.
 *
 * There is no unsandboxed fallback: if namespaces cannot be created {@link runSandboxed} throws a
 * {@link SandboxUnavailableError}.
 *
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, readlinkSync } from 'node:fs';

/** Resource limits of one run. */
export interface SandboxLimits {
  /** Wall-clock limit (milliseconds); the caller kills the whole sandbox when it passes. */
  wallMs: number;
  /** CPU time limit per process (seconds, RLIMIT_CPU). */
  cpuSeconds: number;
  /** Address-space limit per process (bytes, RLIMIT_AS). */
  memoryBytes: number;
  /** Largest file a process may write (bytes, RLIMIT_FSIZE). */
  fileBytes: number;
  /** Most processes/threads at once in the run (RLIMIT_NPROC, counted in the run's user namespace). */
  processes: number;
  /** Stdout + stderr kept; past this the run is killed and recorded as `output_limit` (bytes). */
  outputBytes: number;
  /** Size of the tmpfs mounted at `/work` when no writable host dir is given (bytes). */
  tmpBytes: number;
}

/** Limits for running small tests (a doctest, a compiled test binary). */
export const RUN_LIMITS: SandboxLimits = {
  wallMs: 10_000,
  cpuSeconds: 5,
  memoryBytes: 512 * 2 ** 20,
  fileBytes: 16 * 2 ** 20,
  processes: 32,
  outputBytes: 64 * 1024,
  tmpBytes: 32 * 2 ** 20,
};

/** Limits for compiling one Rust file with `rustc` (it maps far more address space than it uses). */
export const COMPILE_LIMITS: SandboxLimits = {
  wallMs: 60_000,
  cpuSeconds: 60,
  memoryBytes: 4 * 2 ** 30,
  fileBytes: 256 * 2 ** 20,
  processes: 64,
  outputBytes: 256 * 1024,
  tmpBytes: 64 * 2 ** 20,
};

/** One sandboxed command. */
export interface SandboxSpec {
  /** Command and arguments as seen inside the sandbox (absolute paths, e.g. `/usr/bin/python3`). */
  argv: string[];
  /** Host directory bound read-only at `/in`. */
  inputDir?: string;
  /** Host directory bound read-write at `/work` (instead of the tmpfs); it is chowned to the sandbox user. */
  writableDir?: string;
  limits: SandboxLimits;
  /** Extra environment variables (the environment is otherwise empty but for PATH, HOME, TMPDIR, LANG). */
  env?: Record<string, string>;
  /** Text written to the command's stdin (then closed); without it stdin is empty. */
  stdin?: string;
}

/**
 * How a run ended: `exited` (with `exitCode`), `signaled` (killed by `signal`, e.g. SIGXCPU past the CPU
 * limit, SIGSEGV), `timeout` (wall clock), `output_limit` (printed more than `outputBytes`).
 */
export type SandboxOutcome = 'exited' | 'signaled' | 'timeout' | 'output_limit';

export interface SandboxResult {
  outcome: SandboxOutcome;
  exitCode: number | null;
  signal: string | null;
  /** Captured output, cut at the cap (UTF-8, lossy). */
  stdout: string;
  stderr: string;
  /** Wall-clock duration (milliseconds). */
  wallMs: number;
}

/** The sandbox cannot be created here; the message says why and what to do. */
export class SandboxUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxUnavailableError';
  }
}

const SANDBOX_UID = 65534;
const SIGNALS: Record<number, string> = { 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 24: 'SIGXCPU', 25: 'SIGXFSZ', 31: 'SIGSYS' };

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Mount arguments for the merged-/usr layout (symlinks) or a classic one (binds). */
function systemMounts(): string[] {
  const a = ['--ro-bind', '/usr', '/usr'];
  for (const p of ['/bin', '/sbin', '/lib', '/lib64', '/lib32']) {
    if (!existsSync(p)) continue;
    const st = lstatSync(p);
    if (st.isSymbolicLink()) a.push('--symlink', readlinkSync(p), p);
    else a.push('--ro-bind', p, p);
  }
  a.push('--ro-bind-try', '/etc/alternatives', '/etc/alternatives', '--ro-bind-try', '/etc/ld.so.cache', '/etc/ld.so.cache');
  return a;
}

/** The full host command line of a run (exported for inspection in tests and docs). */
export function sandboxCommand(spec: SandboxSpec): string[] {
  const l = spec.limits;
  const env: Record<string, string> = { PATH: '/usr/bin:/bin', HOME: '/work', TMPDIR: '/work', LANG: 'C.UTF-8', ...spec.env };
  const a = ['bwrap', '--unshare-all', '--die-with-parent', '--new-session', ...systemMounts(), '--proc', '/proc', '--dev', '/dev'];
  if (spec.inputDir) a.push('--ro-bind', spec.inputDir, '/in');
  if (spec.writableDir) a.push('--bind', spec.writableDir, '/work');
  else a.push('--size', String(l.tmpBytes), '--tmpfs', '/work');
  a.push('--remount-ro', '/', '--chdir', '/work', '--clearenv');
  for (const [k, v] of Object.entries(env)) a.push('--setenv', k, v);
  a.push(
    '--',
    '/usr/bin/prlimit',
    `--cpu=${l.cpuSeconds}:${l.cpuSeconds + 1}`,
    `--as=${l.memoryBytes}`,
    `--fsize=${l.fileBytes}`,
    `--nproc=${l.processes}`,
    '--core=0',
    '--',
    ...spec.argv,
  );
  if (isRoot()) return ['setpriv', `--reuid=${SANDBOX_UID}`, `--regid=${SANDBOX_UID}`, '--clear-groups', '--', ...a];
  return a;
}

let probed: string | null = null;

/**
 * Checks once per process that a sandbox can be created (runs `/usr/bin/true` in it); throws a
 * {@link SandboxUnavailableError} with bwrap's own message otherwise.
 */
export function assertSandboxAvailable(): void {
  if (probed === 'ok') return;
  if (probed !== null) throw new SandboxUnavailableError(probed);
  const cmd = sandboxCommand({ argv: ['/usr/bin/true'], limits: RUN_LIMITS });
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 20_000 });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr || `exit ${r.status}`).trim();
    probed =
      `cannot create the sandbox for generated code (${cmd.slice(0, cmd.indexOf('--unshare-all') + 1).join(' ')} ...): ${why}. ` +
      'It needs bubblewrap and util-linux (`apt-get install bubblewrap util-linux`, see scripts/setup.sh) and a kernel that ' +
      'allows user namespaces (sysctl user.max_user_namespaces > 0; in Docker run with --security-opt seccomp=unconfined or ' +
      'an equivalent profile). Generated code is never run outside the sandbox.';
    throw new SandboxUnavailableError(probed);
  }
  probed = 'ok';
}

/** Makes a host directory (and its files) usable by the sandbox user. */
export function shareWithSandbox(path: string, files: string[] = []): void {
  if (!isRoot()) return;
  chownSync(path, SANDBOX_UID, SANDBOX_UID);
  for (const f of files) chownSync(f, SANDBOX_UID, SANDBOX_UID);
}

/**
 * Runs one command in a fresh sandbox. Never throws for anything the command does (it is recorded in
 * the result); throws {@link SandboxUnavailableError} when no sandbox can be created.
 */
export async function runSandboxed(spec: SandboxSpec): Promise<SandboxResult> {
  assertSandboxAvailable();
  if (spec.writableDir) shareWithSandbox(spec.writableDir);
  const cmd = sandboxCommand(spec);
  const t0 = performance.now();
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  child.stdin!.on('error', () => {
    /* the command may exit without reading its input */
  });
  child.stdin!.end(spec.stdin ?? '');
  const cap = spec.limits.outputBytes;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let kept = 0;
  let killedFor: SandboxOutcome | null = null;
  const kill = (why: SandboxOutcome) => {
    killedFor ??= why;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const take = (into: Buffer[]) => (b: Buffer) => {
    if (killedFor) return;
    const room = cap - kept;
    if (b.length > room) {
      into.push(b.subarray(0, Math.max(0, room)));
      kept = cap;
      kill('output_limit');
      return;
    }
    into.push(b);
    kept += b.length;
  };
  child.stdout!.on('data', take(out));
  child.stderr!.on('data', take(err));
  const timer = setTimeout(() => kill('timeout'), spec.limits.wallMs);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => resolve({ code: c, signal: s }));
  });
  clearTimeout(timer);
  const wallMs = performance.now() - t0;
  const stdout = Buffer.concat(out).toString('utf8');
  const stderr = Buffer.concat(err).toString('utf8');
  if (killedFor) return { outcome: killedFor, exitCode: null, signal: 'SIGKILL', stdout, stderr, wallMs };
  if (signal) return { outcome: 'signaled', exitCode: null, signal, stdout, stderr, wallMs };
  // bwrap reports a child killed by signal n as exit status 128 + n
  if (code !== null && code > 128 && code - 128 in SIGNALS) {
    return { outcome: 'signaled', exitCode: null, signal: SIGNALS[code - 128]!, stdout, stderr, wallMs };
  }
  return { outcome: 'exited', exitCode: code, signal: null, stdout, stderr, wallMs };
}
