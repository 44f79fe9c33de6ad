import { Http, type HttpMethod } from '../internal/http.js';
import type { ResponseSchema } from '../internal/schemas.js';
import { DiamondsUsageError } from './errors.js';
import { DEFAULT_JWKS_REFETCH_INTERVAL_MS, ReceiptKeys, verifyReceiptJwt, type VerifyReceiptOptions } from './receipts.js';
import type { ReceiptClaims } from '@diamonds/protocol';
import { ServerContent, ServerOrders, ServerProducts, ServerSales, type Requester } from './resources.js';
import { ServerEvents } from './events.js';
import { ServerWebhookEndpoints } from './webhook-endpoints.js';
import { ServerFund } from './fund.js';
import { ServerBoosts } from './boosts.js';
import { ServerCollaborations } from './collaborations.js';

/** The API base the server client talks to when `apiBase` is not given: a platform started locally. */
export const DEFAULT_SERVER_API_BASE = 'http://localhost:8787';

/** How long one attempt waits for response headers, when `timeoutMs` is not given. */
export const DEFAULT_SERVER_TIMEOUT_MS = 10_000;

/** How many times a safely failed request is retried, when `maxRetries` is not given. */
export const DEFAULT_SERVER_MAX_RETRIES = 2;

/** The longest `Retry-After` the client waits out by itself. */
const MAX_RETRY_AFTER_MS = 10_000;

const SITE_ID = /^site_[A-Za-z0-9]+$/;

/**
 * Options of {@link createDiamondsServer}.
 *
 * @example
 * ```ts
 * const options: DiamondsServerOptions = { secretKey: process.env.DIAMONDS_SECRET_KEY!, siteId: 'site_01JD3S9ZK4W8Q2V7C5XH6RTB0M' };
 * ```
 */
export interface DiamondsServerOptions {
  /**
   * The site's secret key (`sk_…`). Keep it on your server: it creates orders, refunds and
   * reads every sale. A publishable key (`pk_…`) is refused.
   */
  secretKey: string;
  /**
   * Your site's id (`site_…`): receipts must name it as their audience to verify. Without it
   * the client uses the site of the orders and content it has read, and refuses to check a
   * receipt before it has read any (see {@link DiamondsServer.verifyReceipt}).
   */
  siteId?: string | undefined;
  /**
   * Where the platform's API lives: its origin, plus a path if it is mounted under one.
   *
   * @defaultValue {@link DEFAULT_SERVER_API_BASE}
   */
  apiBase?: string | undefined;
  /**
   * The `fetch` to send requests with (tracing, a proxy agent, tests).
   *
   * @defaultValue the global `fetch`, looked up at each request
   */
  fetch?: typeof globalThis.fetch | undefined;
  /**
   * How long one attempt waits for response headers before it fails with code `timeout`.
   *
   * @defaultValue {@link DEFAULT_SERVER_TIMEOUT_MS}
   */
  timeoutMs?: number | undefined;
  /**
   * How many times a request that failed safely (no response, a 5xx, a 429 with a short
   * `Retry-After`) is retried, with backoff and the same `Idempotency-Key`. `0` turns retries off.
   *
   * @defaultValue {@link DEFAULT_SERVER_MAX_RETRIES}
   */
  maxRetries?: number | undefined;
  /**
   * The least time between two fetches of the key set for the same unknown `kid`.
   *
   * @defaultValue {@link DEFAULT_JWKS_REFETCH_INTERVAL_MS}
   */
  jwksRefetchIntervalMs?: number | undefined;
}

/**
 * The Diamonds client for a site's backend, made with {@link createDiamondsServer}: content,
 * products, orders, sales and receipt verification, with the site's secret key.
 *
 * @remarks
 * Every call resolves with data parsed by the protocol's schemas or rejects with a typed
 * `DiamondsError`. Every POST carries an `Idempotency-Key`, one per call, kept across retries.
 *
 * @example
 * ```ts
 * import { createDiamondsServer } from '@diamonds/sdk/server';
 *
 * const diamonds = createDiamondsServer({ secretKey: process.env.DIAMONDS_SECRET_KEY!, siteId: process.env.DIAMONDS_SITE_ID });
 * const order = await diamonds.orders.create({ amountDiamonds: 900, description: 'Custom portrait' });
 * ```
 */
