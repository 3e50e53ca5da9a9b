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
 * A progress sink: cli-progress bars on `stream` when `enabled` and the stream is a TTY, otherwise
 * silent.
 */
export function createProgress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): DownloadProgress {
  if (!enabled || !stream.isTTY) return NOOP;
  const multi = new cliProgress.MultiBar(
    {
      stream,
      hideCursor: true,
      clearOnComplete: false,
      format: ' {bar} {percentage}% | {value}/{total} | {name}',
      formatValue: (v, options, type) =>
        type === 'value' || type === 'total' ? formatBytes(Number(v)) : cliProgress.Format.ValueFormat(v, options, type),
    },
    cliProgress.Presets.shades_classic,
  );
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
