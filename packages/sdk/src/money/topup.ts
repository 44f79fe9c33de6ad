import type { CurrencyCode, TopUp } from '@diamonds/protocol';
import { path } from '../internal/http.js';
import { closePopup, openPopup } from '../internal/browser.js';
import { Quote, TopUp as TopUpSchema } from '../internal/schemas.js';
import { PopupBlockedError, PopupClosedError, TopUpFailedError } from '../errors.js';
import type { Money, SpendOptions } from './spend.js';

/** What {@link DiamondsClient.topUp} buys: a number of Diamonds in a currency, or a quote you already made. */
export type TopUpParams = { diamonds: number; currency: CurrencyCode } | { quoteId: string };

/**
 * The top-up flow (see `DiamondsClient.topUp`): popup in the click, then quote, top-up,
 * payment page, and polling until the platform says `succeeded` or `failed`.
 *
 * @internal
 */
export function topUp(money: Money, params: TopUpParams, options: SpendOptions): Promise<TopUp> {
  if (!money.auth.signedIn) return Promise.reject(money.auth.signInRequired());
  const popup = openPopup();
  if (!popup) {
    return Promise.reject(
      new PopupBlockedError('The browser blocked the popup: call topUp() from a click.', {
        code: 'popup_blocked',
      }),
    );
  }
  return (async () => {
    let started = false;
    try {
      const quoteId =
        'quoteId' in params
          ? params.quoteId
          : (
              await money.http.request('post', 'v1/quotes', Quote, {
                json: { diamonds: params.diamonds, currency: params.currency },
                // Not the call's Idempotency-Key: that one is the top-up's.
                signal: options.signal,
              })
            ).id;
      let topUp = await money.auth.request('post', 'v1/topups', TopUpSchema, { ...options, json: { quoteId } });
      started = true;
      if (topUp.paymentUrl !== null && !popup.closed) popup.location.href = topUp.paymentUrl;
      // `closed` is read before each poll: the page closes itself once paid, and the poll
      // after the close must still see the payment.
      for (let closed = false; topUp.status !== 'succeeded';) {
        if (topUp.status === 'failed') {
          const code = topUp.failureCode ?? 'payment_failed';
          throw new TopUpFailedError(`The top-up failed (${code}); nothing was charged.`, { code, topUpId: topUp.id });
        }
        if (closed) throw new PopupClosedError('The fan closed the payment window unpaid.', { code: 'popup_closed' });
        await new Promise((resolve) => setTimeout(resolve, money.pollWaitMs / 2));
        closed = popup.closed;
        topUp = await money.auth.request('get', path('v1/topups', topUp.id), TopUpSchema, options);
      }
      return topUp;
    } finally {
      closePopup(popup);
      if (started) await money.refreshWallet();
    }
  })();
}