export class DiamondsServer {
  /** Your content: publish, list, read, archive. */
  readonly content: ServerContent;
  /** Your shop's products. */
  readonly products: ServerProducts;
  /** Your shop's orders: create, read, list, cancel, refund. */
  readonly orders: ServerOrders;
  /** Your paid orders. */
  readonly sales: ServerSales;
  /** What committed on your site (gifts, unlocks, orders, confirmations), oldest first. */
  readonly events: ServerEvents;
  /** Where the platform posts your events, signed (see {@link verifyWebhook}). */
  readonly webhookEndpoints: ServerWebhookEndpoints;
  /** The creator fund: the score's rules, your running estimate and what you were paid. */
  readonly fund: ServerFund;
  /** Boosts of your content and products, with their impressions, clicks and conversions. */
  readonly boosts: ServerBoosts;
  /** Collaborations: invite creators, answer invitations, split your items' earnings with them. */
  readonly collaborations: ServerCollaborations;
  readonly #http: Http;
  readonly #keys: ReceiptKeys;
  readonly #siteId: string | undefined;
  #learnedSiteId: string | undefined;

  /** @internal Use {@link createDiamondsServer}. */
  constructor(options: DiamondsServerOptions) {
    const { secretKey } = checkOptions(options);
    this.#siteId = options.siteId;
    this.#http = new Http({
      apiBase: (options.apiBase ?? DEFAULT_SERVER_API_BASE).replace(/\/+$/, ''),
      headers: { Authorization: `Bearer ${secretKey}` },
      fetch: options.fetch,
      timeoutMs: options.timeoutMs ?? DEFAULT_SERVER_TIMEOUT_MS,
      maxRetries: options.maxRetries ?? DEFAULT_SERVER_MAX_RETRIES,
      maxRetryAfterMs: MAX_RETRY_AFTER_MS,
    });
    this.#keys = new ReceiptKeys(this.#http, options.jwksRefetchIntervalMs ?? DEFAULT_JWKS_REFETCH_INTERVAL_MS);
    const request: Requester = async (method, path, schema, callOptions = {}) => {
      const { signal, idempotencyKey, json, searchParams } = callOptions;
      // Http's method type has no 'patch' yet; ky sends it as given (no retry, no key: PATCH here sets fields, repeating it is harmless).
      const body = await this.#http.request(method as HttpMethod, path, schema as ResponseSchema<unknown>, {
        signal,
        idempotencyKey,
        json,
        searchParams,
      });
      this.#learnSite(body);
      return body as never;
    };
    this.content = new ServerContent(request);
    this.products = new ServerProducts(request);
    this.orders = new ServerOrders(request);
    this.sales = new ServerSales(this.orders);
    this.events = new ServerEvents(request);
    this.webhookEndpoints = new ServerWebhookEndpoints(request);
    this.fund = new ServerFund(request);
    this.boosts = new ServerBoosts(request);
    this.collaborations = new ServerCollaborations(request);
  }

  /**
   * Verifies a receipt (the JWT an order or unlock comes with) and returns what it says.
   *
   * @remarks
   * Checks, offline after the first call: the form; the ES256 signature against the platform's
   * published keys (`/.well-known/jwks.json`, cached in memory and fetched again when a receipt
   * names a key the cache lacks, as after a rotation; at most once per 30 s for the same unknown
   * key); the claims; that the receipt is for your site (`aud`); and, if you ask, its age.
   * It does not check what was bought: compare `subjectId` and `amountDiamonds` with what you
   * are about to hand over.
   *
   * @throws {@link ReceiptVerificationError} with a `reason` when the receipt must not be trusted.
   * @throws {@link DiamondsUsageError} `site_id_required` when the client does not know your site id yet.
   * @throws {@link DiamondsNetworkError} when the key set could not be fetched (not a verdict on the receipt).
   * @example
   * ```ts
   * // The shop's "thank you" page, after the fan paid with Diamonds:
   * app.post('/thank-you', async (req, res) => {
   *   const claims = await diamonds.verifyReceipt(req.body.receipt, { maxAgeMs: 15 * 60_000 });
   *   if (claims.kind !== 'order' || claims.subjectId !== req.session.orderId) return res.status(400).end();
   *   res.render('thank-you', { paidDiamonds: claims.amountDiamonds });
   * });
   * ```
   */
  async verifyReceipt(jwt: string, options: VerifyReceiptOptions = {}): Promise<ReceiptClaims> {
    if (options.siteId !== undefined && !SITE_ID.test(options.siteId)) {
      throw new DiamondsUsageError(`siteId must be a site id (site_…), not ${JSON.stringify(options.siteId)}.`, { code: 'invalid_option' });
    }
    return verifyReceiptJwt(jwt, this.#keys, {
      siteId: options.siteId ?? this.#siteId ?? this.#learnedSiteId,
      maxAgeMs: options.maxAgeMs,
      nowMs: Date.now(),
    });
  }

  /** Remembers the site of this key from a response that names it (orders, content, lists of them). */
  #learnSite(body: unknown): void {
    if (this.#learnedSiteId !== undefined || typeof body !== 'object' || body === null) return;
    const record = body as { siteId?: unknown; data?: unknown };
    const first: unknown = Array.isArray(record.data) ? record.data[0] : record;
    const siteId = typeof first === 'object' && first !== null ? (first as { siteId?: unknown }).siteId : undefined;
    if (typeof siteId === 'string' && SITE_ID.test(siteId)) this.#learnedSiteId = siteId;
  }
}

