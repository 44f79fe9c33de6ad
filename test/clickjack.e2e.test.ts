// Written as the attacker: a hostile page on another loopback origin (127.0.0.1, the platform is on
// localhost) tries to make a signed-in fan approve a held spend or connect a site with a click or
// a key press that the fan meant for the hostile page. The lures are the ones issue 11 found or
// named: a double-click lure that navigates the top window (or opens a popup under the cursor) on
// the first mousedown, a rapid-click game, a keyboard lure (Tab, Enter, Space), and a transparent
// frame over a button. Each attack must leave nothing moved: the confirmation not approved, the
// fan's wallet and the creator's earnings as they were, the sign-in request not approved and the
// connection and its allowance unchanged. The honest fan, who waits to read the page, still approves.
// In real Chromium, on SQLite and PostgreSQL. Screenshots go to test-results/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Confirmation } from '@diamonds/protocol';
import {
  sendOk,
  DECISION_DELAY_MS,
  findConnection,
  createSession,
  createSignInRequest,
  getSignInRequest,
  pkceChallenge,
  findSite,
  createUser,
  findUser,
  DATABASE_KINDS,
  skipUnlessPostgres,
  TEST_PAGE_ORIGIN,
  TEST_SCRYPT_COST,
  startMoneyHarness,
  type MoneyHarness,
  type TestFan,
} from '@diamonds/server/testing';
import { axeViolations, chromiumMissing, describeViolation, launchChromium } from './browser.js';

const SCREENSHOTS = new URL('../test-results/', import.meta.url).pathname;

const VIEWPORT = { width: 1280, height: 800 };
/**
 * The consent screen is taller than 800 px: its Connect button is in view on a tall screen, or
 * in a popup the attacker sizes to fit (`window.open` takes a height).
 */
const TALL_VIEWPORT = { width: 1280, height: 1400 };

/** How the hostile page springs its trap. */
type LureMode = 'navigate-on-mousedown' | 'popup-on-mousedown' | 'navigate-on-enter' | 'transparent-frame';

/**
 * The hostile page: a "double-click to claim your prize" box (or "press Enter to play") placed
 * exactly where the platform's decisive button will be, which springs the trap on the first
 * mousedown (or keydown), so that the fan's next click or key lands on the platform's page.
 */
