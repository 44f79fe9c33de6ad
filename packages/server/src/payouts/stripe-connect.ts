import { Hono, type Context } from 'hono';
import Stripe from 'stripe';
import { WebhookReceipt, isId, type PayoutProviderName } from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { publicBaseUrl, type AppContext, type AppEnv, type MoneySettings } from '../context.js';
import { ApiError } from '../errors.js';
import { routesOn } from '../http/route.js';
import { moneyOperation, type MoneyContext, type MoneyFeature } from '../money/operations.js';
import type { PayoutOnboarding } from '../pages/payouts.js';
import { verifyStripeWebhook } from '../payments/stripe.js';
import {
  findPayout,
  findPayoutByProviderRef,
  findPayoutMethod,
  settlePayoutOperation,
  updatePayoutMethodOperation,
  type PayoutMethod,
  type PayoutRecord,
} from './payouts.js';
import type { PayoutProvider, PayoutSubmission, SubmissionOutcome } from './provider.js';

/*
 * Stripe Connect (Express) payouts: a creator's payout method is an Express account of the
 * platform; a payout is a transfer from the platform's balance to that account, then a payout
 * from the account's balance to the creator's bank. Stripe reports the outcome later on the
 * Connect webhook (`payout.paid`, `payout.failed`), and the account's readiness with
 * `account.updated`. See docs/payouts-stripe.md.
 */

/** The Connect webhook's path under `/v1` (it is in `KEYLESS_API_PATHS`: Stripe signs it, no API key). */
export const STRIPE_CONNECT_WEBHOOK_PATH = '/payouts/stripe/webhook';

/** The largest Connect webhook body accepted: Stripe's events are a few KiB (an account is the largest). */
const MAX_WEBHOOK_BYTES = 256 * 1024;

/** The `provider` under which Connect events are recorded in `payment_events` (apart from top-ups' `stripe`). */
const EVENT_SOURCE = 'stripe_connect';

/** How to reach Stripe for Connect (see `Settings`). */
export interface StripeConnectOptions {
  /** The platform's secret key (`sk_…`): Connect calls are made by the platform. */
  secretKey: string;
  /** Another API address (`http://127.0.0.1:12111`): only tests use one, for a local stand-in. */
  apiBase?: string | undefined;
}

/** The Stripe client's connection options for an `apiBase` address. */
function connection(apiBase: string | undefined): Pick<Stripe.StripeConfig, 'host' | 'port' | 'protocol'> {
  if (apiBase === undefined) return {};
  const url = new URL(apiBase);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port || (protocol === 'http' ? 80 : 443), protocol };
}

function stripeClient(options: StripeConnectOptions): Stripe {
  return new Stripe(options.secretKey, {
    ...connection(options.apiBase),
    // The library retries network errors and 5xx with the same idempotency key; what still
    // fails is thrown and the payout processor tries again later.
    maxNetworkRetries: 1,
    timeout: 20_000,
    telemetry: false,
    appInfo: { name: 'Diamonds' },
  });
}

/**
 * Whether Stripe gave a definitive answer: the request was understood and refused (an account
 * that cannot receive payouts, the platform's balance too low). Anything else (unreachable,
 * 5xx, rate limit, a wrong key) is not an answer about this payout: it is tried again.
 */
function isDefinitive(error: unknown): error is Stripe.errors.StripeError {
  return error instanceof Stripe.errors.StripeInvalidRequestError || error instanceof Stripe.errors.StripeCardError;
}

/** The snake-case code a refusal is recorded with (Stripe's own when it gives one). */
function refusalCode(error: Stripe.errors.StripeError, fallback: string): string {
  const code = error.code ?? '';
  return /^[a-z][a-z0-9_]{0,63}$/.test(code) ? code : fallback;
}

/**
 * The Connect payout provider (`stripe`): a payout is a transfer of its amount to the creator's
 * Express account, then a payout of it from that account to their bank.
 *
 * @remarks Idempotent per payout, also beyond Stripe's 24-hour idempotency keys: the transfer
 * is looked up by its `transfer_group` (the payout's id) and the payout by its metadata before
 * either is made, and both are made with keys derived from the payout's id
 * (`payout-transfer-<po_id>`, `payout-<po_id>`). When Stripe refuses the payout after the
 * transfer was made, the transfer is reversed first, so the money is back on the platform
 * before the Diamonds go back to the creator.
 */
