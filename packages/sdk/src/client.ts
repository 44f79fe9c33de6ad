import type { CurrencyCode, Fan, Health as HealthType, Me as MeType, Quote as QuoteType, Rate, TopUp, TopUpPack } from '@diamonds/protocol';
import { createWalletStore, type WalletStore } from './money/wallet.js';
import { Auth } from './internal/auth.js';
import { topUp, type TopUpParams } from './money/topup.js';
import { ContentResource } from './money/content.js';
import { OrdersResource } from './money/orders.js';
import { atom, type ReadableAtom } from 'nanostores';
import { checkWhole, Http, need } from './internal/http.js';
import { PopupBlockedError } from './errors.js';
import { GiftsResource } from './money/gifts.js';
import { Health, RateList } from './internal/platform-schemas.js';
import { Me, Quote, TopUpPackList } from './internal/schemas.js';
import type { Money, SpendOptions } from './money/spend.js';
import { closePopup, openPopup, type StorageOption } from './internal/browser.js';
import { DEFAULT_POLL_WAIT_MS, runSignIn } from './internal/signin.js';
import type { Allowance, PendingConfirmation, Session } from './stores.js';

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
  /**
   * Where the fan's sign-in is kept between page loads.
   *
   * - `'memory'` (the default): nowhere; a reload signs the fan out. The safest choice.
   * - `'local'`: the refresh token (never the access token) goes to `localStorage`, under a key
   *   per publishable key, so the fan stays signed in across reloads and tabs, and a sign-in,
   *   refresh or sign-out in one tab reaches the others.
   * - `'session'`: the same in `sessionStorage`: survives reloads of this tab only.
   * - a Storage-like object (`getItem`, `setItem`, `removeItem`) of your own.
   *
   * @remarks
   * The trade-off: any script on your page (yours, a third party's, or one injected through an
   * XSS hole) can read localStorage and take the refresh token away to use it from the same
   * origin. What it can do with it is bounded by the allowance the fan gave your site: anything
   * more needs the fan's confirmation on the platform's own page. With `'memory'` a script can
   * still use the token while the page is open, but not keep it. Choose `'local'` when staying
   * signed in matters more than that residual risk, and keep a strict Content-Security-Policy.
   *
   * @defaultValue `'memory'`
   */
  storage?: StorageOption | undefined;
  /** The clock tokens expire by, for tests. @internal */
  clock?: (() => number) | undefined;
  /** How long each sign-in long poll waits on the server, for tests. @internal */
  pollWaitMs?: number | undefined;
}

