// The one way the SDK spends a fan's Diamonds (gifts, unlocks, orders): decide in the click
// whether the spend will need the fan's confirmation, open the popup then if so (before any
// await, or the popup blocker wins), send the spend once with one Idempotency-Key, and follow
// the confirmation on the server until the fan answers.
import type { Confirmation as ConfirmationType } from '@diamonds/protocol';
import type { WritableAtom } from 'nanostores';
import { ConfirmationDeclinedError, ConfirmationExpiredError, PopupBlockedError } from '../errors.js';
import type { Auth } from '../internal/auth.js';
import { path, type Http } from '../internal/http.js';
import { Confirmation } from '../internal/schemas.js';
import { closePopup, openPopup, type PopupLike } from '../internal/browser.js';
import { untilAnswered } from '../internal/signin.js';
import type { PendingConfirmation, WalletState } from '../stores.js';

/**
 * Options of a call that spends the fan's Diamonds or buys them: `gifts.send`,
 * `content.unlock`, `orders.pay`, `topUp`.
 *
 * @example
 * ```ts
 * // One key per user action: keep it (sessionStorage) to retry the same action after a reload.
 * const idempotencyKey = crypto.randomUUID();
 * await client.gifts.send({ creatorId, giftId: 'rose' }, { idempotencyKey });
 * ```
 */
export interface SpendOptions {
  /**
   * The `Idempotency-Key` of the request that moves Diamonds. Every retry of this call sends
   * the same key, and the platform applies it at most once; pass your own to make a retry of
   * the same user action (after a reload, say) safe too.
   *
   * @defaultValue a fresh random key per call
   */
  idempotencyKey?: string | undefined;
  /** Cancels the call (the spend itself may already have been made; the wallet tells). */
  signal?: AbortSignal | undefined;
}

/** What the money resources share with the client. @internal */
export interface Money {
  http: Http;
  auth: Auth;
  wallet: WritableAtom<WalletState>;
  confirmations: WritableAtom<readonly PendingConfirmation[]>;
  /** How long each confirmation long poll waits, and how often a top-up is polled. */
  pollWaitMs: number;
  /** Refreshes the wallet and allowance stores; never throws. */
  refreshWallet(): Promise<void>;
}

/** One spend, as {@link spend} runs it. @internal */
export interface SpendPlan<Answer, Result> {
  /** What it costs, when known before the click (from a cache); `undefined` when not. */
  amountDiamonds: number | undefined;
  /**
   * Who receives it, when the caller names them (a gift's creator); `undefined` for the site's
   * own owner (an unlock or an order), whom the allowance always pays.
   */
  recipientId?: string | undefined;
  /**
   * Sends the spend with the call's {@link SpendOptions}: its `Idempotency-Key`, or a fresh one
   * that every retry of this request keeps.
   */
  send(): Promise<Answer>;
  /** The result: from the answer when it went through at once, else re-read after approval. */
  result(answer: Answer, approved: boolean): Promise<Result> | Result;
}

/**
 * Runs a spend (see the file comment). Synchronous up to the popup, so call it from the click.
 *
 * @remarks The popup opens when the amount is unknown, the allowance unknown, the amount
 * above what is left of it, or the recipient not one of the creators the allowance pays (the
 * site's own), unless the wallet is known to hold too little (the server will
 * refuse with `insufficient_funds`, and a popup would only flash). If the server asks for a
 * confirmation that was not foreseen (another tab spent the allowance), the popup is opened
 * late, which browsers allow for a few seconds after the click.
 */
export function spend<Answer extends object, Result>(
  money: Money,
  plan: SpendPlan<Answer, Result>,
  options: SpendOptions,
): Promise<Result> {
  if (!money.auth.signedIn) return Promise.reject(money.auth.signInRequired());
  const { amountDiamonds: amount = NaN, recipientId: recipient } = plan;
  const allowance = money.auth.allowance.get();
  const wallet = money.wallet.get();
  // An unknown amount (NaN) fits no allowance and no balance: the popup opens.
  const fits = amount <= (allowance?.remaining ?? -Infinity) && (!recipient || !!allowance?.recipients.includes(recipient));
  const cannotPay = wallet.status === 'ready' && wallet.balanceDiamonds! < amount;
  let popup = fits || cannotPay ? null : openPopup();
  return (async () => {
    let answered = false;
    try {
      const answer = await plan.send();
      answered = true;
      // Every spend answers its confirmation in the same field when it needs one (a 202).
      const { confirmation } = answer as { confirmation?: ConfirmationType | null };
      if (!confirmation) return await plan.result(answer, false);
      if (popup) popup.location.href = confirmation.url;
      else popup = openPopup(confirmation.url);
      if (!popup) {
        throw new PopupBlockedError('The browser blocked the popup: open confirmationUrl from a click.', {
          code: 'popup_blocked',
          confirmationId: confirmation.id,
          confirmationUrl: confirmation.url,
        });
      }
      await follow(money, popup, confirmation, options.signal);
      return await plan.result(answer, true);
    } catch (error) {
      // A refused spend (insufficient funds, say) may still mean a changed balance elsewhere.
      answered ||= typeof (error as { status?: unknown }).status === 'number';
      throw error;
    } finally {
      closePopup(popup);
      if (answered) await money.refreshWallet();
    }
  })();
}

/**
 * Long-polls a confirmation until the fan approves it (resolves), declines it or lets it
 * expire (rejects), or closes the popup (one last look, then rejects with `popup_closed`); it
 * is in the confirmations store meanwhile.
 */
async function follow(money: Money, popup: PopupLike, confirmation: ConfirmationType, signal: AbortSignal | undefined): Promise<void> {
  const { id, url, amountDiamonds, description, expiresAt } = confirmation;
  const pending: PendingConfirmation = { id, url, amountDiamonds, description, expiresAt };
  money.confirmations.set([...money.confirmations.get(), pending]);
  try {
    await untilAnswered(
      popup,
      (waitMs) => money.auth.request('get', path('v1/confirmations', id), Confirmation, { searchParams: { waitMs }, signal }),
      money.pollWaitMs,
      'The fan closed the confirmation window; the hold ends when it expires.',
      {
        declined: () =>
          new ConfirmationDeclinedError('The fan declined; nothing was spent.', {
            code: 'confirmation_declined',
          }),
        expired: () =>
          new ConfirmationExpiredError('The confirmation expired unanswered; nothing was spent.', {
            code: 'confirmation_expired',
          }),
      },
    );
  } finally {
    money.confirmations.set(money.confirmations.get().filter((item) => item !== pending));
  }
}
