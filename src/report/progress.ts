/**
 * Progress of long experiments, on stderr so machine-readable stdout stays clean:
 *
 * - stderr is a TTY: a cli-progress bar (count, current item, ETA);
 * - otherwise (nohup, `| tee`, CI logs, Slurm): plain lines `label: 12/80 (15.0%) 0.80/s eta 1m25s item`,
 *   at most one every `intervalS` seconds (default 30, `PLIP_PROGRESS_INTERVAL`), plus a final line;
 * - `PLIP_NO_PROGRESS` set: nothing.
 *
 * @module
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Counts `n` finished steps (default 1); `label` names the current item. */
  tick(n?: number, label?: string): void;
  /** Ends the display (the line mode prints a final line when steps were counted since the last one). */
  stop(): void;
}

/** Options of {@link progressBar}; the defaults are the real stderr and clock. */
export interface ProgressOptions {
  /** Where to write (default process.stderr). */
  stream?: { write(s: string): unknown; isTTY?: boolean };
  /** Force the mode instead of asking `stream.isTTY`. */
  mode?: 'bar' | 'lines' | 'off';
  /** Seconds between two plain lines (default $PLIP_PROGRESS_INTERVAL or 30). */
  intervalS?: number;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

const NOOP: Progress = { tick() {}, stop() {} };

/** `1h02m`, `3m05s`, `42s` (a duration in seconds, for ETAs). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function defaultInterval(): number {
  const v = Number(process.env.PLIP_PROGRESS_INTERVAL);
  return Number.isFinite(v) && v > 0 ? v : 30;
}

/**
 * A progress display of `total` steps (see the module doc for the modes).
 * @param total - number of steps; ≤ 0 shows nothing
 * @param label - what is running, e.g. `knockout`
 */
export function progressBar(total: number, label: string, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const mode = opts.mode ?? (process.env.PLIP_NO_PROGRESS ? 'off' : stream.isTTY ? 'bar' : 'lines');
  if (mode === 'off' || total <= 0) return NOOP;
  if (mode === 'lines') return lineProgress(total, label, stream, opts.intervalS ?? defaultInterval(), opts.now ?? Date.now);
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} {item} eta {eta_formatted}`, stream: stream as NodeJS.WritableStream, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { item: '' });
  return {
    tick: (n = 1, item = '') => bar.increment(n, { item }),
    stop: () => bar.stop(),
  };
}

function lineProgress(total: number, label: string, stream: { write(s: string): unknown }, intervalS: number, now: () => number): Progress {
  const t0 = now();
  let done = 0;
  let printedAt = t0;
  let printedDone = 0;
  let item = '';
  let stopped = false;
  const line = (t: number) => {
    const el = (t - t0) / 1000;
    const rate = el > 0 ? done / el : 0;
    const eta = rate > 0 ? formatDuration((total - done) / rate) : '?';
    const pct = ((100 * done) / total).toFixed(1);
    stream.write(`${label}: ${done}/${total} (${pct}%) ${rate.toFixed(rate >= 10 ? 1 : 2)}/s elapsed ${formatDuration(el)} eta ${eta}${item ? ' ' + item : ''}\n`);
    printedAt = t;
    printedDone = done;
  };
  stream.write(`${label}: 0/${total} started (progress every ${intervalS}s)\n`);
  return {
    tick(n = 1, it = '') {
      done += n;
      item = it;
      const t = now();
      if (t - printedAt >= intervalS * 1000) line(t);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (done !== printedDone) line(now());
    },
  };
}
