import type { Gift, GiftType, LiveSplit, SiteCreator } from '@diamonds/protocol';
import { spend, type Money, type SpendOptions } from './spend.js';
import { Gift as GiftSchema, GiftTypeList, LiveSplit as LiveSplitSchema, SiteCreatorList } from '../internal/gift-schemas.js';
import { pages, path } from '../internal/http.js';

/** What {@link GiftsResource.send} sends. */
export interface SendGiftParams {
  /** The creator who receives it (`usr_…`). */
  creatorId: string;
  /** The catalog id of the gift (`rose`); see {@link GiftsResource.catalog}. */
  giftId: string;
  /**
   * How many (1 to 1,000).
   *
   * @defaultValue 1
   */
  quantity?: number | undefined;
  /** A message for the creator, at most 140 characters, always shown as plain text. */
  message?: string | undefined;
}

/**
 * The gift catalog and gifts: `client.gifts`.
 *
 * @example
 * ```ts
 * const catalog = await client.gifts.catalog(); // before the click: prices for the allowance check
 * button.addEventListener('click', () => client.gifts.send({ creatorId, giftId: 'rose' }));
 * ```
 */
export class GiftsResource {
  readonly #money: Money;
  #catalog: Promise<GiftType[]> | undefined;
  /** Prices of the catalog by gift id, once loaded: read synchronously in the click. */
  #prices: Map<string, number> | undefined;

  /** @internal */
  constructor(money: Money) {
    this.#money = money;
  }

  /**
   * The gift catalog (`GET /v1/catalog/gifts`), cheapest first, with prices and art URLs.
   *
   * @remarks Loaded once per client and kept: {@link GiftsResource.send} reads the prices from
   * it in the click, to know whether the gift fits the fan's allowance. Call it when the page
   * loads. A failed load is not kept, so the next call tries again.
   * @example
   * ```ts
   * for (const gift of await client.gifts.catalog()) console.log(gift.name, gift.priceDiamonds, gift.artUrl);
   * ```
   */
  catalog(options: { signal?: AbortSignal | undefined } = {}): Promise<GiftType[]> {
    this.#catalog ??= (async () => {
      const gifts: GiftType[] = [];
      const all = pages((cursor) =>
        // The key in the query: a page's first read goes out without a CORS preflight.
        this.#money.http.request('get', 'v1/catalog/gifts', GiftTypeList, {
          ...options,
          keyInQuery: true,
          searchParams: { limit: 100, cursor },
        }),
      );
      for await (const gift of all) gifts.push(gift);
      this.#prices = new Map(gifts.map((gift) => [gift.id, gift.priceDiamonds]));
      return gifts;
    })().catch((error: unknown) => {
      this.#catalog = undefined;
      throw error;
    });
    return this.#catalog;
  }

  /**
   * The site's own creators (`GET /v1/site/creators`): its owner first, then the creators listed
   * on it, each with the display name the platform shows fans (the confirmation popup too). The
   * allowance pays these creators and nobody else.
   *
   * @remarks The browser may answer from its cache for 5 seconds (the platform says so), so the
   * gift buttons of one page ask the platform once.
   * @example
   * ```ts
   * const name = (await client.gifts.creators()).find((creator) => creator.id === creatorId)?.displayName;
   * ```
   */
  async creators(options: { signal?: AbortSignal | undefined } = {}): Promise<SiteCreator[]> {
    return (await this.#money.http.request('get', 'v1/site/creators', SiteCreatorList, { ...options, keyInQuery: true })).data;
  }

  /**
   * The split of the creator's live session now (`GET /v1/live/{creatorId}/split`): while they
   * are live with collaborators, every gift to them is split, and a fan should see how before
   * paying. `splitLine` ("Shared: Ada 60% · Bo 40%") is absent when the creator is not live or
   * keeps it all (in English: the elements write it from `split` in their own locale).
   *
   * @remarks The browser may answer from its cache for two seconds (the platform says so), so the
   * gift buttons of one page ask the platform once.
   * @example
   * ```ts
   * const { splitLine } = await client.gifts.liveSplit('usr_01JD…');
   * if (splitLine) note.textContent = splitLine;
   * ```
   */
  liveSplit(creatorId: string, options: { signal?: AbortSignal | undefined } = {}): Promise<LiveSplit> {
    return this.#money.http.request('get', `${path('v1/live', creatorId)}/split`, LiveSplitSchema, { ...options, keyInQuery: true });
  }

  /**
   * Sends a gift from the signed-in fan to a creator (`POST /v1/gifts`).
   *
   * @remarks
   * Call it straight from the click. Within what is left of the fan's allowance for your site
   * it goes through at once. Beyond it, the confirmation popup opens in the click (so load the
   * {@link GiftsResource.catalog} and the allowance, through `me()` or `wallet.refresh()`,
   * beforehand: without the price the SDK must assume a confirmation and opens the popup, then
   * closes it if the gift went through), the Diamonds are held, and the promise settles when
   * the fan answers there. It is in `client.confirmations` meanwhile. Afterwards the wallet
   * and allowance stores are refreshed. One `Idempotency-Key` covers every retry, so a lost
   * answer never sends the gift twice.
   *
   * @returns The sent gift, `status: 'succeeded'`.
   * @throws {@link InsufficientFundsError} when the wallet holds too little (nothing is held).
   * @throws {@link ConfirmationDeclinedError} or {@link ConfirmationExpiredError} when the fan declined or did not answer in time.
   * @throws {@link PopupClosedError} when the fan closed the popup (the hold ends when the confirmation expires).
   * @throws {@link PopupBlockedError} when a confirmation is needed and the popup was blocked; its `confirmationUrl` can be opened from a new click.
   * @throws {@link SignInRequiredError} when no fan is signed in.
   * @throws {@link DiamondsApiError} for a bad request (`gift_not_found`, `invalid_quantity`, `creator_not_found`…).
   * @example
   * ```ts
   * button.addEventListener('click', async () => {
   *   try {
   *     const gift = await client.gifts.send({ creatorId: 'usr_01JD…', giftId: 'rose', quantity: 3, message: 'Great stream!' });
   *     console.log(`Sent ${gift.amountDiamonds} Diamonds`);
   *   } catch (error) {
   *     if (!isDiamondsOutcomeError(error)) throw error; // declined, closed: the fan's choice
   *   }
   * });
   * ```
   */
  send(params: SendGiftParams, options: SpendOptions = {}): Promise<Gift> {
    const { creatorId, giftId, quantity = 1, message } = params ?? ({} as Partial<SendGiftParams>);
    const price = this.#prices?.get(giftId as string);
    return spend(
      this.#money,
      {
        amountDiamonds: price === undefined ? undefined : price * quantity,
        recipientId: creatorId,
        send: () =>
          this.#money.auth.request('post', 'v1/gifts', GiftSchema, { ...options, json: { creatorId, giftId, quantity, message } }),
        result: (gift, approved) => (approved ? this.get(gift.id, options) : gift),
      },
      options,
    );
  }

  /**
   * Reads a gift the signed-in fan sent (`GET /v1/gifts/{id}`), with its confirmation if it
   * needed one.
   *
   * @example
   * ```ts
   * const gift = await client.gifts.get('gift_01JD…');
   * ```
   */
  get(id: string, options: { signal?: AbortSignal | undefined } = {}): Promise<Gift> {
    return this.#money.auth.request('get', path('v1/gifts', id), GiftSchema, options);
  }
}