function lurePage(mode: LureMode, target: string, x: number, y: number): string {
  const box = `position:absolute;left:${x - 110}px;top:${y - 30}px;width:220px;height:60px;background:#fc0;font:20px sans-serif;display:flex;align-items:center;justify-content:center`;
  const trap = {
    'navigate-on-mousedown': `document.getElementById('lure').addEventListener('mousedown', () => { location.href = target; }, { once: true });`,
    'popup-on-mousedown': `document.getElementById('lure').addEventListener('mousedown', () => {
      window.open(target, 'prize', 'popup,left=0,top=0,width=${VIEWPORT.width},height=${VIEWPORT.height}');
    }, { once: true });`,
    'navigate-on-enter': `addEventListener('keydown', (event) => { if (event.key === 'Enter') location.href = target; }, { once: true });`,
    'transparent-frame': '',
  }[mode];
  const frame =
    mode === 'transparent-frame'
      ? `<iframe id="frame" title="prize" src="${target}" style="position:fixed;left:0;top:0;width:${VIEWPORT.width}px;height:${VIEWPORT.height}px;border:0;opacity:0.01;z-index:2"></iframe>`
      : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Claim your prize</title>
<style>body{margin:0}</style></head>
<body>
<div id="lure" style="${box}">${mode === 'navigate-on-enter' ? 'Press Enter to play' : 'Double-click to claim!'}</div>
${frame}
<script>
const target = ${JSON.stringify(target)};
${trap}
</script>
</body></html>`;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Tries of one lure before a test gives up on the machine delivering its click in time (see `landsInTime`). */
const LURE_TRIES = 3;

// Skipped only outside CI, loudly, when Debian's Chromium is not installed or (for the
// PostgreSQL run) PostgreSQL is unreachable; under CI=true either throws instead.
const noBrowser = chromiumMissing('the clickjacking tests');

for (const kind of DATABASE_KINDS) {
  // Skipped only outside CI when Chromium or PostgreSQL is missing (a loud warning; under CI=true a failure).
  const skip = noBrowser || (await skipUnlessPostgres(kind));
  // The lures act in the browser, the same whatever the database: every trial runs on SQLite,
  // and on PostgreSQL one of each kind (what the database adds is "nothing moved"), which keeps
  // the suite's time in check.
  const everyTrial = kind === 'sqlite';
  const some = <T>(trials: readonly T[], keep: (trial: T, index: number) => boolean): readonly T[] =>
    everyTrial ? trials : trials.filter(keep);
  // `skip` (above): only outside CI, loudly, when Chromium or PostgreSQL is missing; under CI=true that fails instead.
  describe(`a hostile page cannot click or type the fan's decisions, in Chromium, on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let browser: Browser;
    let attacker: Server;
    let attackerUrl: string;
    /** The next lure page the attacker's server answers. */
    let lure = '';
    const contexts: BrowserContext[] = [];

    before(async () => {
      browser = await launchChromium();
      // The platform on localhost, the attacker on 127.0.0.1: two sites, as in the wild (the
      // fan's SameSite=Lax cookie rides along on a top-level navigation from the attacker).
      h = await startMoneyHarness(kind, { host: 'localhost' });
      attacker = createServer((_request, response) => {
        response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        response.end(lure);
      });
      await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
      attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
      assert.notEqual(new URL(attackerUrl).hostname, new URL(h.server.url).hostname);
      mkdirSync(SCREENSHOTS, { recursive: true });
    });

    after(async () => {
      for (const context of contexts) await context.close().catch(() => {});
      await browser?.close();
      await new Promise((resolve) => (attacker ? attacker.close(resolve) : resolve(undefined)));
      await h?.verifyClean();
      await h?.close();
    });

    /** A browser where `userId` is signed in on the platform (the session cookie set, as sign-in would). */
    async function signedInContext(
      userId: string,
      options: { colorScheme?: 'light' | 'dark'; viewport?: typeof VIEWPORT; bypassCSP?: boolean } = {},
    ) {
      const user = await findUser(h.t.db, userId);
      assert.ok(user);
      const { token } = await createSession(h.t.db, user);
      // Trials run one after another: the last one's pages, left open, would only load the machine.
      for (const done of contexts.splice(0)) await done.close().catch(() => {});
      const context = await browser.newContext({
        viewport: options.viewport ?? VIEWPORT,
        colorScheme: options.colorScheme ?? 'light',
        bypassCSP: options.bypassCSP ?? false,
      });
      contexts.push(context);
      // When each press landed, in the page's own clock (ms after its navigation started): what
      // tells a lure that hit its moment from one a stalled machine delivered late.
      await context.addInitScript(() => {
        addEventListener('pointerdown', (event) => ((window as unknown as { lastPressAt: number }).lastPressAt = event.timeStamp), true);
      });
      await context.addCookies([{ name: 'diamonds_session', value: token, url: h.server.url, httpOnly: true, sameSite: 'Lax' }]);
      return context;
    }

    /** Where the button named `name` sits on the page at `url` (what the attacker measures first). */
    async function centreOf(context: BrowserContext, url: string, name: RegExp): Promise<{ x: number; y: number }> {
      const probe = await context.newPage();
      await probe.goto(url);
      const box = await probe.getByRole('button', { name }).boundingBox();
      const viewport = probe.viewportSize();
      await probe.close();
      assert.ok(box && viewport, `the page has a button ${name}`);
      assert.ok(box.y + box.height < viewport.height, `the button ${name} is in view without scrolling`);
      return { x: Math.round(box.x + box.width / 2), y: Math.round(box.y + box.height / 2) };
    }

    /** Opens the attacker's lure page in a new tab. */
    async function openLure(context: BrowserContext, mode: LureMode, target: string, at: { x: number; y: number }): Promise<Page> {
      lure = lurePage(mode, target, at.x, at.y);
      const page = await context.newPage();
      await page.goto(attackerUrl);
      return page;
    }

    /** A fan with no allowance and 100 Diamonds, their held gift of 15 (pending), and their browser. */
    async function heldGift(): Promise<{ fan: TestFan; id: string; url: string; context: BrowserContext }> {
      const fan = await h.fan({ allowance: 0, balance: 100 });
      const gift = await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'rose', quantity: 3 }, 202);
      const confirmation = gift.confirmation;
      assert.ok(confirmation);
      return { fan, id: confirmation.id, url: confirmation.url, context: await signedInContext(fan.id) };
    }

    async function confirmationStatus(fan: TestFan, id: string): Promise<string> {
      return Confirmation.parse(await (await h.call(`/confirmations/${id}`, { fan })).json()).status;
    }

    /**
     * After the lure: the fan, back in control, declines on whatever page is left; the decline is
     * the event that shows the platform moved on. Then nothing may have moved: the confirmation
     * declined (never approved), the 15 held Diamonds back in the wallet, the creator's earnings
     * as they were, and one new transfer only (the hold's void, without postings).
     */
    async function assertNothingMoved(
      what: string,
      page: Page,
      held: { fan: TestFan; id: string },
      before: { earnings: number; transfers: number },
    ): Promise<void> {
      await page.waitForLoadState('networkidle');
      const heading = (await page.locator('h1').first().textContent())?.trim() ?? '';
      if (heading.startsWith('Approve ')) {
        await page.getByRole('button', { name: 'Decline', exact: true }).click();
        await page.getByText('Declined: nothing was charged').waitFor();
      }
      assert.equal(await confirmationStatus(held.fan, held.id), 'declined', `${what}: the page shows "${heading}"`);
      assert.deepEqual(await h.balances(held.fan.id), { wallet: 100, held: 0, earnings: 0 }, what);
      assert.equal((await h.balances(h.creator.id)).earnings, before.earnings, `${what}: the creator was paid`);
      assert.equal(await h.transferCount(), before.transfers + 1, `${what}: only the void of the hold`);
    }

    /**
     * Whether the lure's last press reached the platform's page only after the guard's second
     * had passed (a stalled machine, not the lure's timing): then the try proves nothing, and
     * whatever it did is left to the ledger check at the end of the suite. `decided` says
     * whether the page's decision took effect (approved, connected).
     */
    async function landedTooLate(page: Page, decided: () => Promise<boolean>): Promise<boolean> {
      let pressAt: number;
      try {
        pressAt = await page.evaluate(() => (window as unknown as { lastPressAt?: number }).lastPressAt ?? 0);
      } catch (error) {
        if (!/Execution context was destroyed|navigat/i.test(String(error))) throw error;
        // The press submitted the form, so its page (and the time it kept) is gone. If the decision
        // took effect, the platform found the form posted a second after the page was shown (it
        // checks the page's signed stamp): the press came late. Otherwise the checks that follow judge.
        await page.waitForLoadState('load');
        if (!(await decided())) return false;
        console.warn('clickjack: a lure’s click landed after the guard’s second and decided (the machine stalled); trying again');
        return true;
      }
      if (pressAt < DECISION_DELAY_MS) return false;
      console.warn(`clickjack: a lure's click landed ${Math.round(pressAt)} ms into the page (the machine stalled); trying again`);
      return true;
    }

    /**
     * Runs a lure try until one lands its click within the guard's second, at most
     * {@link LURE_TRIES} times: whether one did (and was judged by `attempt`). A try a stalled
     * machine delivered late proves nothing (see `landedTooLate`), so a loaded machine gets
     * another try rather than a failure, and an idle one pays for one try only.
     */
    async function landsInTime(attempt: () => Promise<'landed' | 'late'>): Promise<boolean> {
      for (let tried = 0; tried < LURE_TRIES; tried++) if ((await attempt()) === 'landed') return true;
      return false;
    }

    /**
     * A held gift and the money before it, then the attacker's `mode` lure aimed at the gift's
     * Approve button (measured on its own copy of the page), the mouse already resting there.
     */
    async function lureAtApprove(mode: LureMode) {
      const held = await heldGift();
      const before = await moneyBefore();
      const approve = await centreOf(held.context, held.url, /^Approve /);
      const page = await openLure(held.context, mode, held.url, approve);
      await page.mouse.move(approve.x, approve.y);
      return { held, before, approve, page };
    }

    async function moneyBefore(): Promise<{ earnings: number; transfers: number }> {
      return { earnings: (await h.balances(h.creator.id)).earnings, transfers: await h.transferCount() };
    }

    it('double-click lure: the second click lands on the confirmation page and approves nothing', async () => {
      // The gaps the issue measured (165–294 ms), a slow double-click (900 ms, the slowest
      // Windows setting), and a burst of clicks (a "click as fast as you can" game).
      for (const trial of some(
        [
          { gapMs: 0, clicks: 1 },
          { gapMs: 165, clicks: 1 },
          { gapMs: 294, clicks: 1 },
          { gapMs: 600, clicks: 1 },
          { gapMs: 900, clicks: 1 },
          { gapMs: 150, clicks: 12 },
        ],
        (trial) => trial.gapMs === 294 || trial.clicks > 1,
      )) {
        const what = `second click ${trial.gapMs} ms after the first${trial.clicks > 1 ? `, then ${trial.clicks - 1} more every 150 ms` : ''}`;
        const { held, before, page } = await lureAtApprove('navigate-on-mousedown');
        const firstAt = Date.now();
        await page.mouse.down();
        await page.mouse.up();
        // The earliest moment the second click can land on the platform's page, then the fan's gap.
        await page.waitForURL(/\/confirm\/cnf_/, { waitUntil: 'domcontentloaded' });
        await pause(firstAt + trial.gapMs - Date.now());
        for (let i = 0; i < trial.clicks; i++) {
          if (i > 0) await pause(150);
          await page.mouse.down();
          await page.mouse.up();
        }
        await assertNothingMoved(what, page, held, before);
      }
    });

    it('popup under the cursor: the lure opens the confirmation in a popup where the second click lands', async () => {
      let landed = 0;
      for (const gapMs of some([165, 294], (gap) => gap === 294)) {
        const inTime = await landsInTime(async () => {
          const { held, before, approve, page } = await lureAtApprove('popup-on-mousedown');
          const firstAt = Date.now();
          const [popup] = await Promise.all([held.context.waitForEvent('page'), page.mouse.down()]);
          await page.mouse.up();
          await popup.waitForURL(/\/confirm\/cnf_/, { waitUntil: 'domcontentloaded' });
          await pause(firstAt + gapMs - Date.now());
          await popup.mouse.click(approve.x, approve.y);
          if (await landedTooLate(popup, async () => (await confirmationStatus(held.fan, held.id)) === 'approved')) return 'late';
          await assertNothingMoved(`popup, second click after ${gapMs} ms`, popup, held, before);
          return 'landed';
        });
        if (inTime) landed++;
      }
      assert.ok(
        landed > 0,
        `at least one popup lure landed its click within the guard’s second in ${LURE_TRIES} tries (the machine was too loaded for every try)`,
      );
    });

    it('keyboard lure: Tab, Enter and Space pressed right after the navigation approve nothing', async () => {
      const sequences: { keys: string[]; waitFirstMs?: number }[] = [
        { keys: ['Tab', 'Enter'] },
        { keys: ['Tab', 'Tab', 'Enter'] },
        { keys: ['Enter', 'Enter', 'Enter'] },
        { keys: ['Space'] },
        { keys: ['Tab', 'Space'] },
        { keys: ['Tab', 'Tab', 'Space'] },
        // A patient lure: wait until the page is ready, then Tab to Approve and press Enter at once.
        { keys: ['Tab', 'Tab', 'Enter'], waitFirstMs: 1500 },
        { keys: ['Shift+Tab', 'Enter'], waitFirstMs: 1500 },
      ];
      for (const { keys, waitFirstMs } of some(sequences, (_, index) => index === 0 || index === 6)) {
        const what = `${waitFirstMs ? `after ${waitFirstMs} ms, ` : ''}${keys.join(', ')}`;
        const held = await heldGift();
        const before = await moneyBefore();
        const page = await openLure(held.context, 'navigate-on-enter', held.url, { x: 300, y: 200 });
        await page.keyboard.down('Enter');
        await page.waitForURL(/\/confirm\/cnf_/, { waitUntil: 'domcontentloaded' });
        // The fan still holds Enter: the key repeats onto the new page.
        await page.keyboard.down('Enter');
        await page.keyboard.up('Enter');
        if (waitFirstMs) await pause(waitFirstMs);
        for (const key of keys) await page.keyboard.press(key, { delay: 30 });
        await assertNothingMoved(`keyboard: ${what}`, page, held, before);
      }
    });

    it('transparent frame: the confirmation page refuses to be framed, so the clicks go nowhere', async () => {
      const held = await heldGift();
      const before = await moneyBefore();
      const approve = await centreOf(held.context, held.url, /^Approve /);
      const page = await openLure(held.context, 'transparent-frame', held.url, approve);
      const frame = page.frames().find((f) => f !== page.mainFrame());
      assert.ok(frame, 'the attacker page has its frame');
      await page.waitForLoadState('load');
      assert.equal(await frame.locator('button').count(), 0, 'the confirmation page rendered inside a frame');
      for (let i = 0; i < 3; i++) {
        await page.mouse.click(approve.x, approve.y);
        await pause(300);
      }
      assert.equal(await confirmationStatus(held.fan, held.id), 'pending');
      // The fan then opens the confirmation on the platform and declines it.
      const own = await held.context.newPage();
      await own.goto(held.url);
      await assertNothingMoved('transparent frame', own, held, before);
    });

    /** A new fan signed in on the platform (not connected to the site, or connected with `allowance`), and a pending sign-in request. */
    async function consentTarget(allowance?: number): Promise<{ userId: string; requestId: string; url: string; context: BrowserContext }> {
      let userId: string;
      if (allowance === undefined) {
        const user = await createUser(
          h.t.db,
          {
            email: `lured-${randomBytes(6).toString('hex')}@example.com`,
            password: 'a long password',
            displayName: 'Lured',
            roles: ['fan'],
          },
          { cost: TEST_SCRYPT_COST },
        );
        userId = user.id;
      } else {
        userId = (await h.fan({ allowance })).id;
      }
      const site = await findSite(h.t.db, h.site.id);
      assert.ok(site);
      const verifier = randomBytes(32).toString('base64url');
      const request = await createSignInRequest(h.t.db, {
        site,
        origin: TEST_PAGE_ORIGIN,
        codeChallenge: pkceChallenge(verifier),
        codeChallengeMethod: 'S256',
      });
      const url = `${h.server.url}/signin/authorize?request=${request.id}`;
      return { userId, requestId: request.id, url, context: await signedInContext(userId, { viewport: TALL_VIEWPORT }) };
    }

    /** After a lure on the consent screen: the fan cancels; the request is denied and the connection as it was. */
    async function assertNotConnected(what: string, page: Page, target: { userId: string; requestId: string }, allowance?: number) {
      await page.waitForLoadState('networkidle');
      const heading = (await page.locator('h1').first().textContent())?.trim() ?? '';
      if (heading.startsWith('Connect ')) {
        await page.getByRole('button', { name: 'Cancel', exact: true }).click();
        await page.getByText('Cancelled.').first().waitFor();
      }
      assert.equal((await getSignInRequest(h.t.db, target.requestId)).status, 'denied', `${what}: the page shows "${heading}"`);
      assert.equal((await findConnection(h.t.db, target.userId, h.site.id))?.allowancePerDay, allowance, what);
    }

    it('consent screen: double-click, click-burst and keyboard lures neither connect the site nor raise the allowance', async () => {
      // Double-click on Connect, for a fan who never connected the site. As for the popup lure,
      // a click a stalled machine delivered after the guard's second says nothing about it.
      let landed = 0;
      for (const gapMs of some([0, 294, 900], (gap) => gap === 294)) {
        const inTime = await landsInTime(async () => {
          const target = await consentTarget();
          const connect = await centreOf(target.context, target.url, /^Connect$/);
          const page = await openLure(target.context, 'navigate-on-mousedown', target.url, connect);
          await page.mouse.move(connect.x, connect.y);
          const firstAt = Date.now();
          await page.mouse.down();
          await page.mouse.up();
          await page.waitForURL(/\/signin\/authorize/, { waitUntil: 'domcontentloaded' });
          await pause(firstAt + gapMs - Date.now());
          await page.mouse.click(connect.x, connect.y);
          const decided = async () => ['approved', 'consumed'].includes((await getSignInRequest(h.t.db, target.requestId)).status);
          if (await landedTooLate(page, decided)) return 'late';
          await assertNotConnected(`consent, double-click after ${gapMs} ms`, page, target);
          return 'landed';
        });
        if (inTime) landed++;
      }
      assert.ok(
        landed > 0,
        `at least one consent lure landed its click within the guard’s second in ${LURE_TRIES} tries (the machine was too loaded for every try)`,
      );

      // A three-click game for a fan connected with 0 a day: pick "1,000 a day", then Connect.
      {
        const target = await consentTarget(0);
        const probe = await target.context.newPage();
        await probe.goto(target.url);
        const radio = await probe.getByLabel('1,000 Diamonds a day').boundingBox();
        const button = await probe.getByRole('button', { name: 'Connect', exact: true }).boundingBox();
        await probe.close();
        assert.ok(radio && button);
        const first = { x: Math.round(radio.x + radio.width / 2), y: Math.round(radio.y + radio.height / 2) };
        const page = await openLure(target.context, 'navigate-on-mousedown', target.url, first);
        await page.mouse.move(first.x, first.y);
        await page.mouse.down();
        await page.mouse.up();
        await page.waitForURL(/\/signin\/authorize/, { waitUntil: 'domcontentloaded' });
        await pause(200);
        await page.mouse.click(first.x, first.y);
        await pause(200);
        await page.mouse.click(Math.round(button.x + button.width / 2), Math.round(button.y + button.height / 2));
        await assertNotConnected('consent, three-click game to 1,000 a day', page, target, 0);
      }

      // Keyboard: Tab as many times as it takes to reach Connect (the attacker counts them on its
      // own copy of the page), then Enter; and the same after picking 1,000 a day with the arrows.
      for (const raise of some([false, true], (raise) => raise)) {
        const target = await consentTarget(raise ? 0 : undefined);
        const probe = await target.context.newPage();
        await probe.goto(target.url);
        let tabs = 0;
        while (tabs < 12) {
          await probe.keyboard.press('Tab');
          tabs++;
          if (await probe.evaluate(() => document.activeElement?.textContent?.trim() === 'Connect')) break;
        }
        await probe.close();
        assert.ok(tabs < 12, 'Connect can be reached with Tab');
        const page = await openLure(target.context, 'navigate-on-enter', target.url, { x: 300, y: 200 });
        await page.keyboard.down('Enter');
        await page.waitForURL(/\/signin\/authorize/, { waitUntil: 'domcontentloaded' });
        await page.keyboard.up('Enter');
        const keys = raise
          ? ['Tab', 'Tab', 'ArrowDown', 'ArrowDown', 'ArrowDown', ...Array(tabs - 2).fill('Tab'), 'Enter']
          : [...Array(tabs).fill('Tab'), 'Enter'];
        for (const key of keys) await page.keyboard.press(key, { delay: 20 });
        await assertNotConnected(`consent, keyboard ${raise ? 'raise to 1,000' : 'connect'}`, page, target, raise ? 0 : undefined);
      }
    });

    it('the honest fan: reads the page, then approves with a click; how long until Approve turns on', async () => {
      const held = await heldGift();
      const before = await moneyBefore();
      const page = await held.context.newPage();
      await page.goto(held.url);
      const approve = page.getByRole('button', { name: 'Approve 15 Diamonds', exact: true });
      // From the navigation's start to Approve turning on, as the page measures it.
      await page.waitForFunction(() => {
        const button = [...document.querySelectorAll('button')].find((b) => b.textContent?.trim() === 'Approve 15 Diamonds');
        return button !== undefined && !button.disabled && button.getAttribute('aria-disabled') !== 'true';
      });
      const timing = await page.evaluate(() => {
        const navigation = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
        return {
          enabledMs: Math.round(performance.now()),
          responseEndMs: Math.round(navigation.responseEnd),
          readyMs: Math.round(navigation.domContentLoadedEventStart),
        };
      });
      console.log(
        `[clickjack ${kind}] Approve turned on ${timing.enabledMs} ms after the navigation started: ` +
          `${timing.enabledMs - timing.responseEndMs} ms after the page arrived, ${timing.enabledMs - timing.readyMs} ms after it was parsed`,
      );
      await approve.click();
      await page.getByText('Approved: 15 Diamonds went to Ada').waitFor();
      assert.equal(await confirmationStatus(held.fan, held.id), 'approved');
      assert.deepEqual(await h.balances(held.fan.id), { wallet: 85, held: 0, earnings: 0 });
      assert.equal((await h.balances(h.creator.id)).earnings, before.earnings + 12);
    });

    it('the confirmation page while Approve waits and once it is on: screenshots (1280 px and 390×844, light and dark) and axe', async () => {
      const found: string[] = [];
      for (const viewport of some([VIEWPORT, { width: 390, height: 844 }], (size) => size.width === 390)) {
        for (const colorScheme of some(['light', 'dark'] as const, (scheme) => scheme === 'dark')) {
          const fan = await h.fan({ allowance: 0, balance: 100 });
          const gift = await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'rose', quantity: 3 }, 202);
          // axe is injected as a script, which the page's CSP would rightly refuse.
          const context = await signedInContext(fan.id, { viewport, colorScheme, bypassCSP: true });
          const page = await context.newPage();
          await page.goto(gift.confirmation!.url);
          const name = `${viewport.width}-${colorScheme}`;
          await page.screenshot({ path: `${SCREENSHOTS}clickjack-confirm-${name}-${kind}.png`, fullPage: true });
          found.push(...(await axeViolations(page)).map((v) => `waiting, ${name}: ${describeViolation(v)}`));
          await page.getByText('Approve is ready.').waitFor();
          found.push(...(await axeViolations(page)).map((v) => `on, ${name}: ${describeViolation(v)}`));
          await page.getByRole('button', { name: 'Decline', exact: true }).click();
          await page.getByText('Declined: nothing was charged').waitFor();
        }
      }
      assert.deepEqual(found, []);
    });
  });
}
