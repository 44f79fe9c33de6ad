// Debian's Chromium for the browser tests, or a loud skip (a failure under CI) when it is missing.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Launches Debian's Chromium, headless. When it is not installed, throws under `CI=true`, and
 * otherwise warns loudly and returns `undefined`, so that the caller skips; `what` names the
 * test that cannot run, for the message.
 */
export async function launchChromium(what = 'the browser test'): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    const message = `Chromium is missing at ${CHROMIUM}: ${what} cannot run (apt-get install chromium).`;
    if (process.env.CI === 'true') throw new Error(message);
    console.warn(`\n*** SKIPPING: ${message} ***\n`);
    return undefined;
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
