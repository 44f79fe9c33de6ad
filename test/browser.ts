// Debian's Chromium for the browser tests, or a loud skip (a failure under CI) when it is missing.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Why the browser tests cannot run here, or `false` when they can: Chromium is missing. Says so
 * loudly; under `CI=true` throws instead, so a missing browser fails the run rather than hiding.
 * Call it at the top of a test file and pass the result as the suite's `skip`.
 */
export function chromiumMissing(what = 'the browser test'): string | false {
  if (existsSync(CHROMIUM)) return false;
  const message = `Chromium is missing at ${CHROMIUM}: ${what} cannot run (apt-get install chromium).`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`\n*** SKIPPING: ${message} ***\n`);
  return message;
}

/** Launches Debian's Chromium, headless, with the flags this machine needs (no network). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
