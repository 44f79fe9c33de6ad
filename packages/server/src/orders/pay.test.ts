import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CheckoutOrder, Order, PayOrderResult } from '@diamonds/protocol';
import { jwks, verifyReceiptWith, type PublicJwk } from '../money/receipts.js';
import { CONFIRMATION_TTL_MS, decideConfirmationOperation } from '../money/spends.js';
import { expireConfirmations } from '../money/sweeper.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, TEST_PAGE_ORIGIN, type MoneyHarness, type TestFan } from '../testing/money.js';
import { feeBalance, makeOrder, makeProduct, stockOf } from './testing.js';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`paying and refunding orders on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    before(async () => {
      h = await startMoneyHarness(kind);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    const pay = (orderId: string, fan: TestFan, idempotencyKey?: string) =>
      h.call(`/orders/${orderId}/pay`, { fan, body: {}, ...(idempotencyKey === undefined ? {} : { idempotencyKey }) });
    const refund = (orderId: string, idempotencyKey?: string) =>
      h.call(`/orders/${orderId}/refund`, { key: 'secret', body: {}, ...(idempotencyKey === undefined ? {} : { idempotencyKey }) });
    const shopView = async (orderId: string) => Order.parse(await (await h.call(`/orders/${orderId}`, { key: 'secret' })).json());
    const approve = (id: string, userId: string, yes = true) =>
      h.server.writer.run(decideConfirmationOperation, { id, userId, approve: yes });
    const postingsOf = async (transferId: string) =>
      (
        await h.t.db.query<{ account_id: string; amount: number }>(
          'SELECT account_id, amount FROM postings WHERE transfer_id = ? ORDER BY account_id',
          [transferId],
        )
      ).map((p) => [p.account_id, Number(p.amount)] as const);

    it('pays within the allowance at once: exact balances, fee split, stock, receipt', async () => {
      const tee = await makeProduct(h, { name: 'T-shirt', priceDiamonds: 250, stock: 5 });
      const order = await makeOrder(h, { lines: [{ productId: tee.id, quantity: 2 }], reference: 'cart-1' });
      const fan = await h.fan({ allowance: 1000, balance: 1000 });
      const creatorBefore = await h.balances(h.creator.id);
      const feesBefore = await feeBalance(h);

      const response = await pay(order.id, fan);
      assert.equal(response.status, 200);
      const paid = PayOrderResult.parse(await response.json());
      assert.equal(paid.status, 'paid');
      assert.equal(paid.confirmation, null);
      assert.equal(paid.fanId, fan.id);
      assert.ok(paid.receipt && paid.transferId && paid.paidAt);

      assert.deepEqual(await h.balances(fan.id), { wallet: 500, held: 0, earnings: 0 });
      assert.equal((await h.balances(h.creator.id)).earnings - creatorBefore.earnings, 400);
      assert.equal((await feeBalance(h)) - feesBefore, 100);
      assert.equal(await stockOf(h, tee.id), 3);

      const transfer = await h.server.ledger.getTransfer(paid.transferId);
      assert.equal(transfer.code, 'order');
      assert.equal(transfer.metadata.description, 'Order at Ada’s page: 2 × T-shirt');
      assert.equal(transfer.metadata.subjectId, order.id);

      const claims = verifyReceiptWith(paid.receipt, (await jwks(h.t.db)).keys);
      assert.equal(claims.sub, fan.id);
      assert.equal(claims.aud, h.site.id);
      assert.equal(claims.kind, 'order');
      assert.equal(claims.subjectId, order.id);
      assert.equal(claims.amountDiamonds, 500);
      assert.equal(claims.transferId, paid.transferId);
      assert.equal(claims.iss, h.server.url);
      // The public JWKS verifies it too, and the shop's backend reads the same receipt.
      const published = (await (await h.call('//.well-known/jwks.json')).json()) as { keys: PublicJwk[] };
      assert.equal(verifyReceiptWith(paid.receipt, published.keys).jti, claims.jti);
      const shop = await shopView(order.id);
      assert.equal(shop.receipt, paid.receipt);
      assert.equal(shop.status, 'paid');
      assert.equal(shop.reference, 'cart-1');
    });

    it('charges once: paying again is refused, a retried key replays, another fan cannot pay or see it', async () => {
      const order = await makeOrder(h, { amountDiamonds: 100, description: 'Print' });
      const fan = await h.fan({ allowance: 1000, balance: 300 });
      const other = await h.fan({ allowance: 1000, balance: 300 });
      const first = await pay(order.id, fan, 'pay-key-1');
      assert.equal(first.status, 200);
      const firstBody = await first.json();
      const transfers = await h.transferCount();

      const replay = await pay(order.id, fan, 'pay-key-1');
      assert.equal(replay.status, 200);
      assert.equal(replay.headers.get('Idempotent-Replayed'), 'true');
      assert.deepEqual(await replay.json(), firstBody);

      await h.refused(await pay(order.id, fan), 409, 'order_already_paid');
      await h.refused(await pay(order.id, other), 409, 'order_already_paid');
      await h.refused(await h.call(`/orders/${order.id}`, { fan: other }), 404, 'order_not_found');
      await h.refused(await h.call(`/orders/${order.id}`), 404, 'order_not_found');
      assert.equal(CheckoutOrder.parse(await (await h.call(`/orders/${order.id}`, { fan })).json()).status, 'paid');

      assert.equal(await h.transferCount(), transfers);
      assert.equal((await h.balances(fan.id)).wallet, 200);
      assert.equal((await h.balances(other.id)).wallet, 300);
    });

    it('refuses bad payers and unknown orders, moving nothing', async () => {
      const order = await makeOrder(h, { amountDiamonds: 10, description: 'Pin' });
      const fan = await h.fan({ allowance: 100, balance: 100 });
      const transfers = await h.transferCount();
      await h.refused(await h.call(`/orders/${order.id}/pay`, { key: 'secret', body: {} }), 403, 'permission_denied');
      await h.refused(await h.call(`/orders/${order.id}/pay`, { body: {} }), 401, 'authentication_required');
      await h.refused(await h.call(`/orders/${order.id}/pay`, { fan: { ...fan, token: 'dat_forged' }, body: {} }), 401, 'invalid_token');
      await h.refused(await pay('ord_01JD3S9ZK4W8Q2V7C5XH6RTB0M', fan), 404, 'order_not_found');
      await h.refused(await pay('ord_00000000000000000000000000', fan), 404, 'order_not_found');
      await h.refused(await h.call(`/orders/${order.id}/pay`, { fan, body: {}, idempotencyKey: null }), 400, 'idempotency_key_required');
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await shopView(order.id)).status, 'open');
    });

    it('refuses a fan who cannot pay with 402, leaving stock and order as they were', async () => {
      const tee = await makeProduct(h, { priceDiamonds: 300, stock: 4 });
      const order = await makeOrder(h, { lines: [{ productId: tee.id, quantity: 2 }] });
      const fans = [await h.fan({ allowance: 0, balance: 599 }), await h.fan({ allowance: 10_000, balance: 599 })];
      const transfers = await h.transferCount();
      for (const fan of fans) {
        await h.refused(await pay(order.id, fan), 402, 'insufficient_funds');
        assert.deepEqual(await h.balances(fan.id), { wallet: 599, held: 0, earnings: 0 });
      }
      assert.equal(await stockOf(h, tee.id), 4);
      assert.equal(await h.transferCount(), transfers);
      const shop = await shopView(order.id);
      assert.equal(shop.status, 'open');
      assert.equal(shop.fanId, null);
    });

    it('refuses an order whose stock ran out, undoing the lines already taken', async () => {
      const mug = await makeProduct(h, { name: 'Mug', priceDiamonds: 5, stock: 10 });
      const tee = await makeProduct(h, { name: 'Tee', priceDiamonds: 5, stock: 1 });
      const order = await makeOrder(h, {
        lines: [
          { productId: mug.id, quantity: 3 },
          { productId: tee.id, quantity: 2 },
        ],
      });
      const fan = await h.fan({ allowance: 1000, balance: 1000 });
      const transfers = await h.transferCount();
      const error = await h.refused(await pay(order.id, fan), 409, 'out_of_stock');
      assert.match(error.message, /Tee/);
      assert.equal(await stockOf(h, mug.id), 10);
      assert.equal(await stockOf(h, tee.id), 1);
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await h.balances(fan.id)).wallet, 1000);
      assert.equal((await shopView(order.id)).status, 'open');
    });

    it('beyond the allowance: holds Diamonds and stock, then approval pays with a receipt', async () => {
      const tee = await makeProduct(h, { name: 'Hoodie', priceDiamonds: 700, stock: 2 });
      const order = await makeOrder(h, { lines: [{ productId: tee.id, quantity: 1 }] });
      const fan = await h.fan({ allowance: 100, balance: 1000 });
      const creatorBefore = await h.balances(h.creator.id);
      const response = await pay(order.id, fan);
      assert.equal(response.status, 202);
      const held = PayOrderResult.parse(await response.json());
      assert.equal(held.status, 'pending_confirmation');
      assert.equal(held.receipt, null);
      assert.ok(held.confirmation);
      assert.equal(held.confirmation.amountDiamonds, 700);
      assert.equal(held.confirmation.subjectId, order.id);
      assert.equal(held.confirmation.description, 'Order at Ada’s page: 1 × Hoodie');
      assert.ok(held.confirmation.url.endsWith(`/confirm/${held.confirmation.id}`));
      // The confirmation page names the page that asked.
      const [asked] = await h.t.db.query<{ origin: string | null }>('SELECT origin FROM confirmations WHERE id = ?', [
        held.confirmation.id,
      ]);
      assert.equal(asked?.origin, TEST_PAGE_ORIGIN);
      assert.deepEqual(await h.balances(fan.id), { wallet: 1000, held: 700, earnings: 0 });
      assert.equal(await stockOf(h, tee.id), 1);
      await h.refused(await pay(order.id, fan), 409, 'order_pending_confirmation');
      await h.refused(await refund(order.id), 409, 'order_not_paid');

      await approve(held.confirmation.id, fan.id);
      const shop = await shopView(order.id);
      assert.equal(shop.status, 'paid');
      assert.ok(shop.receipt && shop.transferId);
      const claims = verifyReceiptWith(shop.receipt, (await jwks(h.t.db)).keys);
      assert.deepEqual([claims.sub, claims.aud, claims.subjectId, claims.amountDiamonds], [fan.id, h.site.id, order.id, 700]);
      assert.equal(claims.iss, h.server.url);
      assert.deepEqual(await h.balances(fan.id), { wallet: 300, held: 0, earnings: 0 });
      assert.equal((await h.balances(h.creator.id)).earnings - creatorBefore.earnings, 560);
      assert.equal(await stockOf(h, tee.id), 1);

      // And it refunds exactly like an order paid at once.
      const refunded = Order.parse(await (await refund(order.id)).json());
      assert.equal(refunded.status, 'refunded');
      assert.deepEqual(await h.balances(fan.id), { wallet: 1000, held: 0, earnings: 0 });
      assert.equal((await h.balances(h.creator.id)).earnings, creatorBefore.earnings);
      assert.equal(await stockOf(h, tee.id), 2);
    });

    it('a declined or expired confirmation reopens the order and returns the stock; it can be paid again', async () => {
      const tee = await makeProduct(h, { name: 'Cap', priceDiamonds: 400, stock: 1 });
      const order = await makeOrder(h, { lines: [{ productId: tee.id, quantity: 1 }] });
      const fan = await h.fan({ allowance: 0, balance: 1000 });
      const transfersBefore = await h.transferCount();

      const first = PayOrderResult.parse(await (await pay(order.id, fan)).json());
      assert.equal(await stockOf(h, tee.id), 0);
      await approve(first.confirmation!.id, fan.id, false);
      let shop = await shopView(order.id);
      assert.deepEqual([shop.status, shop.fanId, shop.transferId], ['open', null, null]);
      assert.equal(await stockOf(h, tee.id), 1);
      assert.deepEqual(await h.balances(fan.id), { wallet: 1000, held: 0, earnings: 0 });

      // Second attempt: let it expire.
      const second = PayOrderResult.parse(await (await pay(order.id, fan)).json());
      assert.notEqual(second.confirmation!.id, first.confirmation!.id);
      assert.equal(await expireConfirmations(h.server.writer, h.t.db, Date.now() + CONFIRMATION_TTL_MS + 1), 1);
      shop = await shopView(order.id);
      assert.equal(shop.status, 'open');
      assert.equal(await stockOf(h, tee.id), 1);
      assert.deepEqual(await h.balances(fan.id), { wallet: 1000, held: 0, earnings: 0 });
      // Third attempt: approve.
      const third = await pay(order.id, fan);
      const thirdBody = PayOrderResult.parse(await third.json());
      await approve(thirdBody.confirmation!.id, fan.id);
      shop = await shopView(order.id);
      assert.equal(shop.status, 'paid');
      assert.deepEqual(await h.balances(fan.id), { wallet: 600, held: 0, earnings: 0 });
      assert.equal(await stockOf(h, tee.id), 0);
      const decisions = await h.t.db.query<{ status: string }>('SELECT status FROM confirmations WHERE subject_id = ? ORDER BY id', [
        order.id,
      ]);
      assert.deepEqual(
        decisions.map((d) => d.status),
        ['declined', 'expired', 'approved'],
      );
      assert.ok((await h.transferCount()) > transfersBefore);
    });

    it('refunds exactly once: the payment reversed posting by posting, stock back, second refund refused', async () => {
      const tee = await makeProduct(h, { name: 'Scarf', priceDiamonds: 333, stock: 3 });
      const order = await makeOrder(h, { lines: [{ productId: tee.id, quantity: 3 }] });
      const fan = await h.fan({ allowance: 5000, balance: 1500 });
      const creatorBefore = await h.balances(h.creator.id);
      const feesBefore = await feeBalance(h);
      const paid = PayOrderResult.parse(await (await pay(order.id, fan)).json());
      assert.equal(await stockOf(h, tee.id), 0);
      assert.equal((await h.balances(h.creator.id)).earnings - creatorBefore.earnings, 799);
      assert.equal((await feeBalance(h)) - feesBefore, 200);

      await h.refused(await h.call(`/orders/${order.id}/refund`, { body: {} }), 403, 'permission_denied');
      await h.refused(await h.call(`/orders/${order.id}/refund`, { fan, body: {} }), 403, 'permission_denied');
      await h.refused(
        await h.call(`/orders/${order.id}/refund`, { key: 'secret', body: {}, idempotencyKey: null }),
        400,
        'idempotency_key_required',
      );

      const response = await refund(order.id, 'refund-1');
      assert.equal(response.status, 200);
      const refunded = Order.parse(await response.json());
      assert.equal(refunded.status, 'refunded');
      assert.ok(refunded.refundTransferId && refunded.refundedAt);
      const reversal = await postingsOf(refunded.refundTransferId);
      const payment = await postingsOf(paid.transferId!);
      assert.deepEqual(
        reversal,
        payment.map(([account, amount]) => [account, -amount]),
      );
      const transfer = await h.server.ledger.getTransfer(refunded.refundTransferId);
      assert.equal(transfer.code, 'refund');
      assert.equal(transfer.metadata.description, 'Refund: Order at Ada’s page: 3 × Scarf');
      assert.deepEqual(await h.balances(fan.id), { wallet: 1500, held: 0, earnings: 0 });
      assert.deepEqual(await h.balances(h.creator.id), creatorBefore);
      assert.equal(await feeBalance(h), feesBefore);
      assert.equal(await stockOf(h, tee.id), 3);
      await h.verifyClean();

      const transfers = await h.transferCount();
      const replay = await refund(order.id, 'refund-1');
      assert.equal(replay.headers.get('Idempotent-Replayed'), 'true');
      await h.refused(await refund(order.id), 409, 'order_already_refunded');
      await h.refused(await pay(order.id, fan), 409, 'order_already_paid');
      assert.equal(await h.transferCount(), transfers);
      assert.equal(await stockOf(h, tee.id), 3);
      assert.equal((await h.balances(fan.id)).wallet, 1500);

      const open = await makeOrder(h, { amountDiamonds: 5, description: 'x' });
      await h.refused(await refund(open.id), 409, 'order_not_paid');
      await h.refused(await refund('ord_01JD3S9ZK4W8Q2V7C5XH6RTB0M'), 404, 'order_not_found');
      assert.equal(await h.transferCount(), transfers);
    });

    it('refuses a refund with 402 when the owner’s earnings no longer hold their share', async () => {
      const seller = await h.newCreator('Bo');
      const { createSite } = await import('../identity/sites.js');
      const shop = await createSite(h.t.db, { ownerId: seller.id, name: 'Bo’s shop', origins: ['https://bo.example'] });
      const order = await h.t.db.transaction(async (tx) => {
        const { createOrder } = await import('./orders.js');
        return createOrder(tx, shop.site.id, { amountDiamonds: 50, description: 'Zine' });
      });
      const fan = await h.fan({ balance: 100 });
      await h.server.commits.run(async (tx) => {
        const { payOrder } = await import('./orders.js');
        return payOrder(tx, h.server.ledger, {
          orderId: order.row.id,
          siteId: shop.site.id,
          userId: fan.id,
          issuer: 'x',
          feeBasisPoints: 2000,
        });
      });
      // The fan has no allowance on Bo's shop: approve the confirmation.
      const [confirmation] = await h.t.db.query<{ id: string }>('SELECT id FROM confirmations WHERE subject_id = ?', [order.row.id]);
      await approve(confirmation!.id, fan.id);
      assert.equal((await h.balances(seller.id)).earnings, 40);
      // Bo cashes out half of the earnings.
      await h.t.db.transaction(async (tx) => {
        const earnings = await h.server.ledger.openAccount({ ownerId: seller.id, kind: 'earnings' }, tx);
        const payouts = await h.server.ledger.platformAccount('payouts', tx);
        await h.server.ledger.transferIn(tx, {
          idempotencyKey: `test-payout:${seller.id}`,
          code: 'payout',
          postings: [
            { accountId: earnings.id, amountDiamonds: -20 },
            { accountId: payouts.id, amountDiamonds: 20 },
          ],
        });
      });
      const transfers = await h.transferCount();
      const refused = await h.refused(
        await h.call(`/orders/${order.row.id}/refund`, { key: shop.secretKey, origin: null, body: {} }),
        402,
        'insufficient_funds',
      );
      assert.match(refused.message, /takes 40 Diamonds back from the shop owner’s earnings/);
      assert.equal(await h.transferCount(), transfers);
      const [row] = await h.t.db.query<{ status: string }>('SELECT status FROM orders WHERE id = ?', [order.row.id]);
      assert.equal(row?.status, 'paid');
      assert.deepEqual(await h.balances(fan.id), { wallet: 50, held: 0, earnings: 0 });
    });

    it('20 concurrent buyers for 5 in stock: exactly 5 paid, 15 out_of_stock, stock 0', async () => {
      const limited = await makeProduct(h, { name: 'Limited print', priceDiamonds: 40, stock: 5 });
      const fans = await Promise.all(Array.from({ length: 20 }, () => h.fan({ allowance: 1000, balance: 100 })));
      const orders: Order[] = [];
      for (let i = 0; i < 20; i++) orders.push(await makeOrder(h, { lines: [{ productId: limited.id, quantity: 1 }] }));
      const creatorBefore = await h.balances(h.creator.id);
      const responses = await Promise.all(fans.map((fan, i) => pay(orders[i]!.id, fan)));
      const outcomes = await Promise.all(
        responses.map(async (r) => [r.status, ((await r.json()) as { error?: { code: string } }).error?.code]),
      );
      assert.equal(outcomes.filter(([status]) => status === 200).length, 5, JSON.stringify(outcomes));
      assert.equal(outcomes.filter(([status, code]) => status === 409 && code === 'out_of_stock').length, 15, JSON.stringify(outcomes));
      assert.equal(await stockOf(h, limited.id), 0);
      const wallets = await Promise.all(fans.map(async (fan) => (await h.balances(fan.id)).wallet));
      assert.equal(wallets.filter((w) => w === 60).length, 5);
      assert.equal(wallets.filter((w) => w === 100).length, 15);
      assert.equal((await h.balances(h.creator.id)).earnings - creatorBefore.earnings, 5 * 32);
      const paid = await h.t.db.query<{ status: string }>(
        `SELECT status FROM orders WHERE id IN (${orders.map(() => '?').join(', ')})`,
        orders.map((o) => o.id),
      );
      assert.equal(paid.filter((o) => o.status === 'paid').length, 5);
      assert.equal(paid.filter((o) => o.status === 'open').length, 15);
    });

    it('10 concurrent payments of one order by different fans and keys: one charge', async () => {
      const order = await makeOrder(h, { amountDiamonds: 25, description: 'Single' });
      const fans = await Promise.all(Array.from({ length: 10 }, () => h.fan({ allowance: 1000, balance: 25 })));
      const transfers = await h.transferCount();
      const responses = await Promise.all(fans.map((fan) => pay(order.id, fan)));
      const statuses = await Promise.all(
        responses.map(async (r) => [r.status, ((await r.json()) as { error?: { code: string } }).error?.code]),
      );
      assert.equal(statuses.filter(([status]) => status === 200).length, 1, JSON.stringify(statuses));
      assert.equal(statuses.filter(([, code]) => code === 'order_already_paid').length, 9);
      assert.equal(await h.transferCount(), transfers + 1);
      const wallets = await Promise.all(fans.map(async (fan) => (await h.balances(fan.id)).wallet));
      assert.equal(wallets.filter((w) => w === 0).length, 1);
    });
  });
}
