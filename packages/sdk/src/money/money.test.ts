// The SDK's money calls against the real platform on each database. Only the browser is faked:
// `window.open` returns a stand-in popup, and what the fan does in it (approve, decline, pay with
// a test card) is done server-side, as the hosted pages would.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { CheckoutOrder, Content } from '@diamonds/protocol';
import {
  decideSignInRequest,
  CONFIRMATION_TTL_MS,
  decideConfirmationOperation,
  expireConfirmations,
  seedRates,
  payWithTestCardOperation,
  DATABASE_KINDS,
  skipUnlessPostgres,
  startMoneyHarness,
  TEST_PAGE_ORIGIN,
  type MoneyHarness,
} from '@diamonds/server/testing';
import {
  ConfirmationDeclinedError,
  ConfirmationExpiredError,
  createDiamonds,
  InsufficientFundsError,
  isPopupBlockedError,
  isTopUpFailedError,
  PopupClosedError,
  SignInRequiredError,
  type DiamondsClient,
  type PendingConfirmation,
  type WalletState,
} from '../index.js';

/** A popup window as `window.open` returns it, minus everything the SDK does not touch. */
class FakePopup {
  closed = false;
  readonly location = { href: 'about:blank' };
  close(): void {
    this.closed = true;
  }
}

const globals = globalThis as { open?: unknown; addEventListener?: unknown; removeEventListener?: unknown };

/** The page's window, where the SDK hears the sign-in code the consent popup posts. */
const pageWindow = new EventTarget();

/**
 * The fan connects in `popup`, and the hosted "done" page posts the one-time code to its opener
 * (a `message` event from the popup, from the platform's origin).
 */
async function approveSignIn(h: MoneyHarness, popup: FakePopup, userId: string, allowancePerDay: number): Promise<void> {
  await until(() => popup.location.href.includes('request='), 'the consent page');
  const requestId = new URL(popup.location.href).searchParams.get('request')!;
  const { code } = await decideSignInRequest(h.t.db, { requestId, userId, approve: true, allowancePerDay });
  const data = { type: 'diamonds:signin', request: requestId, code };
  pageWindow.dispatchEvent(Object.assign(new Event('message'), { source: popup, origin: new URL(h.server.url).origin, data }));
}

/** What happened, in order: `open` for window.open, `METHOD /path` for each request sent. */
let events: string[] = [];

/** Installs a fake `window.open` (recording each call in `events`); returns the popups it opened. */
function fakeWindowOpen(result: 'popup' | 'blocked' = 'popup'): FakePopup[] {
  const popups: FakePopup[] = [];
  globals.addEventListener = pageWindow.addEventListener.bind(pageWindow);
  globals.removeEventListener = pageWindow.removeEventListener.bind(pageWindow);
  globals.open = () => {
    events.push('open');
    if (result === 'blocked') return null;
    const popup = new FakePopup();
    popups.push(popup);
    return popup;
  };
  return popups;
}