/**
 * Creates the server client for one site (see {@link DiamondsServer}).
 *
 * @remarks
 * Does no network work. Refuses, by throwing, a publishable key and any page: when `window` and
 * `document` both exist, the secret key would be readable by everyone who opens the page.
 * @throws {@link DiamondsUsageError} `publishable_key_not_allowed`, `invalid_secret_key`, `secret_key_in_browser` or `invalid_option`.
 * @example
 * ```ts
 * import { createDiamondsServer } from '@diamonds/sdk/server';
 *
 * export const diamonds = createDiamondsServer({
 *   secretKey: process.env.DIAMONDS_SECRET_KEY!,
 *   siteId: process.env.DIAMONDS_SITE_ID,
 *   apiBase: 'https://diamonds.example.com',
 * });
 * ```
 */
export function createDiamondsServer(options: DiamondsServerOptions): DiamondsServer {
  return new DiamondsServer(options);
}

/** Refuses options that can never work, before anything is sent. */
function checkOptions(options: DiamondsServerOptions): { secretKey: string } {
  if (typeof window !== 'undefined' && typeof document !== 'undefined') {
    throw new DiamondsUsageError(
      '@diamonds/sdk/server runs on your server only: in a page, anyone could read the secret key. Use createDiamonds from @diamonds/sdk with the publishable key there.',
      { code: 'secret_key_in_browser' },
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw new DiamondsUsageError('createDiamondsServer takes an options object with your secretKey.', { code: 'invalid_option' });
  }
  const { secretKey } = options;
  if (typeof secretKey === 'string' && /^pk_/.test(secretKey)) {
    throw new DiamondsUsageError('That is a publishable key (pk_…). The server client needs the site’s secret key (sk_…).', {
      code: 'publishable_key_not_allowed',
    });
  }
  if (typeof secretKey !== 'string' || !/^sk_(test|live)_[A-Za-z0-9]+$/.test(secretKey)) {
    throw new DiamondsUsageError('secretKey must be the site’s secret key: sk_test_… or sk_live_….', { code: 'invalid_secret_key' });
  }
  if (options.siteId !== undefined && (typeof options.siteId !== 'string' || !SITE_ID.test(options.siteId))) {
    throw new DiamondsUsageError(`siteId must be a site id (site_…), not ${JSON.stringify(options.siteId)}.`, { code: 'invalid_option' });
  }
  if (options.apiBase !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(options.apiBase);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new DiamondsUsageError(`apiBase must be an http(s) URL, not ${JSON.stringify(options.apiBase)}.`, { code: 'invalid_option' });
    }
  }
  checkWhole('timeoutMs', options.timeoutMs, 1, 10 * 60_000);
  checkWhole('maxRetries', options.maxRetries, 0, 10);
  checkWhole('jwksRefetchIntervalMs', options.jwksRefetchIntervalMs, 0, 24 * 60 * 60_000);
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new DiamondsUsageError('fetch must be a function.', { code: 'invalid_option' });
  }
  return { secretKey };
}

function checkWhole(name: string, value: unknown, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new DiamondsUsageError(`${name} must be a whole number from ${min} to ${max}, not ${String(value)}.`, { code: 'invalid_option' });
  }
}
