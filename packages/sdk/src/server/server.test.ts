// The Node entry against the real platform on each database: content, products, orders, refunds
// and sales with the secret key; a fan pays over HTTP as their page would. Only a dropped
// connection is faked (a wrapped fetch), since a real server cannot be made to drop one on cue.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createSite,
  DATABASE_KINDS,
  skipUnlessPostgres,
  startMoneyHarness,
  type MoneyHarness,
  type TestFan,
} from '@diamonds/server/testing';
import {
  createDiamondsServer,
  DiamondsApiError,
  DiamondsUsageError,
  type DiamondsServer,
  type DiamondsServerOptions,
  type Order,
} from './index.js';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`@diamonds/sdk/server against the platform on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let fan: TestFan;
    /** Every request the clients sent, as `METHOD /path`. */
    let sent: string[] = [];

    const countingFetch: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      sent.push(`${request.method} ${new URL(request.url).pathname}`);
      return fetch(request);
    };

    const server = (options: Partial<DiamondsServerOptions> = {}): DiamondsServer =>
      createDiamondsServer({ secretKey: h.site.secretKey, siteId: h.site.id, apiBase: h.server.url, fetch: countingFetch, ...options });

    /** The fan pays `orderId` from their page, as the browser SDK would: publishable key, token, Origin. */
    async function pay(orderId: string, payer: TestFan = fan): Promise<void> {
      const response = await h.call(`/orders/${orderId}/pay`, { method: 'POST', fan: payer });
      assert.equal(response.status, 200, await response.clone().text());
    }

    /** An order of `amountDiamonds` that the fan has paid, read back with the secret key. */
    async function paidOrder(diamonds: DiamondsServer, amountDiamonds: number): Promise<Order> {
      const order = await diamonds.orders.create({ amountDiamonds, description: `Test order of ${amountDiamonds}` });
      await pay(order.id);
      return diamonds.orders.get(order.id);
    }

    before(async () => {
      h = await startMoneyHarness(kind);
      fan = await h.fan({ name: 'Grace', allowance: 100_000, balance: 50_000 });
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    it('publishes content (Markdown with a price, a link with a threshold), lists, reads and archives it', async () => {
      const diamonds = server();
      const post = await diamonds.content.create({
        title: 'Behind the scenes',
        teaser: 'Day one',
        body: '# Day one\nHello',
        priceDiamonds: 50,
      });
      assert.equal(post.object, 'content');
      assert.match(post.id, /^ct_/);
      assert.equal(post.siteId, h.site.id);
      assert.equal(post.format, 'markdown');
      assert.equal(post.priceDiamonds, 50);
      assert.equal(post.thresholdDiamonds, null);
      const vip = await diamonds.content.create({ title: 'Q&A', externalUrl: 'https://video.example/qa', thresholdDiamonds: 500 });
      assert.equal(vip.format, 'external');
      assert.equal(vip.teaser, '', 'the teaser defaults to empty');
      assert.equal(vip.thresholdDiamonds, 500);

      const page = await diamonds.content.list({ limit: 1 });
      assert.equal(page.data.length, 1);
      assert.equal(page.hasMore, true);
      const all: string[] = [];
      for await (const item of diamonds.content.each({ limit: 1 })) all.push(item.id);
      assert.deepEqual(all, [vip.id, post.id], 'newest first, across pages');
      assert.deepEqual(await diamonds.content.get(post.id), post);

      const archived = await diamonds.content.update(vip.id, { archived: true });
      assert.equal(typeof archived.archivedAt, 'number');
      assert.equal((await diamonds.content.get(vip.id)).archivedAt, archived.archivedAt);
    });

    it('refuses bad content with the server’s typed codes, and bad ids before sending anything', async () => {
      const diamonds = server();
      await assert.rejects(
        diamonds.content.create({ title: 'Both', body: 'x', externalUrl: 'https://x.example', priceDiamonds: 5 }),
        (error: unknown) => error instanceof DiamondsApiError && error.code === 'invalid_request' && error.status === 400,
      );
      await assert.rejects(
        diamonds.content.create({ title: 'Free', body: 'x', priceDiamonds: 0 }),
        (error: unknown) => error instanceof DiamondsApiError && error.code === 'invalid_amount',
      );
      await assert.rejects(
        diamonds.content.get('ct_00000000000000000000000000'),
        (error: unknown) => error instanceof DiamondsApiError && error.code === 'content_not_found' && error.status === 404,
      );
      sent = [];
      for (const id of ['../orders', 'ord_1/refund', '', 'prod_x']) {
        await assert.rejects(
          diamonds.content.get(id),
          (error: unknown) => error instanceof DiamondsUsageError && error.code === 'invalid_id',
        );
      }
      await assert.rejects(diamonds.orders.refund('ord_1/../x'), DiamondsUsageError);
      assert.deepEqual(sent, [], 'nothing was sent for a bad id');
    });

    it('creates, lists, reads and changes products', async () => {
      const diamonds = server();
      const tee = await diamonds.products.create({
        name: 'T-shirt',
        priceDiamonds: 250,
        stock: 40,
        imageUrl: 'https://shop.example/tee.png',
      });
      assert.match(tee.id, /^prod_/);
      assert.deepEqual(
        { name: tee.name, priceDiamonds: tee.priceDiamonds, stock: tee.stock, active: tee.active },
        { name: 'T-shirt', priceDiamonds: 250, stock: 40, active: true },
      );
      const mug = await diamonds.products.create({ name: 'Mug', priceDiamonds: 120 });
      assert.equal(mug.stock, null, 'no stock means unlimited');
      assert.deepEqual(await diamonds.products.get(tee.id), tee);
      const changed = await diamonds.products.update(tee.id, { priceDiamonds: 200, stock: 10 });
      assert.equal(changed.priceDiamonds, 200);
      assert.equal(changed.stock, 10);
      const off = await diamonds.products.update(mug.id, { active: false });
      assert.equal(off.active, false);
      const ids: string[] = [];
      for await (const product of diamonds.products.each({ limit: 1 })) ids.push(product.id);
      assert.ok(ids.includes(mug.id), 'the secret key sees inactive products too');
      assert.ok(ids.includes(tee.id));
      await assert.rejects(
        diamonds.products.update(tee.id, { priceDiamonds: 1.5 }),
        (error: unknown) => error instanceof DiamondsApiError && error.code === 'invalid_amount',
      );
      await assert.rejects(
        diamonds.products.get('prod_00000000000000000000000000'),
        (error: unknown) => error instanceof DiamondsApiError && error.code === 'product_not_found',
      );
    });

    it('an order from lines, paid by the fan over HTTP, reads back paid with a receipt that verifies', async () => {
      const diamonds = server();
      const tee = await diamonds.products.create({ name: 'Tee', priceDiamonds: 250, stock: 5 });
      const order = await diamonds.orders.create({
        lines: [{ productId: tee.id, quantity: 2 }],
        reference: 'cart-1042',
        metadata: { customer: 'c_981', gift: true },
      });
      assert.equal(order.status, 'open');
      assert.equal(order.totalDiamonds, 500, 'priced from the product: 2 × 250');
      assert.equal(order.reference, 'cart-1042');
      assert.deepEqual(order.metadata, { customer: 'c_981', gift: true });
      assert.equal(order.receipt, null);
      const before = await h.balances(fan.id);

      await pay(order.id);
      const paid = await diamonds.orders.get(order.id);
      assert.equal(paid.status, 'paid');
      assert.equal(paid.fanId, fan.id);
      assert.match(paid.transferId ?? '', /^txn_/);
      assert.equal(typeof paid.receipt, 'string');
      assert.equal((await h.balances(fan.id)).wallet, before.wallet - 500, 'the whole total left the wallet');

      const claims = await diamonds.verifyReceipt(paid.receipt!);
      assert.deepEqual(
        { sub: claims.sub, aud: claims.aud, kind: claims.kind, subjectId: claims.subjectId, amountDiamonds: claims.amountDiamonds },
        { sub: fan.id, aud: h.site.id, kind: 'order', subjectId: order.id, amountDiamonds: 500 },
      );
      assert.equal(claims.transferId, paid.transferId);
      assert.equal(claims.iss, h.server.url);
      assert.match(claims.jti, /^rcpt_/);
      assert.ok(Number.isInteger(claims.iat) && Math.abs(claims.iat * 1000 - Date.now()) < 60_000);
    });

    it('an unlock receipt verifies too (kind unlock, the content as subject)', async () => {
      const diamonds = server();
      const post = await diamonds.content.create({ title: 'Paid post', body: 'secret', priceDiamonds: 30 });
      const response = await h.call(`/content/${post.id}/unlock`, { method: 'POST', fan });
      assert.equal(response.status, 201, await response.clone().text());
      const { receipt } = (await response.json()) as { receipt: string };
      const claims = await diamonds.verifyReceipt(receipt);
      assert.deepEqual(
        { sub: claims.sub, aud: claims.aud, kind: claims.kind, subjectId: claims.subjectId, amountDiamonds: claims.amountDiamonds },
        { sub: fan.id, aud: h.site.id, kind: 'unlock', subjectId: post.id, amountDiamonds: 30 },
      );
    });

    it('lists orders by status page by page; sales are the paid ones; a canceled order cannot be paid', async () => {
      const diamonds = server();
      const open = await diamonds.orders.create({ amountDiamonds: 11, description: 'stays open' });
      const canceled = await diamonds.orders.create({ amountDiamonds: 12, description: 'canceled' });
      const paid = await paidOrder(diamonds, 13);

      const afterCancel = await diamonds.orders.cancel(canceled.id);
      assert.equal(afterCancel.status, 'canceled');
      assert.equal((await diamonds.orders.cancel(canceled.id)).status, 'canceled', 'canceling again answers the same');
      const refused = await h.call(`/orders/${canceled.id}/pay`, { method: 'POST', fan });
      await h.refused(refused, 409, 'order_canceled');
      await assert.rejects(
        diamonds.orders.cancel(paid.id),
        (error: unknown) => error instanceof DiamondsApiError && error.code === 'order_already_paid',
      );

      const openIds: string[] = [];
      let pages = 0;
      for await (const page of diamonds.orders.pages({ status: 'open', limit: 1 })) {
        pages++;
        for (const order of page.data) {
          assert.equal(order.status, 'open');
          openIds.push(order.id);
        }
      }
      assert.ok(openIds.includes(open.id));
      assert.ok(pages >= openIds.length, 'one order per page');
      assert.equal(new Set(openIds).size, openIds.length, 'no order twice across pages');

      const canceledPage = await diamonds.orders.list({ status: 'canceled' });
      assert.deepEqual(
        canceledPage.data.map((order) => order.id),
        [canceled.id],
      );
      const sales: Order[] = [];
      for await (const sale of diamonds.sales.each({ limit: 2 })) sales.push(sale);
      assert.ok(sales.length >= 1);
      assert.ok(sales.every((sale) => sale.status === 'paid'));
      assert.ok(sales.some((sale) => sale.id === paid.id));
      assert.deepEqual(
        (await diamonds.sales.list({ limit: 100 })).data.map((sale) => sale.id),
        sales.map((sale) => sale.id),
      );
    });

    it('refunds a paid order once: every Diamond back, and a second refund is order_already_refunded', async () => {
      const diamonds = server();
      const walletBefore = (await h.balances(fan.id)).wallet;
      const paid = await paidOrder(diamonds, 400);
      assert.equal((await h.balances(fan.id)).wallet, walletBefore - 400);
      const refunded = await diamonds.orders.refund(paid.id);
      assert.equal(refunded.status, 'refunded');
      assert.match(refunded.refundTransferId ?? '', /^txn_/);
      assert.equal(typeof refunded.refundedAt, 'number');
      assert.equal((await h.balances(fan.id)).wallet, walletBefore, 'the fan got every Diamond back');
      const transfers = await h.transferCount();
      await assert.rejects(diamonds.orders.refund(paid.id), (error: unknown) => {
        assert.ok(error instanceof DiamondsApiError, String(error));
        assert.equal(error.code, 'order_already_refunded');
        assert.equal(error.status, 409);
        assert.match(error.requestId ?? '', /^req_/);
        return true;
      });
      assert.equal(await h.transferCount(), transfers, 'nothing moved');
      await assert.rejects(
        diamonds.orders.refund((await diamonds.orders.create({ amountDiamonds: 5, description: 'unpaid' })).id),
        (error: unknown) => error instanceof DiamondsApiError && error.code === 'order_not_paid',
      );
      assert.ok(!(await diamonds.sales.list({ limit: 100 })).data.some((sale) => sale.id === paid.id), 'a refunded order is no sale');
    });

    it('one site’s key neither sees nor refunds another site’s orders', async () => {
      const owner = await h.newCreator('Bea');
      const other = await createSite(h.t.db, { ownerId: owner.id, name: 'Bea’s shop', origins: ['http://127.0.0.1:5173'] });
      const bea = server({ secretKey: other.secretKey, siteId: other.site.id });
      const theirs = await bea.orders.create({ amountDiamonds: 10, description: 'Bea’s' });
      assert.equal(theirs.siteId, other.site.id);
      const ours = server();
      await assert.rejects(
        ours.orders.get(theirs.id),
        (error: unknown) => error instanceof DiamondsApiError && error.code === 'order_not_found',
      );
      await assert.rejects(
        ours.orders.refund(theirs.id),
        (error: unknown) => error instanceof DiamondsApiError && error.code === 'order_not_found',
      );
      await assert.rejects(
        ours.orders.cancel(theirs.id),
        (error: unknown) => error instanceof DiamondsApiError && error.code === 'order_not_found',
      );
      assert.equal((await bea.orders.get(theirs.id)).status, 'open');
    });

    it('a retry after a dropped connection creates ONE order (same Idempotency-Key), and refunds once', async () => {
      const keys: string[] = [];
      let drop = true;
      const droppingFetch: typeof fetch = async (input, init) => {
        const request = new Request(input, init);
        if (request.method === 'POST' && /\/v1\/orders(\/[^/]+\/refund)?$/.test(new URL(request.url).pathname)) {
          keys.push(request.headers.get('Idempotency-Key') ?? '(none)');
          if (drop) {
            drop = false;
            await (await fetch(request)).text(); // the server did the work…
            throw new TypeError('fetch failed', { cause: new Error('socket hang up') }); // …and the answer was lost
          }
        }
        return fetch(request);
      };
      const diamonds = server({ fetch: droppingFetch });
      const countOrders = async () => {
        let n = 0;
        for await (const order of diamonds.orders.each({ limit: 100 })) if (order.reference === 'dropped-1') n++;
        return n;
      };
      assert.equal(await countOrders(), 0);
      const order = await diamonds.orders.create({ amountDiamonds: 77, description: 'Dropped once', reference: 'dropped-1' });
      assert.equal(keys.length, 2, 'the first attempt and one retry');
      assert.equal(keys[0], keys[1], 'the retry carried the same Idempotency-Key');
      assert.equal(await countOrders(), 1, 'one order, not two');
      assert.equal((await diamonds.orders.get(order.id)).totalDiamonds, 77);

      await pay(order.id);
      const transfers = await h.transferCount();
      keys.length = 0;
      drop = true;
      const refunded = await diamonds.orders.refund(order.id);
      assert.equal(refunded.status, 'refunded', 'the replayed answer, not order_already_refunded');
      assert.equal(keys.length, 2);
      assert.equal(keys[0], keys[1]);
      assert.equal(await h.transferCount(), transfers + 1, 'one refund transfer');

      // A caller's own key makes a repeat of the whole call safe too.
      const first = await diamonds.orders.create({ amountDiamonds: 5, description: 'Mine' }, { idempotencyKey: 'cart-dropped-2' });
      const again = await diamonds.orders.create({ amountDiamonds: 5, description: 'Mine' }, { idempotencyKey: 'cart-dropped-2' });
      assert.equal(again.id, first.id);
      await assert.rejects(
        diamonds.orders.create({ amountDiamonds: 6, description: 'Mine' }, { idempotencyKey: 'cart-dropped-2' }),
        (error: unknown) => error instanceof DiamondsApiError && error.code === 'idempotency_key_reused',
      );
    });

    it('a revoked or wrong secret key is an AuthenticationError, a publishable key one is refused before sending', async () => {
      const diamonds = server({ secretKey: 'sk_test_' + 'x'.repeat(32) });
      await assert.rejects(
        diamonds.orders.list(),
        (error: unknown) => error instanceof DiamondsApiError && error.name === 'AuthenticationError' && error.status === 401,
      );
      assert.throws(() => server({ secretKey: h.site.publishableKey }), DiamondsUsageError);
    });
  });
}
