import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import Stripe from 'stripe';
import { DAY_MS } from '../earnings/aggregates.js';
import { earningsSummary } from '../earnings/summary.js';
import { sendOk, signedInBrowser } from '../gifts/testing.js';
import { markEmailVerified } from '../identity/email-verification.js';
import { seedDefaultRates } from '../money/rates.js';
import { csrfOf } from '../pages/testing.js';
import { readSettings } from '../config.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { findPayout, findPayoutMethod, quotePayoutOperation, requestPayoutOperation, retryPayoutOperation } from './payouts.js';

const CONNECT_SECRET = 'whsec_test_connect';
const HOLD_MS = 7 * DAY_MS;
const MINIMUM = 100;

/** What the stand-in recorded of one API call. */
interface RecordedCall {
  method: string;
  path: string;
  query: URLSearchParams;
  form: URLSearchParams;
  idempotencyKey: string | undefined;
  stripeAccount: string | undefined;
  authorization: string | undefined;
  replayed: boolean;
}

/** An Express account as the stand-in keeps it. */
interface StandInAccount {
  id: string;
  email: string | null;
  metadata: Record<string, string>;
  payouts_enabled: boolean;
  transfers: 'active' | 'inactive';
  /** The account's available balance, in minor units (of any currency: the tests use one). */
  balance: number;
}

/** A Stripe-looking id: the prefix and 24 characters of base62. */
function stripeId(prefix: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return `${prefix}_1${[...randomBytes(23)].map((byte) => alphabet[byte % alphabet.length]).join('')}`;
}

/** Stripe's error body. */
function stripeError(type: string, message: string, code?: string): { status: number; body: unknown } {
  return { status: type === 'api_error' ? 500 : 400, body: { error: { type, message, ...(code ? { code } : {}) } } };
}

/**
 * A local stand-in for the Stripe API, as far as Connect payouts use it: form-encoded bodies,
 * Bearer key, `Idempotency-Key` (a repeat gets the stored answer with `Idempotent-Replayed`;
 * the same key with other parameters gets `idempotency_error`), `Stripe-Account` for calls on
 * a connected account, and the real objects' shapes (accounts, account links, transfers and
 * their reversals, payouts, lists).
 */
