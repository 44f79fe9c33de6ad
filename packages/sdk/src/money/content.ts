import type { Content, ContentBody, ContentList, Unlock } from '@diamonds/protocol';
import {
  Content as ContentSchema,
  ContentBody as ContentBodySchema,
  ContentList as ContentListSchema,
  Entitlement,
  Unlock as UnlockSchema,
} from '../internal/content-schemas.js';
import { spend, type Money, type SpendOptions } from './spend.js';
import { path } from '../internal/http.js';

/** An unlock that went through: the active entitlement and its signed receipt. */
export type UnlockedContent = Extract<Unlock, { status: 'succeeded' }>;

/**
 * Exclusive content of this site: `client.content`.
 *
 * @example
 * ```ts
 * const content = await client.content.get('ct_01JD…'); // before the click: the price
 * unlockButton.addEventListener('click', () => client.content.unlock(content.id));
 * ```
 */
export class ContentResource {
  readonly #money: Money;
  /** What each piece of content costs, from what was read: known synchronously in the click. */
  readonly #prices = new Map<string, number>();

  /** @internal */
  constructor(money: Money) {
    this.#money = money;
  }

  #remember(content: Content): Content {
    // Threshold content costs nothing to unlock: the fan has given enough, or is refused.
    this.#prices.set(content.id, content.priceDiamonds ?? 0);
    return content;
  }

  /**
   * A page of this site's content, newest first (`GET /v1/content`): teasers and rules, never
   * bodies.
   *
   * @param options.cursor - The `nextCursor` of the previous page.
   * @param options.limit - Items per page, 1 to 100 (default 20).
   * @example
   * ```ts
   * let page = await client.content.list();
   * while (page.hasMore) page = await client.content.list({ cursor: page.nextCursor ?? undefined });
   * ```
   */
  async list(
    options: { cursor?: string | undefined; limit?: number | undefined; signal?: AbortSignal | undefined } = {},
  ): Promise<ContentList> {
    const { cursor, limit, signal } = options;
    const page = await this.#money.auth.read('v1/content', ContentListSchema, { searchParams: { cursor, limit }, signal });
    page.data.forEach((content) => this.#remember(content));
    return page;
  }

  /**
   * One piece of content (`GET /v1/content/{id}`): title, teaser and rule (a price, or a
   * threshold of gifts to the creator). For a signed-in fan also `entitled`,
   * `supportedDiamonds` and `remainingToThreshold`.
   *
   * @remarks Call it before the fan clicks "unlock": {@link ContentResource.unlock} reads the
   * price from here to decide, in the click, whether a confirmation popup is needed.
   * @example
   * ```ts
   * const content = await client.content.get('ct_01JD…');
   * if (!content.entitled) price.textContent = `${content.priceDiamonds} ♦`;
   * ```
   */
  async get(id: string, options: { signal?: AbortSignal | undefined } = {}): Promise<Content> {
    return this.#remember(await this.#money.auth.read(path('v1/content', id), ContentSchema, options));
  }

  /**
   * The body of content the signed-in fan is entitled to (`GET /v1/content/{id}/body`).
   *
   * @remarks `html` is rendered from Markdown and sanitised **on the platform** (no scripts, no
   * event handlers, no `javascript:` links; raw HTML in the Markdown is shown as text), so it is
   * meant to be inserted as HTML: `element.innerHTML = body.html`. If your page has a
   * Trusted Types policy, pass it through that policy. For external content `html` is `null`
   * and `externalUrl` is where to send the fan.
   * @throws {@link DiamondsApiError} `not_entitled` before an unlock.
   * @example
   * ```ts
   * const body = await client.content.body('ct_01JD…');
   * if (body.html !== null) article.innerHTML = body.html; // sanitised by the platform
   * else if (body.externalUrl !== null) location.assign(body.externalUrl);
   * ```
   */
  body(id: string, options: { signal?: AbortSignal | undefined } = {}): Promise<ContentBody> {
    return this.#money.auth.request('get', `${path('v1/content', id)}/body`, ContentBodySchema, options);
  }

  /**
   * Unlocks content for the signed-in fan (`POST /v1/content/{id}/unlock`): pays its price, or
   * checks the support threshold.
   *
   * @remarks Works like `gifts.send`: call it from the click, after {@link ContentResource.get}
   * (for the price); beyond the allowance the confirmation popup opens in the click and the
   * promise settles when the fan answers. Unlocking never charges twice.
   * @returns The active entitlement and its receipt (a JWT your backend can verify).
   * @throws {@link InsufficientFundsError}, {@link ConfirmationDeclinedError}, {@link ConfirmationExpiredError}, {@link PopupClosedError}, {@link PopupBlockedError}, {@link SignInRequiredError} as for `gifts.send`.
   * @throws {@link DiamondsApiError} `already_unlocked`, `threshold_not_met`, `content_archived`, `content_not_found`.
   * @example
   * ```ts
   * button.addEventListener('click', async () => {
   *   const { receipt } = await client.content.unlock('ct_01JD…');
   *   await fetch('/my-backend/unlocked', { method: 'POST', body: receipt });
   * });
   * ```
   */
  unlock(id: string, options: SpendOptions = {}): Promise<UnlockedContent> {
    const content = path('v1/content', id);
    const { auth } = this.#money;
    return spend<Unlock, UnlockedContent>(
      this.#money,
      {
        amountDiamonds: this.#prices.get(id),
        send: () => auth.request('post', `${content}/unlock`, UnlockSchema, options),
        result: async (answer, approved) => {
          if (!approved && answer.status === 'succeeded') return answer;
          const entitlement = await auth.request('get', `${content}/entitlement`, Entitlement, options);
          return { object: 'unlock', status: 'succeeded', entitlement, receipt: entitlement.receipt ?? '' };
        },
      },
      options,
    );
  }
}
