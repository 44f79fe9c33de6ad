// Debian's Chromium for the browser tests, or a loud skip (a failure under CI) when it is missing;
// axe-core's accessibility check of a page.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';

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

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** One rule axe-core found broken on a page, and where. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

/** Runs axe-core on the page: its WCAG 2.1 A and AA and best-practice violations (`[]` when none). */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(options: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
}

/** A violation on one line, for an assertion's message. */
export function describeViolation(violation: AxeViolation): string {
  return `${violation.id} (${violation.impact ?? 'n/a'}) ${violation.help} at ${JSON.stringify(violation.nodes.map((n) => n.target))}`;
}

/** Asserts axe-core finds nothing on the page; `what` names the page and state in the failure. */
export async function assertAxeClean(page: Page, what: string): Promise<void> {
  assert.deepEqual((await axeViolations(page)).map(describeViolation), [], what);
}
