import type { Fan } from '@diamonds/protocol';
import type { DiamondsError } from './errors.js';

/**
 * Where the fan's sign-in stands.
 *
 * - `signed_out`: no fan (the start, and after `signOut()`).
 * - `signing_in`: the sign-in popup is open.
 * - `signed_in`: a fan is signed in; `fan` is set, and `site` once the platform said.
 * - `expired`: the sign-in ended without `signOut()` (the fan disconnected the site, the refresh
 *   token expired or was used twice); `fan` still names who was signed in, to offer "sign in again".
 */
export type SessionStatus = 'signed_out' | 'signing_in' | 'signed_in' | 'expired';

/**
 * The value of {@link DiamondsClient.session}.
 *
 * @example
 * ```ts
 * client.session.subscribe((session) => {
 *   label.textContent = session.status === 'signed_in' ? `Hi, ${session.fan?.displayName}` : 'Sign in';
 * });
 * ```
 */
export interface Session {
  /** Where the sign-in stands. */
  status: SessionStatus;
  /** The signed-in fan (also kept while `expired`, to greet them on the way back). */
  fan?: Fan | undefined;
  /** The site this client's key belongs to, once the platform said (after `me()`). */
  site?: { id: string; name: string } | undefined;
}

/**
 * The value of {@link DiamondsClient.allowance}: what the fan lets this site spend without
 * asking, per rolling 24 hours, what is left of it now, and whom it pays.
 *
 * @example
 * ```ts
 * const allowance = client.allowance.get();
 * const needsConfirmation =
 *   allowance === null || amountDiamonds > allowance.remaining || !allowance.recipients.includes(creatorId);
 * ```
 */
export interface Allowance {
  /** Diamonds a day the fan allowed this site. */
  perDay: number;
  /** Diamonds left of it now: a spend of at most this much to one of `recipients` needs no confirmation. */
  remaining: number;
  /**
   * The creators the allowance pays (`usr_…`): the site's owner first, then the creators who
   * accepted to be listed on the site. A spend to anyone else always needs the fan's
   * confirmation, whatever is left of the allowance.
   */
  recipients: readonly string[];
}

/**
 * The value of {@link DiamondsClient.wallet}: `idle` until the first `wallet.refresh()` (which
 * every spend and top-up also runs), then `ready` with the balances.
 *
 * @remarks A refresh that fails sets `error` but keeps the last known balances, so a badge can
 * keep showing them; signing out sets it back to `idle`.
 *
 * @example
 * ```ts
 * client.wallet.subscribe((wallet) => {
 *   if (wallet.status === 'ready') badge.textContent = String(wallet.balanceDiamonds);
 * });
 * ```
 */
export interface WalletState {
  /** `idle` (not loaded), `loading`, `ready` (the balance is known) or `error`. */
  status: 'idle' | 'loading' | 'ready' | 'error';
  /** The spendable Diamonds, when `ready` (Diamonds held for a confirmation are not counted). */
  balanceDiamonds?: number | undefined;
  /** Diamonds held by spends waiting for the fan's confirmation, when `ready`. */
  heldDiamonds?: number | undefined;
  /** What the fan received as a creator, less the platform fee, when `ready`. */
  earningsDiamonds?: number | undefined;
  /** Why loading failed, when `error`. */
  error?: DiamondsError | undefined;
}

/**
 * One spend waiting for the fan's confirmation, in {@link DiamondsClient.confirmations}.
 *
 * @example
 * ```ts
 * client.confirmations.subscribe((pending) => (spinner.hidden = pending.length === 0));
 * ```
 */
export interface PendingConfirmation {
  /** The confirmation's id (`cnf_…`). */
  id: string;
  /** The hosted confirmation page (open in the popup), for a "show it again" link. */
  url: string;
  /** Diamonds the spend holds until the fan answers. */
  amountDiamonds: number;
  /** What the fan is asked to confirm ("3 × Rose for Ada"). */
  description: string;
  /** When it expires, in milliseconds since the epoch. */
  expiresAt: number;
}
