/**
 * Running a generated test against the prompt's reference implementation, in the sandbox
 * (src/sandbox/sandbox.ts).
 *
 * - Python: the reference is executed in a fresh namespace, then the generated example is run by
 *   `doctest` in that namespace. `pass`: every example's output matched; `fail`: an example printed
 *   something other than its expected output; `error`: the example raised (unexpectedly), could not be
 *   parsed as a doctest, or the interpreter died (memory, output cap, signal); `timeout`: wall clock or
 *   CPU limit.
 * - Rust: `rustc --test` (Debian's rustc, `/usr/bin/rustc`) compiles the program (reference + test), then
 *   the test binary runs in a second sandbox. `compile_error`: rustc failed; `pass`: the harness exited 0
 *   with at least one test passed; `fail`: a test failed or panicked, the binary crashed or printed past
 *   the cap; `timeout`: wall clock or CPU limit, in either step.
 *
 * @module
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { COMPILE_LIMITS, RUN_LIMITS, runSandboxed, shareWithSandbox, type SandboxLimits, type SandboxResult } from '../sandbox/sandbox.ts';

export type PythonExecution = 'pass' | 'fail' | 'error' | 'timeout';
export type RustExecution = 'pass' | 'fail' | 'compile_error' | 'timeout';
export type Execution = PythonExecution | RustExecution;

export interface ExecutionResult<E extends Execution = Execution> {
  executed: E;
  /** One line saying why (first failing line, rustc's first error, the signal, ...). */
  detail: string;
}

/** Limits of each step; defaults {@link RUN_LIMITS} and {@link COMPILE_LIMITS}. */
export interface ExecuteLimits {
  run?: Partial<SandboxLimits>;
  compile?: Partial<SandboxLimits>;
}

/**
 * Results of identical runs (same program, same limits) are reused within a process: generation
 * conditions often produce the same completion, and a Rust compile takes about a second.
 */
const memo = new Map<string, Promise<ExecutionResult>>();
const MEMO_MAX = 20_000;

/** Number of distinct runs remembered (for tests). */
export function executionMemoSize(): number {
  return memo.size;
}

function memoized<E extends Execution>(key: unknown[], run: () => Promise<ExecutionResult<E>>): Promise<ExecutionResult<E>> {
  const k = createHash('sha256').update(JSON.stringify(key)).digest('hex');
  const hit = memo.get(k);
  if (hit) return hit as Promise<ExecutionResult<E>>;
  const p = run();
  if (memo.size >= MEMO_MAX) memo.delete(memo.keys().next().value!);
  memo.set(k, p);
  p.catch(() => memo.delete(k));
  return p;
}

const PY_RUNNER = String.raw`
import doctest, json, sys
nonce = sys.stdin.readline().strip()
sys.stdin.close()
def report(result, detail):
    sys.__stdout__.write("\n" + nonce + json.dumps({"result": result, "detail": detail[:500]}) + "\n")
    sys.__stdout__.flush()
    raise SystemExit(0)
ref = open("/in/reference.py").read()
test = open("/in/test.txt").read()
g = {"__name__": "__plip_reference__"}
try:
    exec(compile(ref, "reference.py", "exec"), g)
except BaseException as e:
    report("reference_error", repr(e))
try:
    dt = doctest.DocTestParser().get_doctest(test, g, "generated", "generated", 0)
except ValueError as e:
    report("error", "not a doctest: " + str(e))
if not dt.examples:
    report("error", "no >>> example in the test")
outcome = []
class Runner(doctest.DocTestRunner):
    def report_failure(self, out, test, example, got):
        outcome.append(("fail", "expected %r, got %r" % (example.want, got)))
    def report_unexpected_exception(self, out, test, example, exc_info):
        outcome.append(("error", "%s: %s" % (exc_info[0].__name__, exc_info[1])))
Runner(verbose=False).run(dt, out=lambda s: None, clear_globs=False)
if outcome:
    report(*outcome[0])
report("pass", "%d example(s)" % len(dt.examples))
`;

function limits(base: SandboxLimits, over?: Partial<SandboxLimits>): SandboxLimits {
  return { ...base, ...over };
}

function firstLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).find((l) => l) ?? '';
}

function died(r: SandboxResult): string {
  if (r.outcome === 'output_limit') return 'output over the cap';
  if (r.outcome === 'signaled') return `killed by ${r.signal}`;
  return `exit ${r.exitCode}: ${firstLine(r.stderr.split('\n').slice(-3).join('\n'))}`;
}