async function startConnectStandIn() {
  const calls: RecordedCall[] = [];
  const accounts = new Map<string, StandInAccount>();
  const transfers = new Map<string, Record<string, unknown> & { amount: number; amount_reversed: number; destination: string }>();
  const payouts = new Map<string, Record<string, unknown> & { account: string }>();
  const replies = new Map<string, { fingerprint: string; status: number; body: string }>();
  const state = { platformBalance: 1_000_000, down: false, downPaths: new Set<string>() };
  const now = () => Math.floor(Date.now() / 1000);

  const list = (url: string, data: unknown[]) => ({ object: 'list', url, has_more: false, data });

  function handle(req: IncomingMessage, path: string, query: URLSearchParams, form: URLSearchParams): { status: number; body: unknown } {
    const account = req.headers['stripe-account'] as string | undefined;
    if (req.headers.authorization !== 'Bearer sk_test_connect')
      return { status: 401, body: { error: { type: 'invalid_request_error', message: 'Invalid API Key provided.' } } };
    const reversal = /^\/v1\/transfers\/(tr_\w+)\/reversals$/.exec(path);
    if (req.method === 'POST' && path === '/v1/accounts') {
      if (form.get('type') !== 'express') return stripeError('invalid_request_error', 'Only Express accounts here.', 'parameter_invalid');
      const made: StandInAccount = {
        id: stripeId('acct'),
        email: form.get('email'),
        metadata: { creator_id: form.get('metadata[creator_id]') ?? '' },
        payouts_enabled: false,
        transfers: 'inactive',
        balance: 0,
      };
      accounts.set(made.id, made);
      return { status: 200, body: presentAccount(made) };
    }
    if (req.method === 'POST' && path === '/v1/account_links') {
      const id = form.get('account') ?? '';
      if (!accounts.has(id)) return stripeError('invalid_request_error', `No such account: '${id}'`, 'resource_missing');
      return {
        status: 200,
        body: {
          object: 'account_link',
          created: now(),
          expires_at: now() + 300,
          url: `https://connect.stripe.test/setup/e/${id}/${randomBytes(8).toString('hex')}`,
        },
      };
    }
    if (req.method === 'GET' && path === '/v1/transfers') {
      const group = query.get('transfer_group');
      return {
        status: 200,
        body: list('/v1/transfers', [...transfers.values()].filter((t) => !group || t.transfer_group === group).reverse()),
      };
    }
    if (req.method === 'POST' && path === '/v1/transfers') {
      const amount = Number(form.get('amount'));
      const destination = accounts.get(form.get('destination') ?? '');
      if (!destination)
        return stripeError('invalid_request_error', `No such destination: '${form.get('destination')}'`, 'resource_missing');
      if (destination.transfers !== 'active') {
        return stripeError(
          'invalid_request_error',
          'Your destination account needs to have at least one of the following capabilities enabled: transfers, crypto_transfers, legacy_payments',
          'insufficient_capabilities_for_transfer',
        );
      }
      if (amount > state.platformBalance) {
        return stripeError(
          'invalid_request_error',
          'You have insufficient available funds in your Stripe account.',
          'balance_insufficient',
        );
      }
      state.platformBalance -= amount;
      destination.balance += amount;
      const id = stripeId('tr');
      const transfer = {
        id,
        object: 'transfer',
        amount,
        amount_reversed: 0,
        currency: form.get('currency'),
        created: now(),
        destination: destination.id,
        livemode: false,
        metadata: { payout_id: form.get('metadata[payout_id]') ?? '' },
        reversals: { object: 'list', data: [], has_more: false, url: `/v1/transfers/${id}/reversals` },
        reversed: false,
        transfer_group: form.get('transfer_group'),
      };
      transfers.set(id, transfer);
      return { status: 200, body: transfer };
    }
    if (req.method === 'POST' && reversal) {
      const transfer = transfers.get(reversal[1]!);
      if (!transfer) return stripeError('invalid_request_error', `No such transfer: '${reversal[1]}'`, 'resource_missing');
      const amount = Number(form.get('amount') ?? transfer.amount - transfer.amount_reversed);
      const destination = accounts.get(transfer.destination)!;
      if (amount > transfer.amount - transfer.amount_reversed) {
        return stripeError('invalid_request_error', 'Refund amount is greater than the unreversed amount.', 'amount_too_large');
      }
      if (amount > destination.balance)
        return stripeError('invalid_request_error', 'Insufficient funds in the destination account.', 'balance_insufficient');
      destination.balance -= amount;
      state.platformBalance += amount;
      transfer.amount_reversed += amount;
      transfer.reversed = transfer.amount_reversed === transfer.amount;
      return {
        status: 200,
        body: {
          id: stripeId('trr'),
          object: 'transfer_reversal',
          amount,
          currency: transfer.currency,
          transfer: transfer.id,
          metadata: { payout_id: form.get('metadata[payout_id]') ?? '' },
        },
      };
    }
    if (path === '/v1/payouts') {
      const connected = account ? accounts.get(account) : undefined;
      if (!connected)
        return {
          status: 403,
          body: { error: { type: 'invalid_request_error', message: 'The provided key does not have access to account.' } },
        };
      if (req.method === 'GET') {
        return {
          status: 200,
          body: list(
            '/v1/payouts',
            [...payouts.values()]
              .filter((p) => p.account === connected.id)
              .map(presentPayout)
              .reverse(),
          ),
        };
      }
      const amount = Number(form.get('amount'));
      if (!connected.payouts_enabled) {
        return stripeError('invalid_request_error', 'Payouts have been disabled on this account.', 'payouts_not_allowed');
      }
      if (amount > connected.balance)
        return stripeError('invalid_request_error', 'You have insufficient funds in your Stripe account.', 'balance_insufficient');
      connected.balance -= amount;
      const made = {
        id: stripeId('po'),
        object: 'payout',
        account: connected.id,
        amount,
        arrival_date: now() + 2 * 86_400,
        automatic: false,
        created: now(),
        currency: form.get('currency'),
        destination: 'ba_1TestBankAccount000000000',
        failure_code: null,
        failure_message: null,
        livemode: false,
        metadata: { payout_id: form.get('metadata[payout_id]') ?? '' },
        method: 'standard',
        status: 'pending',
        type: 'bank_account',
      };
      payouts.set(made.id, made);
      return { status: 200, body: presentPayout(made) };
    }
    return {
      status: 404,
      body: { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${path}).` } },
    };
  }

  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      if (state.down || state.downPaths.has(`${req.method} ${url.pathname}`)) {
        // Unreachable: the connection drops without an answer.
        req.socket.destroy();
        return;
      }
      const form = new URLSearchParams(raw);
      const idempotencyKey = req.headers['idempotency-key'] as string | undefined;
      const stripeAccount = req.headers['stripe-account'] as string | undefined;
      const call: RecordedCall = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        form,
        idempotencyKey,
        stripeAccount,
        authorization: req.headers.authorization,
        replayed: false,
      };
      calls.push(call);
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Request-Id', `req_${randomBytes(7).toString('hex')}`);
      if (req.method === 'POST' && !/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] ?? '')) {
        res.statusCode = 400;
        res.end(JSON.stringify({ error: { type: 'invalid_request_error', message: 'Bodies must be form-encoded.' } }));
        return;
      }
      const scope = `${stripeAccount ?? ''}|${idempotencyKey ?? ''}`;
      const fingerprint = `${req.method} ${url.pathname} ${raw}`;
      const stored = req.method === 'POST' && idempotencyKey ? replies.get(scope) : undefined;
      if (stored) {
        call.replayed = true;
        if (stored.fingerprint !== fingerprint) {
          res.statusCode = 400;
          res.end(
            JSON.stringify({
              error: {
                type: 'idempotency_error',
                message: `Keys for idempotent requests can only be used with the same parameters they were first used with.`,
              },
            }),
          );
          return;
        }
        res.setHeader('Idempotent-Replayed', 'true');
        res.statusCode = stored.status;
        res.end(stored.body);
        return;
      }
      const answer = handle(req, url.pathname, url.searchParams, form);
      const body = JSON.stringify(answer.body);
      // Stripe keeps the result of a request that ran, errors included, for the key's 24 hours.
      if (req.method === 'POST' && idempotencyKey && answer.status < 500) replies.set(scope, { fingerprint, status: answer.status, body });
      res.statusCode = answer.status;
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    accounts,
    transfers,
    payouts,
    state,
    /** Forgets every idempotency key, as Stripe does after 24 hours. */
    forgetIdempotencyKeys() {
      replies.clear();
    },
    /** What Stripe does when the creator finishes onboarding: transfers and payouts enabled. */
    complete(accountId: string) {
      const account = accounts.get(accountId);
      assert.ok(account, `the stand-in made ${accountId}`);
      account.payouts_enabled = true;
      account.transfers = 'active';
      return presentAccount(account);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function presentAccount(account: StandInAccount): Record<string, unknown> {
  return {
    id: account.id,
    object: 'account',
    type: 'express',
    email: account.email,
    metadata: account.metadata,
    country: 'US',
    default_currency: 'usd',
    charges_enabled: false,
    details_submitted: account.payouts_enabled,
    payouts_enabled: account.payouts_enabled,
    capabilities: { transfers: account.transfers },
    settings: { payouts: { schedule: { interval: 'manual' } } },
  };
}

function presentPayout(payout: Record<string, unknown>): Record<string, unknown> {
  const { account: _account, ...rest } = payout;
  return rest;
}

type StandIn = Awaited<ReturnType<typeof startConnectStandIn>>;

let events = 0;

/** A Stripe Connect event as Stripe sends it: about `object`, on the connected `account`. */
function connectEvent(type: string, object: Record<string, unknown>, account: string | undefined, id?: string): Record<string, unknown> {
  return {
    id: id ?? `evt_1Connect${++events}${randomBytes(6).toString('hex')}`,
    object: 'event',
    api_version: Stripe.API_VERSION,
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    ...(account ? { account } : {}),
    data: { object },
  };
}

/** Delivers an event to the Connect webhook, signed (by default with the right secret, now). */
function deliver(h: MoneyHarness, event: Record<string, unknown>, options: { secret?: string; tamper?: boolean } = {}): Promise<Response> {
  const payload = JSON.stringify(event);
  const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: options.secret ?? CONNECT_SECRET });
  const body = options.tamper ? payload.replace('"failed"', '"paid"') : payload;
  return fetch(`${h.server.url}/v1/payouts/stripe/webhook`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Stripe-Signature': header },
    body,
  });
}

async function receipt(res: Response): Promise<{ received: boolean; duplicate: boolean; ignored: boolean }> {
  const body = (await res.json()) as { received: boolean; duplicate: boolean; ignored: boolean };
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

describe('Stripe Connect settings', () => {
  it('STRIPE_CONNECT_WEBHOOK_SECRET turns Connect payouts on, and needs STRIPE_SECRET_KEY', () => {
    assert.equal(readSettings({}).stripeConnectWebhookSecret, undefined);
    assert.equal(
      readSettings({ STRIPE_SECRET_KEY: 'sk_test_x', STRIPE_CONNECT_WEBHOOK_SECRET: ' whsec_x ' }).stripeConnectWebhookSecret,
      'whsec_x',
    );
    assert.throws(() => readSettings({ STRIPE_CONNECT_WEBHOOK_SECRET: 'whsec_x' }), /STRIPE_SECRET_KEY/);
  });
});

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`Stripe Connect payouts on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let stripe: StandIn;
    let offset = 0;
    const now = () => Date.now() + offset;
    let fans: TestFan[];
    const rules = () => ({ now: now(), holdMs: HOLD_MS, minimumDiamonds: MINIMUM });

    before(async () => {
      stripe = await startConnectStandIn();
      h = await startMoneyHarness(kind, {
        clock: now,
        earnings: { holdMs: HOLD_MS, releaseIntervalMs: 0 },
        payouts: { tickMs: 0, minimumDiamonds: MINIMUM },
        stripeSecretKey: 'sk_test_connect',
        stripeApiBase: stripe.url,
        stripeConnectWebhookSecret: CONNECT_SECRET,
      });
      await seedDefaultRates(h.t.db);
      fans = await Promise.all([0, 1, 2].map((i) => h.fan({ allowance: 1_000_000, balance: 100_000, name: `Fan ${i}` })));
    });
    beforeEach(() => {
      offset = 0;
      stripe.state.down = false;
      stripe.state.downPaths.clear();
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
      await stripe?.close();
    });

    const callsSince = (from: number) => stripe.calls.slice(from);
    const accountBalance = async (accountKind: string) => {
      const [row] = await h.t.db.query<{ balance: number | string }>('SELECT balance FROM accounts WHERE kind = ? AND owner_id IS NULL', [
        accountKind,
      ]);
      return Number(row?.balance ?? 0);
    };
    const available = async (creatorId: string) => (await earningsSummary(h.t.db, creatorId, now(), HOLD_MS)).availableDiamonds;

    /** Chooses Stripe on the payouts page as `creatorId`'s browser; returns where the page sent them. */
    async function chooseStripe(creatorId: string): Promise<string> {
      const browser = await signedInBrowser(h, { id: creatorId });
      const page = await browser.page('/account/payouts');
      assert.match(page, /Stripe \(bank account in your country\)/);
      const res = await browser.request('/account/payouts/method', { form: { csrf: csrfOf(page), method: 'stripe', currency: 'USD' } });
      assert.equal(res.status, 303, await res.text());
      return res.headers.get('Location') ?? '';
    }

    /** A creator listed on the site with 3 gifts of 200 (480 net), verified, onboarded on Stripe, ready. */
    async function onboardedCreator(): Promise<{ id: string; accountRef: string }> {
      const creator = await h.newCreator('Payee', { listed: true });
      for (let i = 0; i < 3; i++) await sendOk(h, fans[i]!, { creatorId: creator.id, giftId: 'cake', quantity: 2 }, 201);
      await markEmailVerified(h.t.db, creator.id);
      await chooseStripe(creator.id);
      const method = await findPayoutMethod(h.t.db, creator.id);
      assert.ok(method?.accountRef);
      await receipt(await deliver(h, connectEvent('account.updated', stripe.complete(method.accountRef), method.accountRef)));
      assert.equal((await findPayoutMethod(h.t.db, creator.id))?.status, 'ready');
      return { id: creator.id, accountRef: method.accountRef };
    }

    /** Quotes and confirms a payout of `diamonds` past the hold. */
    async function requestPayout(creatorId: string, diamonds: number) {
      offset = HOLD_MS + 1000;
      const quote = await h.server.writer.run(quotePayoutOperation, { creatorId, diamonds, ...rules() });
      return h.server.writer.run(requestPayoutOperation, { creatorId, quoteId: quote.id, ...rules() });
    }

    it('onboarding makes one Express account and a link back to the payouts page; a second click makes only a new link', async () => {
      const creator = await h.newCreator('Onboarding');
      const from = stripe.calls.length;
      const location = await chooseStripe(creator.id);
      assert.match(location, /^https:\/\/connect\.stripe\.test\/setup\/e\/acct_1\w+\//);
      const [made, link] = callsSince(from);
      assert.equal(made?.path, '/v1/accounts');
      assert.equal(made.authorization, 'Bearer sk_test_connect');
      assert.equal(made.idempotencyKey, `payout-account-${creator.id}`);
      assert.equal(made.form.get('type'), 'express');
      assert.match(made.form.get('email') ?? '', /@example\.com$/);
      assert.equal(made.form.get('metadata[creator_id]'), creator.id);
      assert.equal(made.form.get('capabilities[transfers][requested]'), 'true');
      assert.equal(made.form.get('settings[payouts][schedule][interval]'), 'manual');
      assert.equal(link?.path, '/v1/account_links');
      assert.equal(link.form.get('type'), 'account_onboarding');
      assert.equal(link.form.get('refresh_url'), `${h.server.url}/account/payouts`);
      assert.equal(link.form.get('return_url'), `${h.server.url}/account/payouts`);
      const method = await findPayoutMethod(h.t.db, creator.id);
      assert.equal(method?.provider, 'stripe');
      assert.equal(method.status, 'pending');
      assert.equal(method.accountRef, link.form.get('account'));
      assert.ok(stripe.accounts.has(method.accountRef ?? ''));

      // "Finish setting up with Stripe" again: the same account, a fresh link.
      const browser = await signedInBrowser(h, creator);
      const page = await browser.page('/account/payouts');
      assert.match(page, /Finish setting up with Stripe/);
      const again = stripe.calls.length;
      const res = await browser.request('/account/payouts/stripe/onboard', { form: { csrf: csrfOf(page) } });
      assert.equal(res.status, 303);
      assert.notEqual(res.headers.get('Location'), location);
      assert.deepEqual(
        callsSince(again).map((call) => [call.path, call.form.get('account')]),
        [['/v1/account_links', method.accountRef]],
      );
      assert.equal([...stripe.accounts.values()].filter((account) => account.metadata.creator_id === creator.id).length, 1);
    });

    it('account.updated makes the method ready when payouts are enabled, pending when they are not; once per event', async () => {
      const creator = await h.newCreator('Readiness');
      await chooseStripe(creator.id);
      const accountRef = (await findPayoutMethod(h.t.db, creator.id))?.accountRef ?? '';
      const account = stripe.accounts.get(accountRef)!;
      // Stripe's first update after creation: not yet.
      assert.deepEqual(await receipt(await deliver(h, connectEvent('account.updated', presentAccount(account), accountRef))), {
        received: true,
        duplicate: false,
        ignored: true,
      });
      assert.equal((await findPayoutMethod(h.t.db, creator.id))?.status, 'pending');
      const enabled = connectEvent('account.updated', stripe.complete(accountRef), accountRef);
      assert.deepEqual(await receipt(await deliver(h, enabled)), { received: true, duplicate: false, ignored: false });
      assert.equal((await findPayoutMethod(h.t.db, creator.id))?.status, 'ready');
      assert.equal((await receipt(await deliver(h, enabled))).duplicate, true);
      // Stripe disables payouts (documents expired): pending again.
      account.payouts_enabled = false;
      await receipt(await deliver(h, connectEvent('account.updated', presentAccount(account), accountRef)));
      assert.equal((await findPayoutMethod(h.t.db, creator.id))?.status, 'pending');
      // An account that is no creator's: acknowledged and ignored.
      const stranger = connectEvent(
        'account.updated',
        { ...presentAccount(account), id: 'acct_1Unknown00000000000000' },
        'acct_1Unknown00000000000000',
      );
      assert.equal((await receipt(await deliver(h, stranger))).ignored, true);
    });

    it('a payout is a transfer then a payout on the connected account, with idempotency keys of the payout; payout.paid settles it once', async () => {
      const creator = await onboardedCreator();
      const payout = await requestPayout(creator.id, 300);
      const from = stripe.calls.length;
      await h.server.payouts.runOnce();
      const calls = callsSince(from);
      assert.deepEqual(
        calls.map((call) => `${call.method} ${call.path}`),
        ['GET /v1/transfers', 'POST /v1/transfers', 'GET /v1/payouts', 'POST /v1/payouts'],
      );
      const [lookup, transfer, , made] = calls;
      assert.equal(lookup?.query.get('transfer_group'), payout.id);
      assert.equal(transfer?.idempotencyKey, `payout-transfer-${payout.id}`);
      assert.equal(transfer.stripeAccount, undefined, 'the transfer is made by the platform');
      assert.equal(transfer.form.get('amount'), '240');
      assert.equal(transfer.form.get('currency'), 'usd');
      assert.equal(transfer.form.get('destination'), creator.accountRef);
      assert.equal(transfer.form.get('transfer_group'), payout.id);
      assert.equal(transfer.form.get('metadata[payout_id]'), payout.id);
      assert.equal(made?.idempotencyKey, `payout-${payout.id}`);
      assert.equal(made.stripeAccount, creator.accountRef);
      assert.equal(made.form.get('amount'), '240');
      assert.equal(made.form.get('currency'), 'usd');
      assert.equal(made.form.get('metadata[payout_id]'), payout.id);

      const record = await findPayout(h.t.db, payout.id);
      assert.equal(record?.payout.status, 'in_transit');
      assert.ok(record.submittedAt);
      const stripePayout = [...stripe.payouts.values()].find((p) => (p.metadata as { payout_id: string }).payout_id === payout.id)!;
      assert.equal(record.providerRef, stripePayout.id);
      // Accepted: not submitted again.
      const quiet = stripe.calls.length;
      await h.server.payouts.runOnce();
      assert.equal(stripe.calls.length, quiet);

      const paidOut = await accountBalance('payouts');
      const paid = connectEvent('payout.paid', presentPayout({ ...stripePayout, status: 'paid' }), creator.accountRef);
      assert.deepEqual(await receipt(await deliver(h, paid)), { received: true, duplicate: false, ignored: false });
      assert.equal((await findPayout(h.t.db, payout.id))?.payout.status, 'paid');
      assert.equal((await accountBalance('payouts')) - paidOut, 300);
      const transfers = await h.transferCount();
      assert.equal((await receipt(await deliver(h, paid))).duplicate, true);
      // Another event saying the same (Stripe may send one again under a new id): nothing more.
      assert.equal((await receipt(await deliver(h, { ...paid, id: `${String(paid.id)}b` }))).ignored, true);
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await accountBalance('payouts')) - paidOut, 300);
    });

    it('payout.failed reverses the transfer and gives the Diamonds back with Stripe’s reason, once', async () => {
      const creator = await onboardedCreator();
      const free = await (async () => {
        offset = HOLD_MS + 1000;
        return available(creator.id);
      })();
      const payout = await requestPayout(creator.id, free);
      await h.server.payouts.runOnce();
      const stripePayout = [...stripe.payouts.values()].find((p) => (p.metadata as { payout_id: string }).payout_id === payout.id)!;
      const account = stripe.accounts.get(creator.accountRef)!;
      // The bank returns the money: Stripe puts it back on the connected account's balance.
      account.balance += stripePayout.amount as number;
      const platformBefore = stripe.state.platformBalance;
      const failed = connectEvent(
        'payout.failed',
        presentPayout({
          ...stripePayout,
          status: 'failed',
          failure_code: 'account_closed',
          failure_message: 'The bank account has been closed.',
        }),
        creator.accountRef,
      );
      const from = stripe.calls.length;
      assert.deepEqual(await receipt(await deliver(h, failed)), { received: true, duplicate: false, ignored: false });
      const reversal = callsSince(from).find((call) => call.path.endsWith('/reversals'));
      assert.equal(reversal?.idempotencyKey, `payout-reversal-${payout.id}`);
      assert.equal(stripe.state.platformBalance - platformBefore, stripePayout.amount);
      assert.equal(account.balance, 0);
      const record = await findPayout(h.t.db, payout.id);
      assert.equal(record?.payout.status, 'failed');
      assert.deepEqual(record.payout.failure, { code: 'account_closed', message: 'The bank account has been closed.' });
      offset = HOLD_MS + 1000;
      assert.equal(await available(creator.id), free);
      assert.equal(await accountBalance('payouts_in_transit'), 0);

      const transfers = await h.transferCount();
      const again = stripe.calls.length;
      assert.equal((await receipt(await deliver(h, failed))).duplicate, true);
      assert.equal((await receipt(await deliver(h, { ...failed, id: `${String(failed.id)}b` }))).ignored, true);
      assert.equal(await h.transferCount(), transfers);
      assert.equal(stripe.calls.slice(again).filter((call) => call.method === 'POST').length, 0, 'no second reversal');
      assert.equal(await available(creator.id), free);
    });

    it('Stripe refuses: the account cannot receive payouts (transfer reversed) or the platform balance is short: failed, Diamonds back', async () => {
      const creator = await onboardedCreator();
      // Stripe disabled payouts, and its event has not come yet: the method still reads ready.
      stripe.accounts.get(creator.accountRef)!.payouts_enabled = false;
      const platformBefore = stripe.state.platformBalance;
      const first = await requestPayout(creator.id, 200);
      await h.server.payouts.runOnce();
      let record = await findPayout(h.t.db, first.id);
      assert.equal(record?.payout.status, 'failed');
      assert.equal(record.payout.failure?.code, 'payouts_not_allowed');
      assert.match(record.payout.failure?.message ?? '', /Stripe refused/);
      assert.equal(stripe.state.platformBalance, platformBefore, 'the transfer was reversed');
      assert.equal(stripe.accounts.get(creator.accountRef)!.balance, 0);
      stripe.accounts.get(creator.accountRef)!.payouts_enabled = true;

      stripe.state.platformBalance = 10;
      const second = await requestPayout(creator.id, 200);
      await h.server.payouts.runOnce();
      record = await findPayout(h.t.db, second.id);
      assert.equal(record?.payout.status, 'failed');
      assert.equal(record.payout.failure?.code, 'platform_balance_insufficient');
      assert.doesNotMatch(record.payout.failure?.message ?? '', /Stripe account/, 'the platform’s balance is not the creator’s business');
      stripe.state.platformBalance = platformBefore;
      offset = HOLD_MS + 1000;
      assert.equal(await available(creator.id), 480);
      assert.equal(await accountBalance('payouts_in_transit'), 0);
    });

    it('Stripe unreachable: the payout stays in transit and is retried; a transfer already made is not made twice, even a day later', async () => {
      const creator = await onboardedCreator();
      stripe.state.down = true;
      const payout = await requestPayout(creator.id, 200);
      await h.server.payouts.runOnce();
      let record = await findPayout(h.t.db, payout.id);
      assert.equal(record?.payout.status, 'in_transit');
      assert.equal(record.submittedAt, null);
      assert.ok(record.lastError);
      assert.equal(stripe.transfers.size > 0 && [...stripe.transfers.values()].some((t) => t.transfer_group === payout.id), false);

      // Back, but the payout call fails after the transfer went through.
      stripe.state.down = false;
      stripe.state.downPaths.add('POST /v1/payouts');
      await h.server.writer.run(retryPayoutOperation, { payoutId: payout.id, now: now() });
      await h.server.payouts.runOnce();
      record = await findPayout(h.t.db, payout.id);
      assert.equal(record?.payout.status, 'in_transit');
      assert.equal(record.submittedAt, null);
      assert.equal([...stripe.transfers.values()].filter((t) => t.transfer_group === payout.id).length, 1);

      stripe.state.downPaths.clear();
      // A day later: Stripe no longer knows the keys; the transfer is found by its group.
      stripe.forgetIdempotencyKeys();
      await h.server.writer.run(retryPayoutOperation, { payoutId: payout.id, now: now() });
      await h.server.payouts.runOnce();
      record = await findPayout(h.t.db, payout.id);
      assert.ok(record?.submittedAt, record?.lastError ?? '');
      assert.equal([...stripe.transfers.values()].filter((t) => t.transfer_group === payout.id).length, 1, 'one transfer');
      assert.equal(
        [...stripe.payouts.values()].filter((p) => (p.metadata as { payout_id: string }).payout_id === payout.id).length,
        1,
        'one payout',
      );
      const made = [...stripe.payouts.values()].find((p) => (p.metadata as { payout_id: string }).payout_id === payout.id)!;
      await receipt(await deliver(h, connectEvent('payout.paid', presentPayout({ ...made, status: 'paid' }), creator.accountRef)));
      assert.equal((await findPayout(h.t.db, payout.id))?.payout.status, 'paid');
    });

    it('refuses a forged or tampered delivery with 400 webhook_signature_invalid; nothing moves', async () => {
      const creator = await onboardedCreator();
      const payout = await requestPayout(creator.id, 200);
      await h.server.payouts.runOnce();
      const made = [...stripe.payouts.values()].find((p) => (p.metadata as { payout_id: string }).payout_id === payout.id)!;
      const transfers = await h.transferCount();
      const failed = connectEvent(
        'payout.failed',
        presentPayout({ ...made, status: 'failed', failure_code: 'account_closed' }),
        creator.accountRef,
      );
      await h.refused(await deliver(h, failed, { secret: 'whsec_forged' }), 400, 'webhook_signature_invalid');
      await h.refused(await deliver(h, failed, { tamper: true }), 400, 'webhook_signature_invalid');
      const unsigned = await fetch(`${h.server.url}/v1/payouts/stripe/webhook`, { method: 'POST', body: JSON.stringify(failed) });
      await h.refused(unsigned, 400, 'webhook_signature_invalid');
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await findPayout(h.t.db, payout.id))?.payout.status, 'in_transit');
      assert.equal(stripe.accounts.get(creator.accountRef)!.balance, 0, 'no reversal either');
      await receipt(await deliver(h, connectEvent('payout.paid', presentPayout({ ...made, status: 'paid' }), creator.accountRef)));
    });

    it('acknowledges and ignores payouts it did not make, of another account, or of the platform itself', async () => {
      const creator = await onboardedCreator();
      const payout = await requestPayout(creator.id, 200);
      await h.server.payouts.runOnce();
      const made = [...stripe.payouts.values()].find((p) => (p.metadata as { payout_id: string }).payout_id === payout.id)!;
      const transfers = await h.transferCount();
      const unknown = { ...presentPayout(made), id: 'po_1Unknown000000000000000', metadata: {} };
      assert.equal((await receipt(await deliver(h, connectEvent('payout.paid', unknown, creator.accountRef)))).ignored, true);
      // Our payout named by another connected account.
      assert.equal(
        (await receipt(await deliver(h, connectEvent('payout.paid', presentPayout(made), 'acct_1Other0000000000000000')))).ignored,
        true,
      );
      // The platform's own payout to its bank (no `account`).
      assert.equal((await receipt(await deliver(h, connectEvent('payout.failed', presentPayout(made), undefined)))).ignored, true);
      assert.equal(
        (await receipt(await deliver(h, connectEvent('balance.available', { object: 'balance' }, creator.accountRef)))).ignored,
        true,
      );
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await findPayout(h.t.db, payout.id))?.payout.status, 'in_transit');
      await receipt(await deliver(h, connectEvent('payout.paid', presentPayout({ ...made, status: 'paid' }), creator.accountRef)));
    });
  });
}