/** Options of one call on the client. */
export interface CallOptions {
  /** Cancels the call, retries included; the call then rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/**
 * The core of a {@link DiamondsClient}: sign-in, the fan's wallet and top-ups, without what
 * {@link DiamondsClient} adds: the money resources (`gifts`, `content`, `orders`), `health()`,
 * `rates()` and `quote()`.
 *
 * @remarks
 * Every `DiamondsClient` is one, so code that needs only the core (the Diamonds elements, for
 * one) takes either. Made alone (`new DiamondsClientCore(options)`), it leaves the resources'
 * code out of a bundle. Creating one does no network work and touches no browser global.
 */
export class DiamondsClientCore {
  // The fields are `declare`d: each is set once, in the constructor, and a class field would
  // only repeat every name in the bundle.
  /** The site's publishable key. */
  declare readonly publishableKey: string;
  /** The API base every request goes to, without a trailing slash. */
  declare readonly apiBase: string;
  /** The canonical locale given at creation, if any. */
  declare readonly locale: string | undefined;
  /**
   * The fan's sign-in, as a nanostores atom: read it with `.get()`, follow it with `.subscribe()`
   * or your framework's nanostores binding.
   *
   * @remarks With `storage: 'local'` the first subscriber (or call) restores a kept sign-in, and
   * changes made in other tabs of the site arrive here too.
   * @example
   * ```ts
   * const unsubscribe = client.session.subscribe(({ status, fan }) => {
   *   greeting.textContent = status === 'signed_in' ? `Signed in as ${fan?.displayName}` : '';
   * });
   * ```
   */
  declare readonly session: ReadableAtom<Session>;
  /**
   * What the fan lets this site spend per day without asking, and what is left; `null` until
   * known (signed out, or before {@link DiamondsClient.me} answered).
   *
   * @example
   * ```ts
   * const left = client.allowance.get()?.remaining ?? 0;
   * ```
   */
  declare readonly allowance: ReadableAtom<Allowance | null>;
  /**
   * The fan's wallet: a store of {@link WalletState} (`idle` until the first refresh, then
   * `ready` with the balances), with {@link WalletActions.refresh} and the history iterator
   * {@link WalletActions.history}. Every spend and top-up refreshes it when it ends.
   *
   * @example
   * ```ts
   * client.wallet.subscribe((wallet) => {
   *   if (wallet.status === 'ready') badge.textContent = String(wallet.balanceDiamonds);
   * });
   * await client.wallet.refresh();
   * for await (const entry of client.wallet.history({ limit: 20 })) console.log(entry.description);
   * ```
   */
  declare readonly wallet: WalletStore;
  /**
   * The spends waiting for the fan's answer in a confirmation popup opened by this client:
   * added when the popup shows the confirmation, removed when the spend settles.
   *
   * @example
   * ```ts
   * client.confirmations.subscribe((pending) => (notice.hidden = pending.length === 0));
   * ```
   */
  readonly confirmations: ReadableAtom<readonly PendingConfirmation[]> = atom<readonly PendingConfirmation[]>([]);
  /** What the money resources share with the client. @internal */
  declare readonly money: Money;
  #signingIn: { promise: Promise<Fan>; popup: { focus?(): void } } | undefined;

