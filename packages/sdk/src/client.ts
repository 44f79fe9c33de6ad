import { Health } from '@diamonds/protocol';
import { Http } from './internal/http.js';

/**
 * The API base a client talks to when `apiBase` is not given: a platform started locally with
 * `diamonds start` on its default port.
 */
export const DEFAULT_API_BASE = 'http://localhost:8787';

/** How long one attempt waits for response headers, when `timeoutMs` is not given. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** How many times a safely failed request is retried, when `maxRetries` is not given. */
export const DEFAULT_MAX_RETRIES = 2;

/** The longest `Retry-After` the client waits out by itself before retrying. */
const MAX_RETRY_AFTER_MS = 10_000;

/** Options of {@link createDiamonds}. */
export interface DiamondsOptions {
  /**
   * The site's publishable key (`pk_…`). It identifies the site and may be used only from the
   * origins listed for it; it is safe to put in a page. Never pass a secret key (`sk_…`) here.
   */
  publishableKey: string;
  /**
   * Where the platform's API lives: its origin, plus a path if it is mounted under one.
   *
   * @defaultValue {@link DEFAULT_API_BASE}
   */
  apiBase?: string | undefined;
  /**
   * The BCP 47 locale for server messages (sent as `Accept-Language`) and for formatting in
   * the elements that use this client.
   *
   * @defaultValue the runtime's own locale
   */
  locale?: string | undefined;
  /**
   * The `fetch` to send requests with, for a runtime without one or to add tracing.
   *
   * @defaultValue the global `fetch`, looked up at each request
   */
  fetch?: typeof globalThis.fetch | undefined;
  /**
   * How long one attempt waits for response headers before it fails with code `timeout`.
   *
   * @defaultValue {@link DEFAULT_TIMEOUT_MS}
   */
  timeoutMs?: number | undefined;
  /**
   * How many times a request that failed safely (no response, a 5xx, a 429 with a short
   * `Retry-After`) is retried, with backoff. `0` turns retries off.
   *
   * @defaultValue {@link DEFAULT_MAX_RETRIES}
   */
  maxRetries?: number | undefined;
}

/** Options of one call on the client. */
export interface CallOptions {
  /** Cancels the call, retries included; the call then rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/**
 * A client of the Diamonds platform for one site: make it with {@link createDiamonds}.
 *
 * @remarks
 * Creating a client does no network work and touches no browser global, so it is safe at the
 * top of a module and in Node. Each call either resolves with data parsed by the protocol's
 * schemas or rejects with a {@link DiamondsError} subclass.
 */
export class DiamondsClient {
  /** The site's publishable key. */
  readonly publishableKey: string;
  /** The API base every request goes to, without a trailing slash. */
  readonly apiBase: string;
  /** The canonical locale given at creation, if any. */
  readonly locale: string | undefined;
  readonly #http: Http;

  /**
   * Checks the options and makes the client; {@link createDiamonds} is the usual way in.
   *
   * @throws TypeError when the key is missing or secret, or `apiBase` is not an http(s) URL.
   * @throws RangeError when `locale`, `timeoutMs` or `maxRetries` is out of range.
   */
  constructor(options: DiamondsOptions) {
    this.publishableKey = checkKey(options.publishableKey);
    this.apiBase = checkApiBase(options.apiBase ?? DEFAULT_API_BASE);
    this.locale = options.locale === undefined ? undefined : checkLocale(options.locale);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError(`createDiamonds: timeoutMs must be a positive whole number of milliseconds, not ${timeoutMs}.`);
    }
    const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    if (!Number.isInteger(maxRetries) || maxRetries < 0) {
      throw new RangeError(`createDiamonds: maxRetries must be a whole number, 0 or more, not ${maxRetries}.`);
    }
    const headers: Record<string, string> = {
      Accept: 'application/json',
      Authorization: `Bearer ${this.publishableKey}`,
    };
    if (this.locale !== undefined) headers['Accept-Language'] = this.locale;
    this.#http = new Http({
      apiBase: this.apiBase,
      headers,
      fetch: options.fetch,
      timeoutMs,
      maxRetries,
      maxRetryAfterMs: MAX_RETRY_AFTER_MS,
    });
  }

  /**
   * Asks the platform whether it is up (`GET /healthz`).
   *
   * @returns The platform's status, database kind, schema version and version.
   * @throws {@link DiamondsNetworkError} when the platform cannot be reached.
   * @throws {@link DiamondsApiError} when it answers with an error.
   * @throws {@link DiamondsSchemaError} when its answer is not a protocol `Health`.
   * @example
   * ```ts
   * const health = await client.health();
   * console.log(health.version, health.database);
   * ```
   */
  health(options: CallOptions = {}): Promise<Health> {
    return this.#http.request('get', 'healthz', Health, { signal: options.signal });
  }
}

/**
 * Makes a Diamonds client for one site.
 *
 * @remarks
 * Make one client per publishable key and share it; it holds no connection, and creating it
 * does no network work.
 *
 * @throws TypeError when the key is missing or secret, or `apiBase` is not an http(s) URL.
 * @throws RangeError when `locale`, `timeoutMs` or `maxRetries` is out of range.
 * @example
 * ```ts
 * import { createDiamonds } from '@diamonds/sdk';
 *
 * const diamonds = createDiamonds({ publishableKey: 'pk_test_123', apiBase: 'https://diamonds.example.com' });
 * const { status } = await diamonds.health();
 * ```
 */
export function createDiamonds(options: DiamondsOptions): DiamondsClient {
  return new DiamondsClient(options);
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key === '') {
    throw new TypeError('createDiamonds: publishableKey is required (it starts with "pk_").');
  }
  if (key.startsWith('sk_')) {
    throw new TypeError(
      "createDiamonds: that is a secret key (sk_…). Secret keys belong on your server, never in a page or a client; pass the site's publishable key (pk_…).",
    );
  }
  if (!key.startsWith('pk_')) {
    throw new TypeError('createDiamonds: publishableKey must start with "pk_".');
  }
  return key;
}

function checkApiBase(apiBase: string): string {
  let url: URL;
  try {
    url = new URL(apiBase);
  } catch (cause) {
    throw new TypeError(`createDiamonds: apiBase must be an absolute URL, not ${JSON.stringify(apiBase)}.`, { cause });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError(`createDiamonds: apiBase must be an http or https URL, not ${JSON.stringify(apiBase)}.`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new TypeError(`createDiamonds: apiBase may not carry a query or fragment: ${JSON.stringify(apiBase)}.`);
  }
  return url.href.replace(/\/+$/, '');
}

function checkLocale(locale: string): string {
  try {
    const [canonical] = Intl.getCanonicalLocales(locale);
    if (canonical !== undefined) return canonical;
  } catch {
    // Fall through to the error below.
  }
  throw new RangeError(`createDiamonds: locale must be a BCP 47 language tag such as "en-US", not ${JSON.stringify(locale)}.`);
}
