/**
 * Progress bar for long experiments (cli-progress on stderr; silent when stderr is not a TTY,
 * or when PLIP_NO_PROGRESS is set), so machine-readable stdout stays clean.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  tick(n?: number, label?: string): void;
  stop(): void;
}

export function progressBar(total: number, label: string): Progress {
  if (!process.stderr.isTTY || process.env.PLIP_NO_PROGRESS || total <= 0) return { tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} {item} eta {eta_formatted}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { item: '' });
  return {
    tick: (n = 1, item = '') => bar.increment(n, { item }),
    stop: () => bar.stop(),
  };
}