/** Waits until `condition` holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** The confirmation id the popup was sent to (`/confirm/cnf_…`). */
async function confirmationOf(popup: FakePopup): Promise<string> {
  await until(() => popup.location.href.includes('/confirm/'), 'the popup to reach the confirmation page');
  const id = popup.location.href.split('/confirm/')[1]!;
  assert.match(id, /^cnf_/);
  return id;
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`money calls on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    /** Drops the answer of the next POST matching this path, after the server handled it. */
    let dropNextAnswerTo: string | undefined;

    /** The page's fetch: adds the Origin a browser would, records the request, and can drop an answer. */
    const pageFetch: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      const line = `${request.method} ${new URL(request.url).pathname}`;
      events.push(line);
      const headers = new Headers(request.headers);
      headers.set('Origin', TEST_PAGE_ORIGIN);
      const response = await fetch(new Request(request, { headers }));
      if (line === dropNextAnswerTo) {
        dropNextAnswerTo = undefined;
        await response.arrayBuffer();
        throw new TypeError('fetch failed'); // the connection dropped after the server committed
      }
      return response;
    };

    /** A client with a fan signed in through the (fake) popup, with this allowance and balance. */
    async function signedIn(options: { allowance?: number; balance?: number } = {}): Promise<{ diamonds: DiamondsClient; fanId: string }> {
      const fan = await h.fan({ balance: options.balance ?? 0 });
      const diamonds = createDiamonds({ publishableKey: h.site.publishableKey, apiBase: h.server.url, fetch: pageFetch, pollWaitMs: 100 });
      const popups = fakeWindowOpen();
      const pending = diamonds.signIn();
      await approveSignIn(h, popups[0]!, fan.id, options.allowance ?? 0);
      await pending;
      await diamonds.gifts.catalog();
      await diamonds.wallet.refresh();
      events = [];
      return { diamonds, fanId: fan.id };
    }

    const decide = (id: string, userId: string, approve: boolean) =>
      h.server.writer.run(decideConfirmationOperation, { id, userId, approve });

    before(async () => {
      h = await startMoneyHarness(kind);
      await seedRates(h);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });
    afterEach(() => {
      delete globals.open;
      delete globals.addEventListener;
      delete globals.removeEventListener;
      events = [];
    });

    it('lists the shop’s products with the publishable key alone', async () => {
      const created = await h.call('/products', { key: 'secret', body: { name: 'Mug', priceDiamonds: 120, stock: 3 } });
      assert.equal(created.status, 201);
      const diamonds = createDiamonds({ publishableKey: h.site.publishableKey, apiBase: h.server.url, fetch: pageFetch });
      const page = await diamonds.orders.products({ limit: 10 });
      const mug = page.data.find((product) => product.name === 'Mug');
      assert.equal(mug?.priceDiamonds, 120);
      assert.equal(mug?.stock, 3);
    });

    it('refreshes the wallet in the site’s other tabs after a spend', async () => {
      const { diamonds: tab, fanId } = await signedIn({ allowance: 100, balance: 100 });
      // Another tab of the same site, signed in as the same fan.
      const other = createDiamonds({ publishableKey: h.site.publishableKey, apiBase: h.server.url, fetch: pageFetch, pollWaitMs: 100 });
      const popups = fakeWindowOpen();
      const pending = other.signIn();
      await approveSignIn(h, popups[0]!, fanId, 100);
      await pending;
      const stop = other.wallet.listen(() => undefined);
      await other.wallet.refresh();
      assert.equal((other.wallet.get() as { balanceDiamonds?: number }).balanceDiamonds, 100);
      await tab.gifts.send({ creatorId: h.creator.id, giftId: 'rose' });
      await until(() => (other.wallet.get() as { balanceDiamonds?: number }).balanceDiamonds === 95, 'the other tab to follow');
      stop();
    });

    it('reads the catalog, rates, packs and a quote with the publishable key alone', async () => {
      const sent: Request[] = [];
      const recording: typeof fetch = (input, init) => (sent.push(new Request(input, init)), pageFetch(input, init));
      const diamonds = createDiamonds({ publishableKey: h.site.publishableKey, apiBase: h.server.url, locale: 'de-DE', fetch: recording });
      const catalog = await diamonds.gifts.catalog();
      assert.ok(catalog.length >= 8);
      assert.deepEqual(
        catalog.find((gift) => gift.id === 'rose'),
        {
          object: 'gift_type',
          id: 'rose',
          name: 'Rose',
          priceDiamonds: 5,
          artUrl: `${h.server.url}/gifts/rose.svg`,
          animation: catalog[1]!.animation,
        },
      );
      assert.equal(await diamonds.gifts.catalog(), await diamonds.gifts.catalog(), 'loaded once, then kept');
      // The site's own creators, by the names the confirmation popup shows: the owner first.
      const [owner] = await diamonds.gifts.creators();
      assert.deepEqual(owner, { object: 'site_creator', id: h.creator.id, displayName: h.creator.displayName, role: 'owner' });
      // A page's first reads are CORS "simple" requests, sent without a preflight: the key in the
      // query, no Authorization, no header but the CORS-safelisted Accept-Language.
      assert.deepEqual(
        sent.map((request) => [new URL(request.url).pathname, new URL(request.url).searchParams.get('key'), [...request.headers.keys()]]),
        [
          ['/v1/catalog/gifts', h.site.publishableKey, ['accept-language']],
          ['/v1/site/creators', h.site.publishableKey, ['accept-language']],
        ],
      );
      const usd = (await diamonds.rates()).find((rate) => rate.currency === 'USD');
      assert.equal(usd?.priceMinorPer1000Diamonds, 1299);
      const packs = await diamonds.topUpPacks('USD');
      assert.deepEqual(
        packs.map((pack) => pack.diamonds),
        [100, 500, 1000, 5000],
      );
      const quote = await diamonds.quote(500, 'USD');
      assert.match(quote.id, /^qt_/);
      assert.deepEqual(quote.total, { amountMinor: 650, currency: 'USD' });
      await assert.rejects(
        diamonds.quote(1.5, 'USD'),
        (error: { code?: string; status?: number }) => error.code === 'invalid_amount' && error.status === 400,
      );
      await assert.rejects(diamonds.gifts.send({ creatorId: h.creator.id, giftId: 'rose' }), SignInRequiredError);
      assert.equal(events.includes('open'), false, 'no popup without a signed-in fan');
    });

    it('sends a gift within the allowance at once: no popup, wallet and allowance stores follow', async () => {
      const { diamonds, fanId } = await signedIn({ allowance: 50, balance: 100 });
      const walletStates: WalletState[] = [];
      diamonds.wallet.subscribe((state) => walletStates.push(state));
      assert.deepEqual(diamonds.wallet.get(), { status: 'ready', balanceDiamonds: 100, heldDiamonds: 0, earningsDiamonds: 0 });
      const popups = fakeWindowOpen();
      const gift = await diamonds.gifts.send({ creatorId: h.creator.id, giftId: 'rose', quantity: 3, message: 'Great stream!' });
      assert.equal(popups.length, 0);
      assert.equal(gift.status, 'succeeded');
      assert.equal(gift.amountDiamonds, 15);
      assert.equal(gift.message, 'Great stream!');
      assert.match(gift.transferId ?? '', /^txn_/);
      assert.deepEqual(diamonds.wallet.get(), { status: 'ready', balanceDiamonds: 85, heldDiamonds: 0, earningsDiamonds: 0 });
      assert.deepEqual(diamonds.allowance.get(), { perDay: 50, remaining: 35, recipients: [h.creator.id] });
      assert.equal(walletStates.at(-1)?.balanceDiamonds, 85);
      assert.equal((await h.balances(fanId)).wallet, 85);
      assert.deepEqual(events, ['POST /v1/gifts', 'GET /v1/wallet']);
      await diamonds.signOut();
      assert.deepEqual(diamonds.wallet.get(), { status: 'idle' }, 'a signed-out page shows no balance');
    });

    it('a gift within the allowance to a creator the site does not list opens the popup in the click; a listed one does not', async () => {
      const mallory = await h.newCreator('Mallory');
      const grace = await h.newCreator('Grace', { listed: true });
      const { diamonds, fanId } = await signedIn({ allowance: 50, balance: 100 });
      assert.deepEqual(diamonds.allowance.get()?.recipients, [h.creator.id, grace.id]);
      const popups = fakeWindowOpen();
      const sending = diamonds.gifts.send({ creatorId: mallory.id, giftId: 'rose' });
      // Its rejection may come while the test still awaits the fan's answer: handled from the start.
      void sending.catch(() => undefined);
      assert.equal(popups.length, 1, 'window.open ran in the click, before send() returned');
      assert.equal(events[0], 'open', 'the popup opened before the first request');
      const id = await confirmationOf(popups[0]!);
      assert.deepEqual(await h.balances(fanId), { wallet: 100, held: 5, earnings: 0 }, 'held, not paid');
      await decide(id, fanId, false);
      await assert.rejects(sending, (error: unknown) => (error as { code?: string }).code === 'confirmation_declined');
      assert.equal(diamonds.allowance.get()?.remaining, 50, 'the allowance is untouched');

      const listed = await diamonds.gifts.send({ creatorId: grace.id, giftId: 'rose' });
      assert.equal(listed.status, 'succeeded');
      assert.equal(popups.length, 1, 'no popup for a creator the site lists');
      assert.deepEqual(await h.balances(fanId), { wallet: 95, held: 0, earnings: 0 });
    });

    it('beyond the allowance opens the popup in the click, then resolves once the fan approves', async () => {
      const { diamonds, fanId } = await signedIn({ allowance: 10, balance: 200 });
      const popups = fakeWindowOpen();
      const seen: (readonly PendingConfirmation[])[] = [];
      diamonds.confirmations.subscribe((pending) => seen.push(pending));
      const sending = diamonds.gifts.send({ creatorId: h.creator.id, giftId: 'star' });
      assert.equal(popups.length, 1, 'window.open ran before send() returned');
      assert.equal(events[0], 'open', 'the popup opened before the first request');
      const id = await confirmationOf(popups[0]!);
      await until(() => diamonds.confirmations.get().length === 1, 'the confirmation in the store');
      assert.deepEqual(diamonds.confirmations.get()[0], {
        id,
        url: `${h.server.url}/confirm/${id}`,
        amountDiamonds: 50,
        description: diamonds.confirmations.get()[0]!.description,
        expiresAt: diamonds.confirmations.get()[0]!.expiresAt,
      });
      assert.equal((await h.balances(fanId)).held, 50);
      await decide(id, fanId, true);
      const gift = await sending;
      assert.equal(gift.status, 'succeeded');
      assert.equal(gift.confirmation?.status, 'approved');
      assert.equal(popups[0]!.closed, true);
      assert.deepEqual(diamonds.confirmations.get(), []);
      assert.deepEqual(seen.at(-1), []);
      assert.equal(diamonds.wallet.get().balanceDiamonds, 150);
      assert.deepEqual(await h.balances(fanId), { wallet: 150, held: 0, earnings: 0 });
    });

    it('rejects with confirmation_declined when the fan declines; the hold is released', async () => {
      const { diamonds, fanId } = await signedIn({ allowance: 0, balance: 100 });
      const popups = fakeWindowOpen();
      const sending = diamonds.gifts.send({ creatorId: h.creator.id, giftId: 'rose' });
      // Its rejection may come while the test still awaits the fan's answer: handled from the start.
      void sending.catch(() => undefined);
      await decide(await confirmationOf(popups[0]!), fanId, false);
      await assert.rejects(
        sending,
        (error: unknown) => error instanceof ConfirmationDeclinedError && error.code === 'confirmation_declined',
      );
      assert.deepEqual(await h.balances(fanId), { wallet: 100, held: 0, earnings: 0 });
      assert.deepEqual(diamonds.wallet.get(), { status: 'ready', balanceDiamonds: 100, heldDiamonds: 0, earningsDiamonds: 0 });
      assert.deepEqual(diamonds.confirmations.get(), []);
    });

    it('rejects with confirmation_expired when nobody answers in time', async () => {
      const { diamonds, fanId } = await signedIn({ allowance: 0, balance: 100 });
      const popups = fakeWindowOpen();
      const sending = diamonds.gifts.send({ creatorId: h.creator.id, giftId: 'rose' });
      // Its rejection may come while the test still awaits the fan's answer: handled from the start.
      void sending.catch(() => undefined);
      await confirmationOf(popups[0]!);
      await expireConfirmations(h.server.writer, h.t.db, Date.now() + CONFIRMATION_TTL_MS + 1);
      await assert.rejects(sending, ConfirmationExpiredError);
      assert.deepEqual(await h.balances(fanId), { wallet: 100, held: 0, earnings: 0 });
    });

    it('rejects with popup_closed when the fan closes the popup; the hold expires later', async () => {
      const { diamonds, fanId } = await signedIn({ allowance: 0, balance: 100 });
      const popups = fakeWindowOpen();
      const sending = diamonds.gifts.send({ creatorId: h.creator.id, giftId: 'rose' });
      await confirmationOf(popups[0]!);
      popups[0]!.close();
      await assert.rejects(sending, (error: unknown) => error instanceof PopupClosedError && error.code === 'popup_closed');
      assert.deepEqual(diamonds.confirmations.get(), []);
      assert.deepEqual(diamonds.wallet.get(), { status: 'ready', balanceDiamonds: 95, heldDiamonds: 5, earningsDiamonds: 0 });
      await expireConfirmations(h.server.writer, h.t.db, Date.now() + CONFIRMATION_TTL_MS + 1);
      assert.deepEqual(await h.balances(fanId), { wallet: 100, held: 0, earnings: 0 });
    });

    it('with the popup blocked, rejects with popup_blocked and the confirmation to open from a new click', async () => {
      const { diamonds, fanId } = await signedIn({ allowance: 0, balance: 100 });
      fakeWindowOpen('blocked');
      const error: unknown = await diamonds.gifts.send({ creatorId: h.creator.id, giftId: 'rose' }).then(
        () => assert.fail('should reject'),
        (reason: unknown) => reason,
      );
      assert.ok(isPopupBlockedError(error));
      assert.match(error.confirmationId ?? '', /^cnf_/);
      assert.equal(error.confirmationUrl, `${h.server.url}/confirm/${error.confirmationId}`);
      assert.deepEqual(events.slice(0, 2), ['open', 'POST /v1/gifts'], 'tried in the click, then once more when the server asked');
      assert.equal((await h.balances(fanId)).held, 5, 'held until the fan confirms or it expires');
      await expireConfirmations(h.server.writer, h.t.db, Date.now() + CONFIRMATION_TTL_MS + 1);
    });

    it('rejects with insufficient_funds when the wallet cannot pay, opening no popup when the wallet says so', async () => {
      const { diamonds, fanId } = await signedIn({ allowance: 0, balance: 3 });
      const popups = fakeWindowOpen();
      const transfers = await h.transferCount();
      await assert.rejects(diamonds.gifts.send({ creatorId: h.creator.id, giftId: 'rose' }), (error: unknown) => {
        assert.ok(error instanceof InsufficientFundsError);
        assert.equal(error.status, 402);
        return true;
      });
      assert.equal(popups.length, 0);
      assert.equal(await h.transferCount(), transfers);
      assert.deepEqual(await h.balances(fanId), { wallet: 3, held: 0, earnings: 0 });
    });

    it('without the price in hand opens the popup to be safe, and closes it when the gift went through', async () => {
      const { diamonds } = await signedIn({ allowance: 50, balance: 100 });
      const popups = fakeWindowOpen();
      // A gift id the catalog does not know: no price, so the SDK cannot rule a confirmation out.
      await assert.rejects(diamonds.gifts.send({ creatorId: h.creator.id, giftId: 'no-such-gift' }), { code: 'gift_not_found' });
      assert.equal(popups.length, 1);
      assert.equal(popups[0]!.closed, true);
    });

    it('a retried request after a dropped connection does not charge twice', async () => {
      const { diamonds, fanId } = await signedIn({ allowance: 50, balance: 100 });
      const transfers = await h.transferCount();
      dropNextAnswerTo = 'POST /v1/gifts';
      const gift = await diamonds.gifts.send({ creatorId: h.creator.id, giftId: 'coffee' });
      assert.equal(events.filter((line) => line === 'POST /v1/gifts').length, 2, 'sent, lost, retried');
      assert.equal(gift.status, 'succeeded');
      assert.equal(await h.transferCount(), transfers + 1, 'one transfer in the ledger');
      assert.deepEqual(await h.balances(fanId), { wallet: 90, held: 0, earnings: 0 });
      assert.equal(diamonds.wallet.get().balanceDiamonds, 90);
    });

    it('unlocks content with a receipt, within the allowance and through a confirmation, then reads the body', async () => {
      const publish = async (priceDiamonds: number): Promise<Content> => {
        const res = await h.call('/content', {
          key: 'secret',
          body: { title: 'Behind the scenes', teaser: 'How', body: '# Day one\n\n<b>x</b>', priceDiamonds },
        });
        assert.equal(res.status, 201);
        return (await res.json()) as Content;
      };
      const cheap = await publish(20);
      const dear = await publish(80);
      const { diamonds, fanId } = await signedIn({ allowance: 30, balance: 200 });
      const popups = fakeWindowOpen();
      const teaser = await diamonds.content.get(cheap.id);
      assert.equal(teaser.entitled, false);
      assert.equal(teaser.priceDiamonds, 20);
      const unlocked = await diamonds.content.unlock(cheap.id);
      assert.equal(popups.length, 0, 'the price was known and fits the allowance');
      assert.equal(unlocked.status, 'succeeded');
      assert.equal(unlocked.entitlement.status, 'active');
      assert.equal(unlocked.receipt.split('.').length, 3, 'a JWT');
      const body = await diamonds.content.body(cheap.id);
      assert.match(body.html ?? '', /<h1[^>]*>Day one<\/h1>/);
      assert.doesNotMatch(body.html ?? '', /<b>/, 'raw HTML is shown as text');
      assert.equal((await diamonds.content.get(cheap.id)).entitled, true);

      const list = await diamonds.content.list({ limit: 1 });
      assert.equal(list.data.length, 1);
      assert.equal(list.hasMore, true);
      const unlocking = diamonds.content.unlock(dear.id);
      assert.equal(popups.length, 1, 'the listed price is above what is left of the allowance: popup in the click');
      await decide(await confirmationOf(popups[0]!), fanId, true);
      const second = await unlocking;
      assert.equal(second.entitlement.status, 'active');
      assert.equal(second.receipt.split('.').length, 3);
      assert.equal(diamonds.wallet.get().balanceDiamonds, 100);
      await assert.rejects(diamonds.content.unlock(dear.id), { code: 'already_unlocked' });
    });

    it('pays an order with a receipt, within the allowance and through a confirmation', async () => {
      const order = async (amountDiamonds: number): Promise<string> => {
        const res = await h.call('/orders', { key: 'secret', body: { amountDiamonds, description: 'Custom portrait' } });
        assert.equal(res.status, 201);
        return ((await res.json()) as CheckoutOrder).id;
      };
      const { diamonds, fanId } = await signedIn({ allowance: 40, balance: 300 });
      const popups = fakeWindowOpen();
      const small = await order(30);
      assert.equal((await diamonds.orders.get(small)).totalDiamonds, 30);
      const paid = await diamonds.orders.pay(small);
      assert.equal(popups.length, 0);
      assert.equal(paid.status, 'paid');
      assert.equal(paid.receipt?.split('.').length, 3);

      const big = await order(120);
      await diamonds.orders.get(big);
      const paying = diamonds.orders.pay(big);
      assert.equal(popups.length, 1);
      await decide(await confirmationOf(popups[0]!), fanId, true);
      const paidBig = await paying;
      assert.equal(paidBig.status, 'paid');
      assert.equal(paidBig.receipt?.split('.').length, 3);
      assert.deepEqual(await h.balances(fanId), { wallet: 150, held: 0, earnings: 0 });
      await assert.rejects(diamonds.orders.pay(big), { code: 'order_already_paid' });
    });

    it('reads an open order signed out, without a Diamonds-Token; once paid, only the fan who paid sees it', async () => {
      const res = await h.call('/orders', { key: 'secret', body: { amountDiamonds: 70, description: 'Tote bag' } });
      assert.equal(res.status, 201);
      const id = ((await res.json()) as CheckoutOrder).id;
      const tokensSent: (string | null)[] = [];
      const watchedFetch: typeof fetch = (input, init) => {
        tokensSent.push(new Request(input, init).headers.get('Diamonds-Token'));
        return pageFetch(input, init);
      };
      const anonymous = createDiamonds({ publishableKey: h.site.publishableKey, apiBase: h.server.url, fetch: watchedFetch });
      const open = await anonymous.orders.get(id);
      assert.equal(open.status, 'open');
      assert.equal(open.totalDiamonds, 70);
      assert.equal(open.lines[0]?.name, 'Tote bag');
      assert.deepEqual(tokensSent, [null], 'one request, with no Diamonds-Token');

      const { diamonds } = await signedIn({ allowance: 100, balance: 100 });
      await diamonds.orders.get(id);
      assert.equal((await diamonds.orders.pay(id)).status, 'paid');
      await assert.rejects(anonymous.orders.get(id), { code: 'order_not_found', status: 404 });
      const paid = await diamonds.orders.get(id);
      assert.equal(paid.status, 'paid');
      assert.equal(paid.receipt?.split('.').length, 3);
    });

    it('iterates the history over several pages, newest first, with a kind filter and a limit', async () => {
      const { diamonds } = await signedIn({ allowance: 100, balance: 100 });
      for (const giftId of ['heart', 'rose', 'coffee']) await diamonds.gifts.send({ creatorId: h.creator.id, giftId });
      events = [];
      const entries = [];
      for await (const entry of diamonds.wallet.history({ pageSize: 2 })) entries.push(entry);
      assert.deepEqual(
        entries.map((entry) => [entry.kind, entry.direction, entry.amountDiamonds]),
        [
          ['gift', 'out', 10],
          ['gift', 'out', 5],
          ['gift', 'out', 1],
          ['purchase', 'in', 100],
        ],
      );
      assert.equal(events.filter((line) => line === 'GET /v1/wallet/history').length, 2);
      const gifts = [];
      for await (const entry of diamonds.wallet.history({ kind: 'gift', pageSize: 1, limit: 2 })) gifts.push(entry.amountDiamonds);
      assert.deepEqual(gifts, [10, 5]);
      await assert.rejects(diamonds.wallet.history({ limit: 0 }).next(), RangeError);
    });

    it('tops up with the test card: popup in the click, resolves once credited, wallet updated', async () => {
      const { diamonds, fanId } = await signedIn({ balance: 0 });
      const popups = fakeWindowOpen();
      const buying = diamonds.topUp({ diamonds: 500, currency: 'USD' });
      assert.equal(popups.length, 1);
      assert.equal(events[0], 'open');
      await until(() => popups[0]!.location.href.includes('/topup/'), 'the payment page');
      const id = popups[0]!.location.href.split('/topup/')[1]!;
      assert.equal(await h.server.writer.run(payWithTestCardOperation, { id: id, outcome: 'succeeds' }), 'succeeded');
      popups[0]!.close(); // the hosted page closes itself once paid
      const topUp = await buying;
      assert.equal(topUp.status, 'succeeded');
      assert.equal(topUp.diamonds, 500);
      assert.deepEqual(diamonds.wallet.get(), { status: 'ready', balanceDiamonds: 500, heldDiamonds: 0, earningsDiamonds: 0 });
      assert.equal((await h.balances(fanId)).wallet, 500);
    });

    it('a declined card rejects with card_declined and credits nothing; a closed popup rejects with popup_closed', async () => {
      const { diamonds, fanId } = await signedIn({ balance: 0 });
      const popups = fakeWindowOpen();
      const quote = await diamonds.quote(100, 'EUR');
      const buying = diamonds.topUp({ quoteId: quote.id });
      await until(() => popups[0]!.location.href.includes('/topup/'), 'the payment page');
      const id = popups[0]!.location.href.split('/topup/')[1]!;
      await h.server.writer.run(payWithTestCardOperation, { id: id, outcome: 'declines' });
      await assert.rejects(buying, (error: unknown) => {
        assert.ok(isTopUpFailedError(error));
        assert.equal(error.code, 'card_declined');
        assert.equal(error.topUpId, id);
        return true;
      });
      assert.equal((await h.balances(fanId)).wallet, 0);

      const abandoned = diamonds.topUp({ diamonds: 100, currency: 'USD' });
      await until(() => popups[1]?.location.href.includes('/topup/') === true, 'the second payment page');
      popups[1]!.close();
      await assert.rejects(abandoned, PopupClosedError);
      fakeWindowOpen('blocked');
      await assert.rejects(diamonds.topUp({ diamonds: 100, currency: 'USD' }), { code: 'popup_blocked' });
      assert.equal((await h.balances(fanId)).wallet, 0);
    });
  });
}
