import { FundOverview } from '@diamonds/protocol';
import type { Requester, ServerCallOptions } from './resources.js';

/**
 * The creator fund, for the site's owner: the published rules of the engagement score, and per
 * period the owner's running estimate (open) or what they were paid (closed). The same as the
 * dashboard's "Creator fund" page.
 *
 * @example
 * ```ts
 * const { rules, periods } = await diamonds.fund.retrieve();
 * const current = periods.find((p) => p.estimate);
 * console.log(`This month so far: ${current?.line?.amountDiamonds ?? 0} Diamonds (score ${current?.line?.score ?? 0})`);
 * ```
 */
export class ServerFund {
  readonly #request: Requester;

  /** @internal */
  constructor(request: Requester) {
    this.#request = request;
  }

  /** The rules and the owner's periods, newest first (`GET /v1/fund`). */
  retrieve(options: ServerCallOptions = {}): Promise<FundOverview> {
    return this.#request('get', 'v1/fund', FundOverview, { signal: options.signal });
  }
}
