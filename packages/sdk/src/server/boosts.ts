import { Boost, BoostList } from '@diamonds/protocol';
import type { Requester, ServerCallOptions } from './resources.js';

/** The body of {@link ServerBoosts.create}. */
export interface CreateBoostParams {
  /** The content (`ct_…`) or product (`prod_…`) to boost: the site owner's. */
  itemId: string;
  /** Whole Diamonds, taken from the owner's available earnings at once. */
  budgetDiamonds: number;
  /** When it starts showing (ms since the epoch). @defaultValue now */
  startsAt?: number;
  /** When it ends (ms since the epoch): after `startsAt`, within 90 days. */
  endsAt: number;
  /** Where a click leads: a page on one of the site's origins. @defaultValue the site's first origin */
  url?: string;
}

/**
 * Boosts of the site owner's content and products: a budget from their available earnings,
 * consumed per 1,000 counted impressions in `<diamond-discover>` and on the platform's discover
 * page; what is not spent comes back when the boost ends or is stopped. See docs/boosts.md.
 *
 * @example
 * ```ts
 * const boost = await diamonds.boosts.create({ itemId: 'ct_…', budgetDiamonds: 500, endsAt: Date.now() + 7 * 86_400_000 });
 * const { stats } = await diamonds.boosts.retrieve(boost.id);
 * console.log(`${stats.impressions} impressions, ${stats.clicks} clicks, ${stats.spentDiamonds} spent`);
 * ```
 */
export class ServerBoosts {
  readonly #request: Requester;

  /** @internal */
  constructor(request: Requester) {
    this.#request = request;
  }

  /**
   * Boosts an item (`POST /v1/boosts`). Refused with `boost_budget_invalid`,
   * `insufficient_earnings`, `boost_dates_invalid`, `boost_item_not_found`, `permission_denied`
   * or `boost_already_active`, and then nothing moves.
   */
  create(params: CreateBoostParams, options: ServerCallOptions = {}): Promise<Boost> {
    return this.#request('post', 'v1/boosts', Boost, { ...options, json: params });
  }

  /** A boost with its figures (`GET /v1/boosts/{id}`). */
  retrieve(id: string, options: ServerCallOptions = {}): Promise<Boost> {
    return this.#request('get', `v1/boosts/${encodeURIComponent(id)}`, Boost, { signal: options.signal });
  }

  /** The site's boosts with their figures, newest first (`GET /v1/boosts`). */
  list(options: ServerCallOptions = {}): Promise<BoostList> {
    return this.#request('get', 'v1/boosts', BoostList, { signal: options.signal });
  }

  /** Stops a boost now; what it did not spend returns to the owner's earnings, once (`POST /v1/boosts/{id}/stop`). */
  stop(id: string, options: ServerCallOptions = {}): Promise<Boost> {
    return this.#request('post', `v1/boosts/${encodeURIComponent(id)}/stop`, Boost, { ...options, json: {} });
  }
}