const isTimeout = (r: SandboxResult) => r.outcome === 'timeout' || (r.outcome === 'signaled' && r.signal === 'SIGXCPU');

/**
 * Runs a doctest (`docText`: the `>>>` line and what follows, with its docstring indentation) against
 * the Python `reference` source.
 */
export function executePython(reference: string, docText: string, lim?: ExecuteLimits): Promise<ExecutionResult<PythonExecution>> {
  return memoized(['python', reference, docText, lim ?? null], () => runPython(reference, docText, lim));
}

async function runPython(reference: string, docText: string, lim?: ExecuteLimits): Promise<ExecutionResult<PythonExecution>> {
  const dir = mkdtempSync(join(tmpdir(), 'plip-py-'));
  try {
    const files = [join(dir, 'reference.py'), join(dir, 'test.txt'), join(dir, 'runner.py')];
    writeFileSync(files[0]!, reference);
    writeFileSync(files[1]!, docText);
    writeFileSync(files[2]!, PY_RUNNER);
    shareWithSandbox(dir, files);
    const nonce = `@@plip-${randomBytes(12).toString('hex')}@@`;
    const r = await runSandboxed({
      argv: ['/usr/bin/python3', '-I', '-S', '-B', '/in/runner.py'],
      inputDir: dir,
      limits: limits(RUN_LIMITS, lim?.run),
      env: { PYTHONHASHSEED: '0' },
      stdin: nonce + '\n',
    });
    if (isTimeout(r)) return { executed: 'timeout', detail: r.outcome === 'timeout' ? 'wall-clock limit' : 'CPU limit' };
    const at = r.stdout.lastIndexOf(nonce);
    if (r.outcome !== 'exited' || at < 0) return { executed: 'error', detail: died(r) };
    const res = JSON.parse(r.stdout.slice(at + nonce.length).split('\n')[0]!) as { result: string; detail: string };
    if (res.result === 'reference_error') throw new Error(`the reference implementation does not run: ${res.detail}`);
    return { executed: res.result as PythonExecution, detail: res.detail };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Compiles `program` (a whole crate root with `#[test]` functions) with `rustc --test` and runs it. */
export function executeRust(program: string, lim?: ExecuteLimits): Promise<ExecutionResult<RustExecution>> {
  return memoized(['rust', program, lim ?? null], () => runRust(program, lim));
}

async function runRust(program: string, lim?: ExecuteLimits): Promise<ExecutionResult<RustExecution>> {
  const dir = mkdtempSync(join(tmpdir(), 'plip-rs-'));
  try {
    const src = join(dir, 'main.rs');
    writeFileSync(src, program);
    shareWithSandbox(dir, [src]);
    const c = await runSandboxed({
      argv: ['/usr/bin/rustc', '--test', '--edition', '2021', '-A', 'warnings', '-C', 'opt-level=0', '-C', 'debuginfo=0', '-o', '/work/test', '/work/main.rs'],
      writableDir: dir,
      limits: limits(COMPILE_LIMITS, lim?.compile),
    });
    if (isTimeout(c)) return { executed: 'timeout', detail: 'compile: wall-clock or CPU limit' };
    if (c.outcome !== 'exited' || c.exitCode !== 0) {
      const err = c.stderr.split('\n').find((l) => l.startsWith('error')) ?? died(c);
      return { executed: 'compile_error', detail: err };
    }
    const r = await runSandboxed({ argv: ['/in/test', '--test-threads=1'], inputDir: dir, limits: limits(RUN_LIMITS, lim?.run), env: { RUST_BACKTRACE: '0' } });
    if (isTimeout(r)) return { executed: 'timeout', detail: r.outcome === 'timeout' ? 'wall-clock limit' : 'CPU limit' };
    if (r.outcome === 'exited' && r.exitCode === 0 && /test result: ok\. [1-9]\d* passed/.test(r.stdout)) {
      return { executed: 'pass', detail: firstLine(r.stdout.split('\n').filter((l) => l.startsWith('test result')).join('\n')) };
    }
    const panic = (r.stdout + '\n' + r.stderr).split('\n').find((l) => l.includes('panicked at'));
    return { executed: 'fail', detail: panic ? panic.trim() : died(r) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
