import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { startServer, type RunningServer } from '@diamonds/server';
import { seedDemo, type DemoData } from '../packages/server/src/identity/demo.js';
import { createSignInRequest, pkceChallenge } from '../packages/server/src/identity/signin.js';
import { findSite } from '../packages/server/src/identity/sites.js';
import { createTestDatabase, type TestDatabase } from '../packages/server/src/testing/databases.js';
import { chromiumMissing, launchChromium } from './browser.js';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

/** Runs axe-core on the page and returns its violations (WCAG 2.1 A and AA rules). */
async function violations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(options: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
}

// Skipped only outside CI when Debian's Chromium is not installed (chromiumMissing warns
// loudly; under CI=true it throws, and .ci/run installs the browser).
const skip = chromiumMissing('the accessibility check');

describe('hosted pages pass an accessibility check (axe-core) in light and dark', { skip }, () => {
  let t: TestDatabase;
  let platform: RunningServer;
  let browser: Browser;
  let demo: DemoData;

  before(async () => {
    browser = await launchChromium();
    t = await createTestDatabase('sqlite');
    platform = await startServer({ port: 0, db: t.db });
    const seeded = await seedDemo(t.db, t.settings.dataDir);
    assert.ok(seeded.demo);
    demo = seeded.demo;
  });
  after(async () => {
    await browser?.close();
    await platform?.close();
    if (t) await t.drop();
  });

  for (const colorScheme of ['light', 'dark'] as const) {
    it(`sign-up, sign-in, account and consent in ${colorScheme}`, async () => {
      // axe is injected as a script, which the pages' strict CSP would rightly refuse.
      const context = await browser.newContext({ colorScheme, bypassCSP: true });
      try {
        const page = await context.newPage();
        const found: Record<string, AxeViolation[]> = {};
        for (const path of ['/signup', '/signin']) {
          await page.goto(`${platform.url}${path}`);
          found[path] = await violations(page);
        }
        // An error state: a wrong password, announced.
        await page.getByLabel('Email').fill(demo.creator.email);
        await page.getByLabel('Password').fill('wrong password!');
        await page.getByRole('button', { name: /sign in/i }).click();
        await page.getByRole('alert').waitFor();
        found['/signin (error)'] = await violations(page);

        await page.getByLabel('Password').fill(demo.creator.password);
        await page.getByRole('button', { name: /sign in/i }).click();
        await page.waitForURL(/\/account/);
        found['/account'] = await violations(page);

        const site = await findSite(t.db, demo.site.id);
        assert.ok(site);
        const request = await createSignInRequest(t.db, {
          site,
          origin: 'http://127.0.0.1:5173',
          codeChallenge: pkceChallenge('v'.repeat(43)),
          codeChallengeMethod: 'S256',
        });
        await page.goto(`${platform.url}/signin/authorize?request=${request.id}`);
        found['/signin/authorize'] = await violations(page);

        const report = Object.entries(found).flatMap(([path, list]) =>
          list.map((v) => `${path}: ${v.id} (${v.impact ?? 'n/a'}) ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`),
        );
        assert.deepEqual(report, []);
      } finally {
        await context.close();
      }
    });
  }
});
