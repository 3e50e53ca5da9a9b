/**
 * Download progress on stderr (cli-progress multi-bar: one bar per file plus a total), shown only
 * when asked for and stderr is a TTY; otherwise every call is a no-op.
 */
import cliProgress from 'cli-progress';

/** Byte counters for one file being downloaded. */
export interface FileProgress {
  /** Adds transferred bytes (negative when a restart discards a partial file). */
  add(bytes: number): void;
  done(): void;
}

/** Progress sink for a whole snapshot download. */
export interface DownloadProgress {
  /** Adds to the expected total (files are discovered in stages, e.g. shards after the index). */
  addTotal(bytes: number): void;
  /** Starts a per-file bar; `already` counts bytes present from an earlier, interrupted run. */
  file(name: string, size: number, already: number): FileProgress;
  stop(): void;
}

const NOOP_FILE: FileProgress = { add() {}, done() {} };
const NOOP: DownloadProgress = { addTotal() {}, file: () => NOOP_FILE, stop() {} };

/** Human-readable byte count (1.5 MB, 3.2 GB). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/**
 * A progress sink: cli-progress bars on `stream` when `enabled` and the stream is a TTY; when enabled
 * and not a TTY (nohup, `| tee`, CI, Slurm), plain lines `download: 1.2 GB / 3.4 GB (35.3%) 12.0 MB/s eta 3m05s`
 * at most every `intervalS` seconds (default $PLIP_PROGRESS_INTERVAL or 30) and a final line; otherwise silent.
 */
export function createProgress(
  enabled: boolean,
  stream: Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean } = process.stderr,
  opts: { intervalS?: number; now?: () => number } = {},
): DownloadProgress {
  if (!enabled || process.env.PLIP_NO_PROGRESS) return NOOP;
  if (!stream.isTTY) return lineProgress(stream, opts.intervalS ?? defaultInterval(), opts.now ?? Date.now);
  const multi = new cliProgress.MultiBar(
    {
      stream: stream as NodeJS.WriteStream,
      hideCursor: true,
      clearOnComplete: false,
      format: ' {bar} {percentage}% | {value}/{total} | {name}',
      formatValue: (v, options, type) =>
        type === 'value' || type === 'total' ? formatBytes(Number(v)) : cliProgress.Format.ValueFormat(v, options, type),
    },
    cliProgress.Presets.shades_classic,
  );
  return multiBar(multi);
}

function multiBar(multi: cliProgress.MultiBar): DownloadProgress {
  let total = 0;
  let totalDone = 0;
  const totalBar = multi.create(1, 0, { name: 'total' });
  return {
    addTotal(bytes) {
      total += bytes;
      totalBar.setTotal(Math.max(1, total));
    },
    file(name, size, already) {
      const bar = multi.create(Math.max(1, size), already, { name });
      let value = already;
      totalDone += already;
      totalBar.update(totalDone);
      return {
        add(bytes) {
          value += bytes;
          totalDone += bytes;
          bar.update(value);
          totalBar.update(totalDone);
        },
        done() {
          bar.update(Math.max(1, size));
          bar.stop();
        },
      };
    },
    stop() {
      multi.stop();
    },
  };
}

function defaultInterval(): number {
  const v = Number(process.env.PLIP_PROGRESS_INTERVAL);
  return Number.isFinite(v) && v > 0 ? v : 30;
}

function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const r = Math.round(s);
  return r < 60 ? `${r}s` : r < 3600 ? `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s` : `${Math.floor(r / 3600)}h${String(Math.floor(r / 60) % 60).padStart(2, '0')}m`;
}

/** Plain periodic lines for a stream that is not a terminal. */
function lineProgress(stream: Pick<NodeJS.WriteStream, 'write'>, intervalS: number, now: () => number): DownloadProgress {
  const t0 = now();
  let total = 0;
  let done = 0;
  let fresh = 0; // bytes transferred by this run (excludes resumed parts), for the rate
  let printedAt = t0;
  let printedDone = -1;
  let current = '';
  const line = (t: number): void => {
    const el = (t - t0) / 1000;
    const rate = el > 0 ? fresh / el : 0;
    const pct = total > 0 ? ((100 * done) / total).toFixed(1) : '?';
    const eta = rate > 0 ? duration((total - done) / rate) : '?';
    stream.write(`download: ${formatBytes(done)} / ${formatBytes(total)} (${pct}%) ${formatBytes(Math.round(rate))}/s eta ${eta}${current ? ' ' + current : ''}\n`);
    printedAt = t;
    printedDone = done;
  };
  const maybe = (): void => {
    const t = now();
    if (t - printedAt >= intervalS * 1000) line(t);
  };
  return {
    addTotal(bytes) {
      total += bytes;
    },
    file(name, _size, already) {
      current = name;
      done += already;
      return {
        add(bytes) {
          done += bytes;
          fresh += bytes;
          maybe();
        },
        done() {
          maybe();
        },
      };
    },
    stop() {
      if (done !== printedDone && total > 0) line(now());
    },
  };
}