  /**
   * Checks the options and makes the client; {@link createDiamonds} is the usual way in.
   *
   * @throws TypeError when the key is missing or secret, or `apiBase` is not an http(s) URL.
   * @throws RangeError when `locale`, `timeoutMs` or `maxRetries` is out of range.
   * @throws TypeError when `storage` is not one of its choices.
   */
  constructor(options: DiamondsOptions) {
    this.publishableKey = checkKey(options.publishableKey);
    this.apiBase = checkApiBase(options.apiBase ?? DEFAULT_API_BASE);
    this.locale = options.locale === undefined ? undefined : checkLocale(options.locale);
    const timeoutMs = checkWhole('createDiamonds: timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 1);
    const maxRetries = checkWhole('createDiamonds: maxRetries', options.maxRetries ?? DEFAULT_MAX_RETRIES, 0);
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.publishableKey}`,
    };
    if (this.locale !== undefined) headers['Accept-Language'] = this.locale;
    const http = new Http({
      apiBase: this.apiBase,
      headers,
      queryKey: this.publishableKey,
      fetch: options.fetch,
      timeoutMs,
      maxRetries,
      maxRetryAfterMs: MAX_RETRY_AFTER_MS,
    });
    const auth = new Auth({
      http,
      publishableKey: this.publishableKey,
      storage: checkStorage(options.storage ?? 'memory'),
      clock: options.clock ?? Date.now,
    });
    this.session = auth.session;
    this.allowance = auth.allowance;
    const wallet = createWalletStore(auth, `diamonds:wallet:${this.publishableKey}`);
    this.wallet = wallet;
    this.money = {
      http,
      auth,
      wallet,
      confirmations: this.confirmations as Money['confirmations'],
      pollWaitMs: options.pollWaitMs ?? DEFAULT_POLL_WAIT_MS,
      // After a spend or top-up: this tab reads the new balance, the site's other tabs follow.
      refreshWallet: () =>
        wallet.refresh().then(
          () => wallet.announce(),
          () => undefined,
        ),
    };
  }

  /**
   * Signs a fan in through the platform's popup, where they sign in and choose what this site
   * may spend without asking.
   *
   * @remarks
   * Call it straight from a click handler: the popup opens before anything is awaited, so popup
   * blockers let it through. The sign-in is bound to this window: the platform's popup hands a
   * one-time code to this page only (by `postMessage` to your site's registered origin), and the
   * SDK exchanges it, with its PKCE verifier, for tokens bound to this browser by DPoP (a
   * non-extractable key kept in IndexedDB). While it runs the session is `signing_in`; a second
   * call meanwhile focuses the open popup and returns the same promise.
   *
   * @returns The signed-in fan; {@link DiamondsClient.session} and
   * {@link DiamondsClient.allowance} are up to date when it resolves.
   * @throws {@link PopupBlockedError} when the browser refused to open the popup (or there is none, as in Node).
   * @throws {@link PopupClosedError} when the fan closed the popup before it handed the sign-in
   * back, or the browser cut this page off from it (an opener policy): call `signIn()` again.
   * @throws {@link SignInDeniedError} when the fan declined.
   * @throws {@link SignInExpiredError} when the fan did not answer in time.
   * @throws {@link DiamondsApiError} or {@link DiamondsNetworkError} when the platform refused or could not be reached.
   * @example
   * ```ts
   * button.addEventListener('click', async () => {
   *   try {
   *     const fan = await client.signIn();
   *     console.log(`Welcome, ${fan.displayName}`);
   *   } catch (error) {
   *     if (!isDiamondsOutcomeError(error)) throw error; // the fan's own choice is no failure
   *   }
   * });
   * ```
   */
  signIn(options: CallOptions = {}): Promise<Fan> {
    if (this.#signingIn) {
      this.#signingIn.popup.focus?.();
      return this.#signingIn.promise;
    }
    // Synchronously, inside the click: any await before window.open and the blocker wins.
    const popup = openPopup('about:blank', 'diamonds-signin');
    if (!popup) {
      return Promise.reject(
        new PopupBlockedError('The popup was blocked (or there is no window.open): call signIn() from a click in a browser.', {
          code: 'popup_blocked',
        }),
      );
    }
    const { auth } = this.money;
    const { session } = auth;
    const before = session.get();
    session.set({ ...before, status: 'signing_in' });
    const promise = (async () => {
      try {
        const { fan, tokens } = await runSignIn({ ...this.money, popup, signal: options.signal });
        auth.signedInAs(fan, tokens);
        // Fill in the site and the allowance now; the sign-in stands even if this fails.
        await this.me(options).catch(() => undefined);
        return fan;
      } catch (error) {
        // Back to where it stood, unless something else moved it on meanwhile.
        if (session.get().status === 'signing_in') session.set(before);
        throw error;
      } finally {
        this.#signingIn = undefined;
        closePopup(popup);
      }
    })();
    this.#signingIn = { promise, popup };
    return promise;
  }

  /**
   * Signs the fan out: revokes the sign-in on the platform and forgets it here (and, with
   * `storage: 'local'`, in the site's other tabs).
   *
   * @remarks Resolves even when the platform cannot be reached: the fan is signed out of this
   * page either way, and the tokens end on their own.
   * @example
   * ```ts
   * await client.signOut();
   * client.session.get().status; // 'signed_out'
   * ```
   */
  signOut(): Promise<void> {
    return this.money.auth.signOut();
  }

  /**
   * Reads the signed-in fan, this site, and what is left of the fan's allowance (`GET /v1/me`),
   * and updates {@link DiamondsClient.session} and {@link DiamondsClient.allowance}.
   *
   * @throws {@link SignInRequiredError} when no fan is signed in, or the sign-in expired (the
   * session is then `expired`).
   * @example
   * ```ts
   * const me = await client.me();
   * console.log(me.fan.displayName, me.remainingAllowance);
   * ```
   */
  async me(options: CallOptions = {}): Promise<MeType> {
    const { auth } = this.money;
    const me = await auth.request('get', 'v1/me', Me, options);
    auth.updateFromMe(me);
    return me;
  }

  /**
   * The top-up packs (100, 500, 1,000, 5,000 Diamonds) priced in `currency` at the current
   * rate (`GET /v1/topup-packs`). The price is for display; {@link DiamondsClient.quote} locks one.
   *
   * @throws {@link DiamondsApiError} `invalid_currency` or `rate_unavailable`.
   * @example
   * ```ts
   * for (const pack of await client.topUpPacks('EUR')) console.log(pack.diamonds, pack.price.amountMinor);
   * ```
   */
  async topUpPacks(currency: CurrencyCode, options: CallOptions = {}): Promise<TopUpPack[]> {
    return (await this.money.http.request('get', 'v1/topup-packs', TopUpPackList, { ...options, searchParams: { currency } })).data;
  }

  /**
   * Buys Diamonds for the signed-in fan: opens the payment popup in the click, makes a quote
   * (unless you pass `quoteId`) and a top-up, sends the popup to the payment page, and resolves
   * once the platform has credited the wallet.
   *
   * @remarks Call it straight from the click: the popup opens before anything is awaited.
   * The wallet and allowance stores are refreshed when it ends. The Diamonds are credited once
   * only, whatever the payment provider repeats.
   * @returns The top-up, `status: 'succeeded'`.
   * @throws {@link TopUpFailedError} when the payment failed: its code is the `failureCode` (`card_declined`…).
   * @throws {@link PopupBlockedError} when the popup was blocked (nothing was started).
   * @throws {@link PopupClosedError} when the fan closed the popup before paying.
   * @throws {@link SignInRequiredError} when no fan is signed in.
   * @throws {@link DiamondsApiError} for a refused quote or top-up (`invalid_amount`, `quote_expired`, `rate_limited`…).
   * @example
   * ```ts
   * buyButton.addEventListener('click', async () => {
   *   try {
   *     const topUp = await client.topUp({ diamonds: 500, currency: 'USD' });
   *     console.log(`+${topUp.diamonds} Diamonds`);
   *   } catch (error) {
   *     if (isTopUpFailedError(error)) alert(`Payment failed: ${error.code}`);
   *     else if (!isDiamondsOutcomeError(error)) throw error;
   *   }
   * });
   * ```
   */
  topUp(params: TopUpParams, options: SpendOptions = {}): Promise<TopUp> {
    return topUp(this.money, params, options);
  }
}

/**
 * A client of the Diamonds platform for one site: make it with {@link createDiamonds}.
 *
 * @remarks
 * Creating a client does no network work and touches no browser global, so it is safe at the
 * top of a module and in Node. Each call either resolves with data parsed by the protocol's
 * schemas or rejects with a {@link DiamondsError} subclass. It is a {@link DiamondsClientCore}
 * with the money resources ({@link DiamondsClient.gifts}, {@link DiamondsClient.content},
 * {@link DiamondsClient.orders}) and {@link DiamondsClient.health}, {@link DiamondsClient.rates}
 * and {@link DiamondsClient.quote}.
 */
export class DiamondsClient extends DiamondsClientCore {
  /**
   * The gift catalog and sending gifts: {@link GiftsResource.catalog}, {@link GiftsResource.send}.
   *
   * @example
   * ```ts
   * await client.gifts.send({ creatorId: 'usr_01JD…', giftId: 'rose' });
   * ```
   */
  declare readonly gifts: GiftsResource;
  /**
   * Exclusive content: {@link ContentResource.get}, {@link ContentResource.unlock},
   * {@link ContentResource.body}.
   *
   * @example
   * ```ts
   * const { receipt } = await client.content.unlock('ct_01JD…');
   * ```
   */
  declare readonly content: ContentResource;
  /**
   * Shop orders at checkout: {@link OrdersResource.get}, {@link OrdersResource.pay}.
   *
   * @example
   * ```ts
   * const paid = await client.orders.pay('ord_01JD…');
   * ```
   */
  declare readonly orders: OrdersResource;

  /**
   * Checks the options and makes the client; {@link createDiamonds} is the usual way in.
   *
   * @throws TypeError when the key is missing or secret, or `apiBase` is not an http(s) URL.
   * @throws RangeError when `locale`, `timeoutMs` or `maxRetries` is out of range.
   * @throws TypeError when `storage` is not one of its choices.
   */
  constructor(options: DiamondsOptions) {
    super(options);
    this.gifts = new GiftsResource(this.money);
    this.content = new ContentResource(this.money);
    this.orders = new OrdersResource(this.money);
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
  health(options: CallOptions = {}): Promise<HealthType> {
    return this.money.http.request('get', 'healthz', Health, options);
  }

  /**
   * The exchange rate in force for every currency (`GET /v1/rates`): what 1,000 Diamonds cost a
   * fan, in whole minor units (cents).
   *
   * @example
   * ```ts
   * const usd = (await client.rates()).find((rate) => rate.currency === 'USD');
   * ```
   */
  async rates(options: CallOptions = {}): Promise<Rate[]> {
    return (await this.money.http.request('get', 'v1/rates', RateList, options)).data;
  }

  /**
   * Locks the price of `diamonds` in `currency` for 10 minutes (`POST /v1/quotes`); a top-up
   * names it. Amounts are whole Diamonds and whole minor units.
   *
   * @throws {@link DiamondsApiError} `invalid_amount`, `amount_too_large`, `invalid_currency`, `rate_unavailable`.
   * @example
   * ```ts
   * const quote = await client.quote(500, 'USD');
   * console.log(quote.total.amountMinor, quote.total.currency, new Date(quote.expiresAt));
   * ```
   */
  quote(diamonds: number, currency: CurrencyCode, options: CallOptions = {}): Promise<QuoteType> {
    return this.money.http.request('post', 'v1/quotes', Quote, { ...options, json: { diamonds, currency } });
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

function checkStorage(storage: unknown): StorageOption {
  const candidate = storage as Partial<Record<string, unknown>> | null;
  need(
    ['memory', 'local', 'session'].includes(storage as string) ||
      ['getItem', 'setItem', 'removeItem'].every((method) => typeof candidate?.[method] === 'function'),
    'createDiamonds: storage',
    "'memory', 'local', 'session' or a Storage",
    storage,
  );
  return storage as StorageOption;
}

function checkKey(key: unknown): string {
  const starts = (prefix: string) => typeof key === 'string' && key.startsWith(prefix);
  if (starts('sk_')) throw new TypeError('createDiamonds: never put a secret key (sk_…) in a page; pass the publishable key (pk_…).');
  need(starts('pk_'), 'createDiamonds: publishableKey', '"pk_…"', key);
  return key as string;
}

function checkApiBase(apiBase: string): string {
  let url: URL | undefined;
  try {
    url = new URL(apiBase);
  } catch {
    // Not a URL at all: refused below.
  }
  need(
    url && /^https?:$/.test(url.protocol) && !url.search && !url.hash,
    'createDiamonds: apiBase',
    'an http(s) URL without query or fragment',
    apiBase,
  );
  return url!.href.replace(/\/+$/, '');
}

function checkLocale(locale: string): string {
  let canonical: string | undefined;
  try {
    // Throws a RangeError of its own for a malformed tag.
    [canonical] = Intl.getCanonicalLocales(locale);
  } catch {
    // Refused below.
  }
  need(canonical, 'createDiamonds: locale', 'a BCP 47 tag ("en-US")', locale, RangeError);
  return canonical!;
}
