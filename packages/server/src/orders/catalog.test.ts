import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CheckoutOrder, MAX_TRANSFER_DIAMONDS, Order, OrderList, Product, ProductList } from '@diamonds/protocol';
import { createSite } from '../identity/sites.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, TEST_PAGE_ORIGIN, type MoneyHarness } from '../testing/money.js';
import { makeOrder, makeProduct } from './testing.js';

const BAD_AMOUNTS: readonly [unknown, string][] = [
  [0, 'invalid_amount'],
  [-1, 'invalid_amount'],
  [1.5, 'invalid_amount'],
  ['10', 'invalid_amount'],
  [2 ** 53 + 1, 'invalid_amount'],
  [null, 'invalid_amount'],
  [MAX_TRANSFER_DIAMONDS + 1, 'amount_too_large'],
];

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`products and orders on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let countOrders: () => Promise<number>;
    before(async () => {
      h = await startMoneyHarness(kind);
      countOrders = async () => Number((await h.t.db.query<{ n: number }>('SELECT count(*) AS n FROM orders'))[0]?.n ?? 0);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    it('creates, reads, lists and changes products with the secret key', async () => {
      const tee = await makeProduct(h, { name: '  T-shirt ', priceDiamonds: 250, stock: 3, imageUrl: 'https://shop.example/tee.png' });
      assert.equal(tee.name, 'T-shirt');
      assert.deepEqual({ price: tee.priceDiamonds, stock: tee.stock, active: tee.active }, { price: 250, stock: 3, active: true });
      const mug = await makeProduct(h, { name: 'Mug', priceDiamonds: 90 });
      assert.equal(mug.stock, null);

      const fetched = Product.parse(await (await h.call(`/products/${tee.id}`)).json());
      assert.deepEqual(fetched, tee);

      const changed = await h.call(`/products/${mug.id}`, { method: 'PATCH', key: 'secret', body: { priceDiamonds: 95, active: false } });
      assert.equal(changed.status, 200);
      assert.deepEqual(Product.parse(await changed.json()), { ...mug, priceDiamonds: 95, active: false });

      // The page sees products on sale; the backend sees all, in pages.
      const publicList = ProductList.parse(await (await h.call('/products')).json());
      assert.ok(publicList.data.some((p) => p.id === tee.id));
      assert.ok(!publicList.data.some((p) => p.id === mug.id));
      await h.refused(await h.call(`/products/${mug.id}`), 404, 'product_not_found');
      const first = ProductList.parse(await (await h.call('/products?limit=1', { key: 'secret' })).json());
      assert.equal(first.data[0]?.id, mug.id);
      assert.ok(first.hasMore && first.nextCursor);
      const second = ProductList.parse(await (await h.call(`/products?limit=1&cursor=${first.nextCursor}`, { key: 'secret' })).json());
      assert.equal(second.data[0]?.id, tee.id);
      await h.refused(await h.call('/products?cursor=bogus', { key: 'secret' }), 400, 'invalid_cursor');
    });

    it('refuses product changes without the secret key, and bad product input', async () => {
      const count = async () => Number((await h.t.db.query<{ n: number }>('SELECT count(*) AS n FROM products'))[0]?.n ?? 0);
      const before = await count();
      await h.refused(await h.call('/products', { body: { name: 'X', priceDiamonds: 5 } }), 403, 'permission_denied');
      await h.refused(
        await h.call('/products', { key: 'secret', origin: TEST_PAGE_ORIGIN, body: { name: 'X', priceDiamonds: 5 } }),
        403,
        'secret_key_in_browser',
      );
      for (const [price, code] of BAD_AMOUNTS) {
        await h.refused(await h.call('/products', { key: 'secret', body: { name: 'X', priceDiamonds: price } }), 400, code);
      }
      await h.refused(await h.call('/products', { key: 'secret', body: { name: 'X' } }), 400, 'invalid_request');
      const invalid: Record<string, unknown>[] = [
        { name: '', priceDiamonds: 5 },
        { name: 'X', priceDiamonds: 5, stock: -1 },
        { name: 'X', priceDiamonds: 5, stock: 1.5 },
        { name: 'X', priceDiamonds: 5, imageUrl: 'http://shop.example/x.png' },
        { name: 'X', priceDiamonds: 5, imageUrl: 'javascript:alert(1)' },
        { name: 'X\u0007', priceDiamonds: 5 },
        { name: 'X', priceDiamonds: 5, colour: 'red' },
      ];
      for (const body of invalid) await h.refused(await h.call('/products', { key: 'secret', body }), 400, 'invalid_request');
      const tee = await makeProduct(h, { priceDiamonds: 10 });
      await h.refused(await h.call(`/products/${tee.id}`, { method: 'PATCH', body: { stock: 1 } }), 403, 'permission_denied');
      await h.refused(await h.call(`/products/${tee.id}`, { method: 'PATCH', key: 'secret', body: {} }), 400, 'invalid_request');
      await h.refused(
        await h.call(`/products/${tee.id}`, { method: 'PATCH', key: 'secret', body: { priceDiamonds: 0 } }),
        400,
        'invalid_amount',
      );
      await h.refused(
        await h.call('/products/prod_00000000000000000000000000', { method: 'PATCH', key: 'secret', body: { stock: 1 } }),
        404,
        'product_not_found',
      );
      assert.equal(await count(), before + 1);
    });

    it('prices order lines from the products only, and keeps the shop’s reference and metadata', async () => {
      const tee = await makeProduct(h, { name: 'T-shirt', priceDiamonds: 250, stock: 10 });
      const mug = await makeProduct(h, { name: 'Mug', priceDiamonds: 90 });
      const order = await makeOrder(h, {
        lines: [
          { productId: tee.id, quantity: 2 },
          { productId: mug.id, quantity: 1 },
        ],
        reference: 'cart-1042',
        metadata: { customer: 'c_77', gift: true },
      });
      assert.equal(order.status, 'open');
      assert.equal(order.totalDiamonds, 590);
      assert.deepEqual(
        order.lines.map((l) => [l.productId, l.unitPriceDiamonds, l.quantity, l.amountDiamonds]),
        [
          [tee.id, 250, 2, 500],
          [mug.id, 90, 1, 90],
        ],
      );
      assert.equal(order.reference, 'cart-1042');
      assert.deepEqual(order.metadata, { customer: 'c_77', gift: true });
      // Creating an order takes no stock and moves nothing.
      assert.equal(Product.parse(await (await h.call(`/products/${tee.id}`)).json()).stock, 10);

      // A price in a line is refused outright: prices never come from the request.
      const count = await countOrders();
      await h.refused(
        await h.call('/orders', { key: 'secret', body: { lines: [{ productId: tee.id, quantity: 1, priceDiamonds: 1 }] } }),
        400,
        'invalid_request',
      );
      await h.refused(
        await h.call('/orders', { key: 'secret', body: { lines: [{ productId: tee.id, quantity: 1 }], amountDiamonds: 1 } }),
        400,
        'invalid_request',
      );
      assert.equal(await countOrders(), count);

      // A later price change does not alter the order.
      await h.call(`/products/${tee.id}`, { method: 'PATCH', key: 'secret', body: { priceDiamonds: 1 } });
      const read = Order.parse(await (await h.call(`/orders/${order.id}`, { key: 'secret' })).json());
      assert.equal(read.totalDiamonds, 590);
    });

    it('creates explicit-total orders', async () => {
      const order = await makeOrder(h, { amountDiamonds: 900, description: 'Custom portrait' });
      assert.equal(order.totalDiamonds, 900);
      assert.deepEqual(order.lines, [
        { productId: null, name: 'Custom portrait', unitPriceDiamonds: 900, quantity: 1, amountDiamonds: 900 },
      ]);
      assert.deepEqual(order.metadata, {});
      assert.equal(order.reference, null);
    });

    it('refuses every bad order and creates nothing', async () => {
      const tee = await makeProduct(h, { priceDiamonds: 250 });
      const big = await makeProduct(h, { priceDiamonds: MAX_TRANSFER_DIAMONDS });
      const otherSite = await createSite(h.t.db, { ownerId: h.creator.id, name: 'Other shop', origins: ['https://other.example'] });
      const foreign = await h.t.db.transaction(async (tx) => {
        const { createProduct } = await import('./orders.js');
        return createProduct(tx, otherSite.site.id, { name: 'Elsewhere', priceDiamonds: 5 });
      });
      const before = await countOrders();
      const transfers = await h.transferCount();
      for (const [amount, code] of BAD_AMOUNTS) {
        await h.refused(await h.call('/orders', { key: 'secret', body: { amountDiamonds: amount, description: 'x' } }), 400, code);
      }
      for (const quantity of [0, -1, 1.5, '2', 1001, 2 ** 53 + 1, null]) {
        await h.refused(
          await h.call('/orders', { key: 'secret', body: { lines: [{ productId: tee.id, quantity }] } }),
          400,
          'invalid_quantity',
        );
      }
      const notFound = await h.refused(
        await h.call('/orders', { key: 'secret', body: { lines: [{ productId: foreign.id, quantity: 1 }] } }),
        404,
        'product_not_found',
      );
      assert.equal(notFound.param, 'lines.0.productId');
      await h.refused(
        await h.call('/orders', { key: 'secret', body: { lines: [{ productId: 'prod_01JD3S9ZK4W8Q2V7C5XH6RTB0M', quantity: 1 }] } }),
        404,
        'product_not_found',
      );
      await h.refused(
        await h.call('/orders', { key: 'secret', body: { lines: [{ productId: big.id, quantity: 2 }] } }),
        400,
        'amount_too_large',
      );
      const invalid: Record<string, unknown>[] = [
        {},
        { lines: [] },
        { lines: [{ productId: 'nope', quantity: 1 }] },
        { amountDiamonds: 5 },
        { amountDiamonds: 5, description: '' },
        { amountDiamonds: 5, description: 'x'.repeat(201) },
        { amountDiamonds: 5, description: 'x', reference: 'r'.repeat(201) },
        { amountDiamonds: 5, description: 'x', metadata: { 'bad key': 1 } },
        { amountDiamonds: 5, description: 'x', metadata: 'nope' },
      ];
      for (const body of invalid) await h.refused(await h.call('/orders', { key: 'secret', body }), 400, 'invalid_request');
      await h.refused(
        await h.call('/orders', { key: 'secret', body: { amountDiamonds: 5, description: 'x' }, idempotencyKey: null }),
        400,
        'idempotency_key_required',
      );
      await h.refused(await h.call('/orders', { body: { amountDiamonds: 5, description: 'x' } }), 403, 'permission_denied');
      await h.refused(
        await h.call('/orders', { key: 'secret', origin: TEST_PAGE_ORIGIN, body: { amountDiamonds: 5, description: 'x' } }),
        403,
        'secret_key_in_browser',
      );
      assert.equal(await countOrders(), before);
      assert.equal(await h.transferCount(), transfers);
    });

    it('replays a creation retried with the same Idempotency-Key, and refuses the key for another body', async () => {
      const before = await countOrders();
      const first = await h.call('/orders', {
        key: 'secret',
        idempotencyKey: 'create-1',
        body: { amountDiamonds: 7, description: 'Sticker' },
      });
      const again = await h.call('/orders', {
        key: 'secret',
        idempotencyKey: 'create-1',
        body: { amountDiamonds: 7, description: 'Sticker' },
      });
      assert.equal(again.status, 201);
      assert.equal(again.headers.get('Idempotent-Replayed'), 'true');
      assert.deepEqual(await again.json(), await first.json());
      await h.refused(
        await h.call('/orders', { key: 'secret', idempotencyKey: 'create-1', body: { amountDiamonds: 8, description: 'Sticker' } }),
        422,
        'idempotency_key_reused',
      );
      assert.equal(await countOrders(), before + 1);
    });

    it('shows the checkout view to a fan and the full order to the shop; lists sales by status', async () => {
      const order = await makeOrder(h, {
        amountDiamonds: 40,
        description: 'Poster',
        reference: 'inv-9',
        metadata: { secret: 'shop only' },
      });
      const fan = await h.fan();
      const asFan = await h.call(`/orders/${order.id}`, { fan });
      assert.equal(asFan.status, 200);
      const checkout = (await asFan.json()) as Record<string, unknown>;
      assert.equal(checkout.metadata, undefined);
      assert.equal(checkout.reference, undefined);
      assert.equal(CheckoutOrder.parse(checkout).totalDiamonds, 40);
      // Signed out: what the checkout shows before sign-in, never the shop's reference or metadata.
      const signedOut = (await (await h.call(`/orders/${order.id}`)).json()) as Record<string, unknown>;
      assert.equal(signedOut.metadata, undefined);
      assert.equal(signedOut.reference, undefined);
      const view = CheckoutOrder.parse(signedOut);
      assert.deepEqual([view.status, view.totalDiamonds, view.lines.length, view.fanId, view.receipt], ['open', 40, 1, null, null]);
      await h.refused(await h.call('/orders/ord_00000000000000000000000000'), 404, 'order_not_found');
      const canceled = await makeOrder(h, { amountDiamonds: 3, description: 'Gone' });
      assert.equal((await h.call(`/orders/${canceled.id}/cancel`, { key: 'secret', body: {} })).status, 200);
      await h.refused(await h.call(`/orders/${canceled.id}`), 404, 'order_not_found');
      await h.refused(await h.call(`/orders/${order.id}`, { fan: { ...fan, token: 'dat_forged' } }), 401, 'invalid_token');
      await h.refused(await h.call('/orders/ord_00000000000000000000000000', { key: 'secret' }), 404, 'order_not_found');

      const list = OrderList.parse(await (await h.call('/orders?status=open&limit=2', { key: 'secret' })).json());
      assert.equal(list.data.length, 2);
      assert.equal(list.data[0]?.id, order.id);
      // Each listed order carries its own lines, as reading it alone does.
      for (const listed of list.data) {
        assert.deepEqual(listed.lines, Order.parse(await (await h.call(`/orders/${listed.id}`, { key: 'secret' })).json()).lines);
      }
      assert.ok(list.data.every((o) => o.status === 'open'));
      assert.ok(list.hasMore && list.nextCursor);
      const next = OrderList.parse(
        await (await h.call(`/orders?status=open&limit=100&cursor=${list.nextCursor}`, { key: 'secret' })).json(),
      );
      assert.ok(!next.data.some((o) => o.id === order.id || o.id === list.data[1]?.id));
      assert.equal(OrderList.parse(await (await h.call('/orders?status=paid', { key: 'secret' })).json()).data.length, 0);
      await h.refused(await h.call('/orders?status=lost', { key: 'secret' }), 400, 'invalid_request');
      await h.refused(await h.call('/orders', { fan }), 403, 'permission_denied');
    });

    it('cancels an open order so nobody can pay it', async () => {
      const order = await makeOrder(h, { amountDiamonds: 3, description: 'Badge' });
      const canceled = await h.call(`/orders/${order.id}/cancel`, { key: 'secret', body: {} });
      assert.equal(Order.parse(await canceled.json()).status, 'canceled');
      assert.equal((await h.call(`/orders/${order.id}/cancel`, { key: 'secret', body: {} })).status, 200);
      const fan = await h.fan({ allowance: 100, balance: 100 });
      const transfers = await h.transferCount();
      await h.refused(await h.call(`/orders/${order.id}/pay`, { fan, body: {} }), 409, 'order_canceled');
      assert.equal(await h.transferCount(), transfers);
      await h.refused(await h.call(`/orders/${order.id}/cancel`, { body: {} }), 403, 'permission_denied');
    });

    it('documents every route in the OpenAPI document', async () => {
      const doc = (await (await h.call('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
      for (const [path, method] of [
        ['/v1/products', 'post'],
        ['/v1/products', 'get'],
        ['/v1/products/{id}', 'get'],
        ['/v1/products/{id}', 'patch'],
        ['/v1/orders', 'post'],
        ['/v1/orders', 'get'],
        ['/v1/orders/{id}', 'get'],
        ['/v1/orders/{id}/pay', 'post'],
        ['/v1/orders/{id}/refund', 'post'],
        ['/v1/orders/{id}/cancel', 'post'],
      ] as const) {
        assert.ok(doc.paths[path]?.[method], `${method} ${path} is documented`);
      }
    });
  });
}
