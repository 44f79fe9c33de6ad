// A fan who forgot their password, in real Chromium against a real platform: "Forgot password?"
// on the sign-in page, the address, the link from the email (read from the development mailer's
// folder, as from an inbox), a new password; the session they had in another browser ends, the
// link does not work twice, and they sign in with the new password. Then a creator whose address
// is not verified verifies it from the account page. axe-core checks each new page, light and
// dark. On SQLite only: the pages' suite runs the same flows on both engines.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { startServer, type RunningServer } from '@diamonds/server';
import { createSession, createTestDatabase, createUser, SESSION_COOKIE, type TestDatabase } from '@diamonds/server/testing';
import { assertAxeClean, chromiumMissing, launchChromium } from './browser.js';

const PASSWORD = 'my old password';
const NEW_PASSWORD = 'my shiny new password';

// Skipped only outside CI when Debian's Chromium is missing (a loud warning; under CI=true a failure).
const noBrowser = chromiumMissing('the password reset end-to-end test');

// noBrowser (above): skipped only outside CI, loudly, when Chromium is missing.
describe('a password reset by the emailed link, and an address verified, in Chromium', { skip: noBrowser }, () => {
  let t: TestDatabase;
  let platform: RunningServer;
  let browser: Browser;
  const mailDir = mkdtempSync(join(tmpdir(), 'diamonds-reset-e2e-mail-'));

  /** The newest link to `path` mailed to `to`, once the email is there. */
  async function linkMailedTo(to: string, path: string): Promise<string> {
    for (let tries = 0; tries < 100; tries++) {
      const mail = readdirSync(mailDir)
        .sort()
        .map((name) => readFileSync(join(mailDir, name), 'utf8'))
        .filter((eml) => eml.includes(`\r\nTo: ${to}\r\n`))
        .at(-1);
      const link = mail && new RegExp(`https?://\\S+${path}\\?token=[\\w-]+`).exec(mail)?.[0];
      if (link) return link;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no ${path} link mailed to ${to}`);
  }

  before(async () => {
    browser = await launchChromium();
    t = await createTestDatabase('sqlite');
    platform = await startServer({ port: 0, db: t.db, mailDir, webhookDelivery: 'off' });
  });
  after(async () => {
    await browser?.close();
    await platform?.close();
    if (t) await t.drop();
    rmSync(mailDir, { recursive: true, force: true });
  });

  for (const colorScheme of ['light', 'dark'] as const) {
    it(`resets the password by the emailed link and signs in with the new one (${colorScheme})`, async () => {
      const email = `forgetful-${colorScheme}@example.com`;
      const user = await createUser(t.db, { email, password: PASSWORD, displayName: 'Forgetful', roles: ['fan'] });
      // A session elsewhere (a laptop left signed in): the reset must end it.
      const { token: oldSession } = await createSession(t.db, user);
      const laptop = await browser.newContext();
      await laptop.addCookies([{ name: SESSION_COOKIE, value: oldSession, url: platform.url }]);

      // axe is injected as a script, which the pages' strict CSP would rightly refuse.
      const context = await browser.newContext({ colorScheme, bypassCSP: true });
      try {
        const page = await context.newPage();
        await page.goto(`${platform.url}/signin`);
        await page.getByRole('link', { name: 'Forgot password?' }).click();
        await page.getByRole('heading', { name: 'Forgot your password?' }).waitFor();
        await assertAxeClean(page, 'the forgot-password page');
        await page.getByLabel('Email').fill(email);
        await page.getByRole('button', { name: 'Email me a link' }).click();
        await page.getByRole('heading', { name: 'Check your email' }).waitFor();
        await assertAxeClean(page, 'the check-your-email page');

        const link = await linkMailedTo(email, '/signin/reset');
        await page.goto(link);
        await page.getByRole('heading', { name: 'Set a new password' }).waitFor();
        await assertAxeClean(page, 'the new-password page');
        await page.getByLabel('New password').fill('too short');
        await page.getByRole('button', { name: 'Set new password' }).click();
        await page.getByRole('alert').waitFor();
        await assertAxeClean(page, 'the new-password page with its error');
        assert.equal(await page.getByLabel('New password').getAttribute('aria-invalid'), 'true');

        await page.getByLabel('New password').fill(NEW_PASSWORD);
        await page.getByRole('button', { name: 'Set new password' }).click();
        await page.getByRole('heading', { name: 'Your password is changed' }).waitFor();
        await assertAxeClean(page, 'the password-changed page');

        const laptopPage = await laptop.newPage();
        await laptopPage.goto(`${platform.url}/account`);
        await laptopPage.waitForURL(/\/signin\?next=/);

        // The same link again: a clear page and a way to ask again.
        const again = await page.goto(link);
        assert.equal(again?.status(), 410);
        await page.getByRole('heading', { name: 'This link was already used' }).waitFor();
        await assertAxeClean(page, 'the used-link page');
        assert.equal(await page.getByRole('link', { name: 'Ask for a new link' }).getAttribute('href'), '/signin/forgot');

        await page.goto(`${platform.url}/signin`);
        await page.getByLabel('Email').fill(email);
        await page.getByLabel('Password').fill(NEW_PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForURL(/\/account$/);
        await page.getByRole('heading', { name: 'Your account' }).waitFor();
        assert.equal(await page.getByText('is not verified yet').count(), 0, 'the emailed link proved the address');
      } finally {
        await context.close();
        await laptop.close();
      }
    });
  }

  it('verifies a creator’s address from the account page’s notice and the emailed link', async () => {
    const email = 'unverified-creator@example.com';
    const user = await createUser(t.db, { email, password: PASSWORD, displayName: 'Maker', roles: ['creator'] });
    const { token } = await createSession(t.db, user);
    const context = await browser.newContext({ bypassCSP: true });
    try {
      await context.addCookies([{ name: SESSION_COOKIE, value: token, url: platform.url }]);
      const page = await context.newPage();
      await page.goto(`${platform.url}/account`);
      await page.getByText('is not verified yet').waitFor();
      await assertAxeClean(page, 'the account page with its verification notice');
      await page.getByRole('button', { name: 'Email me a verification link' }).click();
      await page.getByRole('heading', { name: 'Check your email' }).waitFor();
      await assertAxeClean(page, 'the verification-sent page');
      await page.goto(await linkMailedTo(email, '/verify-email'));
      await page.getByRole('heading', { name: 'Your email is verified' }).waitFor();
      await assertAxeClean(page, 'the verified page');
      await page.getByRole('link', { name: 'Go to your account' }).click();
      await page.getByRole('heading', { name: 'Your account' }).waitFor();
      assert.equal(await page.getByText('is not verified yet').count(), 0);
    } finally {
      await context.close();
    }
  });
});