export class StripeConnectPayouts implements PayoutProvider {
  /** The provider's name, as payouts record it. */
  readonly name = 'stripe' as const;
  readonly #stripe: Stripe;

  /** A Stripe client for the platform's secret key (and, in tests, another API address). */
  constructor(options: StripeConnectOptions) {
    this.#stripe = stripeClient(options);
  }

  /**
   * Sends a payout: the transfer, then the payout on the connected account.
   *
   * @throws Error when Stripe cannot be reached or gives no definitive answer (the processor retries).
   */
  async submit(payout: PayoutSubmission): Promise<SubmissionOutcome> {
    const account = payout.accountRef;
    if (!account) {
      return {
        kind: 'refused',
        code: 'payout_method_not_ready',
        message: 'Your Stripe account is not set up yet: finish setting it up on the payouts page.',
      };
    }
    const amount = payout.amount.amountMinor;
    const currency = payout.amount.currency.toLowerCase();
    let transfer = await findTransfer(this.#stripe, payout.payoutId);
    if (!transfer) {
      try {
        transfer = await this.#stripe.transfers.create(
          { amount, currency, destination: account, transfer_group: payout.payoutId, metadata: { payout_id: payout.payoutId } },
          { idempotencyKey: `payout-transfer-${payout.payoutId}` },
        );
      } catch (error) {
        if (!isDefinitive(error)) throw error;
        console.warn(`[payouts] Stripe refused the transfer of ${payout.payoutId} to ${account}: ${error.message}`);
        if (error.code === 'balance_insufficient') {
          return {
            kind: 'refused',
            code: 'platform_balance_insufficient',
            message: 'The platform could not fund this payout right now; your Diamonds are back and you can try again later.',
          };
        }
        return {
          kind: 'refused',
          code: refusalCode(error, 'transfer_refused'),
          message: `Stripe refused the transfer to your account: ${error.message}`,
        };
      }
    }
    const existing = await findConnectedPayout(this.#stripe, account, payout.payoutId);
    if (existing) return { kind: 'accepted', providerRef: existing.id };
    try {
      const made = await this.#stripe.payouts.create(
        { amount, currency, metadata: { payout_id: payout.payoutId } },
        { stripeAccount: account, idempotencyKey: `payout-${payout.payoutId}` },
      );
      return { kind: 'accepted', providerRef: made.id };
    } catch (error) {
      if (!isDefinitive(error)) throw error;
      console.warn(`[payouts] Stripe refused the payout ${payout.payoutId} on ${account}: ${error.message}; reversing its transfer`);
      // The money is on the creator's Stripe balance: bring it back before their Diamonds are.
      await reverseTransfer(this.#stripe, transfer, payout.payoutId);
      return {
        kind: 'refused',
        code: refusalCode(error, 'payout_refused'),
        message: `Stripe refused the payout to your bank: ${error.message}`,
      };
    }
  }
}

/** The transfer made for a payout (its `transfer_group`), or `undefined`. */
async function findTransfer(stripe: Stripe, payoutId: string): Promise<Stripe.Transfer | undefined> {
  const found = await stripe.transfers.list({ transfer_group: payoutId, limit: 10 });
  return found.data.find((transfer) => transfer.metadata?.payout_id === payoutId);
}

/** The connected account's payout made for `payoutId` among its recent ones, or `undefined`. */
async function findConnectedPayout(stripe: Stripe, account: string, payoutId: string): Promise<Stripe.Payout | undefined> {
  const recent = await stripe.payouts.list({ limit: 100 }, { stripeAccount: account });
  return recent.data.find((made) => made.metadata?.payout_id === payoutId);
}

/**
 * Reverses what is left of a payout's transfer (once: a key derived from the payout's id, and
 * nothing is done when it is already reversed).
 *
 * @throws the Stripe error when the reversal fails: the caller must not give the Diamonds back.
 */
async function reverseTransfer(stripe: Stripe, transfer: Stripe.Transfer, payoutId: string): Promise<void> {
  const left = transfer.amount - transfer.amount_reversed;
  if (transfer.reversed || left <= 0) return;
  await stripe.transfers.createReversal(
    transfer.id,
    { amount: left, metadata: { payout_id: payoutId } },
    { idempotencyKey: `payout-reversal-${payoutId}` },
  );
}

/**
 * What a verified Connect event means for payouts.
 *
 * - `account`: an Express account's readiness (`payouts_enabled`).
 * - `payout`: a payout on a connected account was paid or failed; it names our payout by
 *   Stripe's id and by `metadata.payout_id`.
 */
export type ConnectReport =
  | { kind: 'account'; accountRef: string; payoutsEnabled: boolean }
  | {
      kind: 'payout';
      outcome: 'paid' | 'failed';
      providerRef: string;
      payoutId: string | null;
      accountRef: string;
      code: string;
      message: string;
    }
  | { kind: 'ignored'; reason: string };

/** Reads a verified Connect event: `account.updated`, `payout.paid`, `payout.failed`; anything else is ignored. */
export function interpretConnectEvent(event: Stripe.Event): ConnectReport {
  switch (event.type) {
    case 'account.updated': {
      const account = event.data.object;
      return { kind: 'account', accountRef: account.id, payoutsEnabled: account.payouts_enabled === true };
    }
    case 'payout.paid':
    case 'payout.failed': {
      // The platform's own payouts to its bank have no `account`: not a creator's.
      if (!event.account) return { kind: 'ignored', reason: 'a payout of the platform’s own balance' };
      const made = event.data.object;
      const payoutId = made.metadata?.payout_id;
      return {
        kind: 'payout',
        outcome: event.type === 'payout.paid' ? 'paid' : 'failed',
        providerRef: made.id,
        payoutId: isId('po', payoutId) ? payoutId : null,
        accountRef: event.account,
        code: made.failure_code ?? 'payout_failed',
        message: made.failure_message ?? 'Stripe could not pay this payout into your bank account.',
      };
    }
    default:
      return { kind: 'ignored', reason: `event type ${event.type} is not used` };
  }
}

/**
 * Our payout a Connect payout event is about: by Stripe's payout id, or (when the event comes
 * before the submission was recorded) by its metadata; only a Stripe payout to the account
 * that sent the event.
 */
async function payoutOfReport(db: SqlClient, report: Extract<ConnectReport, { kind: 'payout' }>): Promise<PayoutRecord | undefined> {
  const record =
    (await findPayoutByProviderRef(db, 'stripe', report.providerRef)) ??
    (report.payoutId ? await findPayout(db, report.payoutId) : undefined);
  if (!record || record.payout.provider !== 'stripe' || record.accountRef !== report.accountRef) return undefined;
  if (record.providerRef !== null && record.providerRef !== report.providerRef) return undefined;
  return record;
}

/** Input of {@link stripeConnectEventOperation}. */
export interface ConnectEventInput {
  eventId: string;
  type: string;
  report: ConnectReport;
  now: number;
}

/** What a Connect event did. */
export type ConnectEventOutcome = 'duplicate' | 'ignored' | 'method_updated' | 'settled';

/**
 * Applies a verified Connect event once: its id is claimed in `payment_events` (as
 * `stripe_connect`) in the same transaction as its effect, so a redelivery moves nothing.
 * `account.updated` makes the creator's Stripe method ready (or pending again); `payout.paid`
 * and `payout.failed` settle the payout (see `settlePayoutOperation`). Unknown accounts and
 * payouts are recorded as ignored.
 */
export const stripeConnectEventOperation = moneyOperation<ConnectEventInput, ConnectEventOutcome>(
  'payouts.stripeConnectEvent',
  async (tx, money, input) => {
    const claimed = await tx.run(
      `INSERT INTO payment_events (provider, event_id, type, topup_id, outcome, received_at) VALUES (?, ?, ?, NULL, 'received', ?)
       ON CONFLICT (provider, event_id) DO NOTHING`,
      [EVENT_SOURCE, input.eventId, input.type.slice(0, 100), input.now],
    );
    if (claimed === 0) return 'duplicate';
    const outcome = await applyConnectReport(tx, money, input);
    await tx.run('UPDATE payment_events SET outcome = ? WHERE provider = ? AND event_id = ?', [outcome, EVENT_SOURCE, input.eventId]);
    return outcome;
  },
);

async function applyConnectReport(
  tx: SqlClient,
  money: MoneyContext,
  { eventId, type, report, now }: ConnectEventInput,
): Promise<Exclude<ConnectEventOutcome, 'duplicate'>> {
  if (report.kind === 'ignored') return 'ignored';
  if (report.kind === 'account') {
    const method = await findMethodOfAccount(tx, report.accountRef);
    if (!method) {
      console.warn(
        `[payouts] Stripe event ${eventId} (${type}) is about account ${report.accountRef}, no creator's payout method: ignored`,
      );
      return 'ignored';
    }
    const status = report.payoutsEnabled ? 'ready' : 'pending';
    if (method.status === status) return 'ignored';
    await updatePayoutMethodOperation.run(tx, money, { creatorId: method.creatorId, status, now });
    return 'method_updated';
  }
  const record = await payoutOfReport(tx, report);
  if (!record) {
    console.warn(`[payouts] Stripe event ${eventId} (${type}) names payout ${report.providerRef} we did not make: ignored`);
    return 'ignored';
  }
  const before = record.payout.status;
  const settled = await settlePayoutOperation.run(
    tx,
    money,
    report.outcome === 'paid'
      ? { payoutId: record.payout.id, now, outcome: 'paid' }
      : { payoutId: record.payout.id, now, outcome: 'failed', code: report.code, message: report.message },
  );
  return settled.status === before ? 'ignored' : 'settled';
}

/** The Stripe payout method whose Express account is `accountRef`, or `undefined`. */
async function findMethodOfAccount(tx: SqlClient, accountRef: string): Promise<PayoutMethod | undefined> {
  const [row] = await tx.query<{ creator_id: string }>(
    `SELECT creator_id FROM payout_methods WHERE account_ref = ? AND provider = 'stripe'`,
    [accountRef],
  );
  return row ? findPayoutMethod(tx, row.creator_id, true) : undefined;
}

/** Input of {@link attachStripeAccountOperation}. */
export interface AttachStripeAccountInput {
  creatorId: string;
  accountRef: string;
  now: number;
}

/**
 * Records the Express account made for a creator's Stripe method, unless it already has one
 * (two clicks at once made the same account: Stripe's idempotency key is the creator's).
 * Returns the method as stored, or `undefined` when the creator's method is no longer Stripe.
 */
export const attachStripeAccountOperation = moneyOperation<AttachStripeAccountInput, PayoutMethod | undefined>(
  'payouts.attachStripeAccount',
  async (tx, _money, input) => {
    await tx.run(
      `UPDATE payout_methods SET account_ref = ?, updated_at = ? WHERE creator_id = ? AND provider = 'stripe' AND account_ref IS NULL`,
      [input.accountRef, input.now, input.creatorId],
    );
    const method = await findPayoutMethod(tx, input.creatorId);
    return method?.provider === 'stripe' ? method : undefined;
  },
);

/** Stripe Connect's part in the money path (see `features.ts`). */
export const stripeConnectMoney: MoneyFeature = {
  name: 'payouts.stripe',
  operations: [stripeConnectEventOperation, attachStripeAccountOperation],
};

/** Whether Connect payouts are on: `STRIPE_CONNECT_WEBHOOK_SECRET` is set (with `STRIPE_SECRET_KEY`, see `readSettings`). */
function connectOptions(settings: Partial<Pick<MoneySettings, 'stripeSecretKey' | 'stripeApiBase' | 'stripeConnectWebhookSecret'>>) {
  if (!settings.stripeConnectWebhookSecret || !settings.stripeSecretKey) return undefined;
  return { secretKey: settings.stripeSecretKey, apiBase: settings.stripeApiBase };
}

/**
 * The payout providers Stripe Connect adds: `{ stripe }` when Connect payouts are on (see
 * `stripeConnectWebhookSecret` in `Settings`), none otherwise. For `startPayouts`.
 */
export function stripeConnectProviders(
  settings: Partial<Pick<MoneySettings, 'stripeSecretKey' | 'stripeApiBase' | 'stripeConnectWebhookSecret'>>,
): Partial<Record<PayoutProviderName, PayoutProvider>> {
  const options = connectOptions(settings);
  return options ? { stripe: new StripeConnectPayouts(options) } : {};
}

/** The creator a Stripe onboarding is for. */
export interface OnboardingCreator {
  id: string;
  email: string;
}

/**
 * Starts (or resumes) a creator's Stripe onboarding: makes their Express account if their
 * Stripe method has none yet (once: Stripe's idempotency key is derived from the creator's id),
 * records it, and returns a fresh onboarding link that comes back to the payouts page.
 *
 * @throws {@link ApiError} `payment_provider_disabled` when Connect payouts are off,
 * `payout_method_not_ready` when the creator's method is not Stripe, `service_unavailable`
 * when Stripe cannot be reached or refuses (nothing is stored then).
 */
export async function startStripeOnboarding(context: AppContext, creator: OnboardingCreator, baseUrl: string): Promise<string> {
  const options = connectOptions(context.settings);
  if (!options) throw new ApiError('payment_provider_disabled', 'Stripe payouts are not configured on this platform.');
  const stripe = stripeClient(options);
  const method = await findPayoutMethod(context.db, creator.id);
  if (method?.provider !== 'stripe') {
    throw new ApiError('payout_method_not_ready', 'Choose Stripe as your payout account on the payouts page first.');
  }
  let accountRef = method.accountRef;
  try {
    if (!accountRef) {
      const account = await stripe.accounts.create(
        {
          type: 'express',
          email: creator.email,
          metadata: { creator_id: creator.id },
          capabilities: { transfers: { requested: true } },
          // The platform pays out each payout itself, when the creator asks: Stripe's automatic
          // schedule would empty the balance the platform's payout is made from.
          settings: { payouts: { schedule: { interval: 'manual' } } },
        },
        { idempotencyKey: `payout-account-${creator.id}` },
      );
      const stored = await context.writer.run(attachStripeAccountOperation, {
        creatorId: creator.id,
        accountRef: account.id,
        now: context.earnings.now(),
      });
      if (!stored?.accountRef) throw new ApiError('payout_method_not_ready', 'Your payout account changed meanwhile; choose Stripe again.');
      accountRef = stored.accountRef;
    }
    const page = `${baseUrl}/account/payouts`;
    const link = await stripe.accountLinks.create({ account: accountRef, type: 'account_onboarding', refresh_url: page, return_url: page });
    return link.url;
  } catch (error) {
    if (error instanceof ApiError) throw error;
    console.error(`[payouts] Stripe onboarding of ${creator.id} failed`, error);
    throw new ApiError('service_unavailable', 'Stripe did not answer. Nothing changed; try again in a moment.', { cause: error });
  }
}

/** The Stripe choice of the payouts page, when Connect payouts are on (else `undefined`). For `payoutPages`. */
export function stripeConnectOnboarding(context: AppContext): PayoutOnboarding | undefined {
  if (!connectOptions(context.settings)) return undefined;
  return {
    label: 'Stripe (bank account in your country)',
    provider: 'stripe',
    start: (c, session) => startStripeOnboarding(context, session.user, publicBaseUrl(c as unknown as Context<AppEnv>, context.settings)),
  };
}

/**
 * `/v1` route of Stripe Connect: the Connect webhook (keyless, raw body, verified signature).
 *
 * @remarks `payout.failed` first reverses the payout's transfer (the money is back on the
 * creator's Stripe balance, not the platform's), then gives the Diamonds back; when the
 * reversal fails the event is answered 503 and Stripe delivers it again.
 */
export function stripeConnectApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const route = routesOn(api, context);
  route(
    {
      method: 'post',
      path: STRIPE_CONNECT_WEBHOOK_PATH,
      operationId: 'receiveStripeConnectWebhook',
      summary: 'Stripe Connect’s webhook: creators’ Express accounts and their payouts. Called by Stripe only, signed, with no API key.',
      description:
        'The `Stripe-Signature` header is verified over the raw body with the Connect endpoint’s signing secret ' +
        '(`STRIPE_CONNECT_WEBHOOK_SECRET`), its timestamp within 300 s of the platform’s clock. Handled events: ' +
        '`account.updated` (a creator’s Stripe method is ready when `payouts_enabled`), `payout.paid` and `payout.failed` ' +
        '(the payout is paid, or fails and its Diamonds go back with Stripe’s reason). Each event id is processed once; ' +
        'events about accounts or payouts the platform does not know answer 200 with `ignored: true`.',
      tag: 'Payouts',
      auth: 'public',
      responses: {
        200: {
          description: 'Received (applied, ignored, or a duplicate).',
          schema: WebhookReceipt,
          example: { received: true, duplicate: false, ignored: false },
        },
      },
      errors: ['webhook_signature_invalid', 'payment_provider_disabled', 'payload_too_large', 'service_unavailable'],
    },
    async (c) => {
      const secret = context.settings.stripeConnectWebhookSecret;
      const options = connectOptions(context.settings);
      if (!secret || !options) {
        throw new ApiError(
          'payment_provider_disabled',
          'Stripe Connect payouts are not configured here: set STRIPE_CONNECT_WEBHOOK_SECRET.',
        );
      }
      const declared = Number(c.req.header('Content-Length') ?? '0');
      if (declared > MAX_WEBHOOK_BYTES)
        throw new ApiError('payload_too_large', `Webhook bodies are limited to ${MAX_WEBHOOK_BYTES} bytes.`);
      // The signature covers the exact bytes Stripe sent: read them raw.
      const raw = await c.req.text();
      if (Buffer.byteLength(raw) > MAX_WEBHOOK_BYTES)
        throw new ApiError('payload_too_large', `Webhook bodies are limited to ${MAX_WEBHOOK_BYTES} bytes.`);
      const event = verifyStripeWebhook(raw, c.req.header('Stripe-Signature'), secret);
      const report = interpretConnectEvent(event);
      if (report.kind === 'payout' && report.outcome === 'failed') await reclaimFailedPayout(context.db, options, report);
      const outcome = await context.writer.run(stripeConnectEventOperation, {
        eventId: event.id,
        type: event.type,
        report,
        now: context.earnings.now(),
      });
      const body: WebhookReceipt = { received: true, duplicate: outcome === 'duplicate', ignored: outcome === 'ignored' };
      return c.json(body);
    },
  );
  return api;
}

