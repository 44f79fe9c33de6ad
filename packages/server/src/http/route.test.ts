import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { z } from 'zod';
import { newId } from '@diamonds/protocol';
import type { AppEnv } from '../context.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { declaredRoute, idParam, routesOn } from './route.js';

describe('routes declared once', () => {
  it('keep their spec on the handler, also behind a router with its own error handler', () => {
    const inner = new Hono<AppEnv>();
    const route = routesOn(inner);
    const spec = {
      method: 'get',
      path: '/things/{id}',
      operationId: 'getThing',
      summary: 'A thing.',
      tag: 'Things',
      auth: 'any',
      params: { id: idParam('gift', 'The thing.') },
      query: z.object({ n: z.coerce.number().int() }),
      responses: { 200: { description: 'The thing.' } },
    } as const;
    route(spec, (c, { params, query }) => c.json({ id: params.id, n: query.n }));
    // Hono wraps each handler of a router that has its own onError when it is mounted.
    inner.onError((error, c) => c.text(String(error), 418));
    const app = new Hono<AppEnv>();
    app.route('/v1', inner);
    const mounted = app.routes.filter((entry) => declaredRoute(entry.handler) !== undefined);
    assert.equal(mounted.length, 1, 'one handler carries the spec (not the middleware)');
    assert.equal(mounted[0]!.path, '/v1/things/:id');
    assert.equal(declaredRoute(mounted[0]!.handler)?.spec.operationId, 'getThing');
    assert.equal(declaredRoute(mounted[0]!.handler)?.route, '/things/:id');
  });

  it('refuse a fan route declared without what authenticates a fan', () => {
    const route = routesOn(new Hono<AppEnv>());
    assert.throws(
      () =>
        route(
          { method: 'get', path: '/x', operationId: 'x', summary: 'x', tag: 'x', auth: 'fan', responses: { 200: { description: 'x' } } },
          (c) => c.json({}),
        ),
      /route context/,
    );
  });
});

describe('a declared route checks its caller, then its ids, then its query, then its body', () => {
  let h: MoneyHarness;
  let fan: TestFan;

  before(async () => {
    h = await startMoneyHarness('sqlite');
    fan = await h.fan({ allowance: 100, balance: 100 });
  });
  after(() => h?.close());

  it('refuses the wrong caller before it looks at the id', async () => {
    // A secret key on a fan's route, a publishable key on a backend's route: whatever the id.
    await h.refused(await h.call('/confirmations/%00?waitMs=nope', { key: 'secret' }), 403, 'permission_denied');
    await h.refused(await h.call('/events/%00', { fan }), 403, 'permission_denied');
    await h.refused(await h.call('/confirmations/%00'), 401, 'authentication_required');
  });

  it('refuses a bad id before the query, and a bad query before the body', async () => {
    const badId = await h.refused(await h.call('/confirmations/cnf_nope?waitMs=nope', { fan }), 400, 'invalid_id');
    assert.equal(badId.param, 'id');
    const badQuery = await h.refused(await h.call(`/confirmations/${newId('cnf')}?waitMs=nope`, { fan }), 400, 'invalid_request');
    assert.equal(badQuery.param, 'waitMs');
    await h.refused(await h.call(`/confirmations/${newId('cnf')}`, { fan }), 404, 'confirmation_not_found');
    const poll = `/signin-requests/${newId('sir')}/poll`;
    await h.refused(await h.call('/signin-requests/sir_nope/poll', { body: { codeVerifier: 1 } }), 400, 'invalid_id');
    const badBody = await h.refused(await h.call(poll, { body: { codeVerifier: 1 } }), 400, 'invalid_request');
    assert.equal(badBody.param, 'codeVerifier');
  });

  it('answers a route’s own codes where its spec parses the input itself', async () => {
    const currency = await h.refused(await h.call('/topup-packs?currency=usd'), 400, 'invalid_currency');
    assert.equal(currency.param, 'currency');
    await h.refused(await h.call('/quotes', { body: { diamonds: 0, currency: 'USD' } }), 400, 'invalid_amount');
    await h.refused(await h.call('/rates/XXX/history'), 400, 'invalid_currency');
  });
});
