/**
 * PNG export of report figures through headless Chromium (playwright-core, the system browser; no
 * download). Optional: without a browser the caller writes SVG only and says so.
 *
 * @module
 */
import { existsSync } from 'node:fs';

/** The Chromium used by `plip report --figures` and the browser tests: $PLIP_CHROMIUM or Debian's /usr/bin/chromium. */
export function chromiumPath(): string | null {
  const p = process.env.PLIP_CHROMIUM ?? '/usr/bin/chromium';
  return existsSync(p) ? p : null;
}

export interface Rasteriser {
  /** PNG bytes of a standalone SVG at `scale` device pixels per CSS pixel. */
  png(svg: string): Promise<Buffer>;
  close(): Promise<void>;
}

/** Starts headless Chromium, or returns the reason it cannot. */
export async function openRasteriser(scale = 2): Promise<Rasteriser | { error: string }> {
  const exe = chromiumPath();
  if (!exe) return { error: 'no Chromium at $PLIP_CHROMIUM or /usr/bin/chromium (apt-get install chromium)' };
  const { chromium } = await import('playwright-core');
  let browser: import('playwright-core').Browser;
  try {
    browser = await chromium.launch({ executablePath: exe });
  } catch (e) {
    return { error: `Chromium at ${exe} did not start (${(e as Error).message.split('\n')[0]})` };
  }
  const page = await browser.newPage({ deviceScaleFactor: scale });
  return {
    async png(svg: string) {
      await page.setContent(`<!DOCTYPE html><html><body style="margin:0;background:#fff">${svg}</body></html>`);
      return page.locator('svg').first().screenshot({ type: 'png' });
    },
    close: () => browser.close(),
  };
}