/**
 * Before a failed payout gives its Diamonds back: the money Stripe returned to the creator's
 * Express balance goes back to the platform (the payout's transfer is reversed). Nothing is
 * done for a payout we do not know or that already failed.
 *
 * @throws {@link ApiError} `service_unavailable` when the reversal cannot be made now (Stripe
 * delivers the event again later; the Diamonds stay in transit meanwhile).
 */
async function reclaimFailedPayout(
  db: SqlClient,
  options: StripeConnectOptions,
  report: Extract<ConnectReport, { kind: 'payout' }>,
): Promise<void> {
  const record = await payoutOfReport(db, report);
  if (!record || record.payout.status === 'failed' || record.payout.status === 'canceled') return;
  const stripe = stripeClient(options);
  try {
    const transfer = await findTransfer(stripe, record.payout.id);
    if (transfer) await reverseTransfer(stripe, transfer, record.payout.id);
    else console.warn(`[payouts] payout ${record.payout.id} failed at Stripe but has no transfer to reverse`);
  } catch (error) {
    console.error(
      `[payouts] could not reverse the transfer of failed payout ${record.payout.id}; Stripe will deliver the event again`,
      error,
    );
    throw new ApiError(
      'service_unavailable',
      'The transfer of this failed payout could not be reversed yet; deliver the event again later.',
      {
        cause: error,
      },
    );
  }
}
