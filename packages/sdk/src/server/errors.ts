import { DiamondsError, type DiamondsErrorOptions } from '../errors.js';

/**
 * Codes of {@link DiamondsUsageError}: the calling code used the server SDK in a way that can
 * never work, so retrying the same call is pointless.
 *
 * - `publishable_key_not_allowed`: a `pk_…` key was given where the secret key belongs.
 * - `invalid_secret_key`: the key is not a Diamonds secret key (`sk_test_…` or `sk_live_…`).
 * - `secret_key_in_browser`: the server SDK was created in a page, where anyone could read the key.
 * - `invalid_option`: an option of {@link createDiamondsServer} is out of range.
 * - `invalid_id`: an id argument is not an id of the expected kind (`ord_…`, `prod_…`, `ct_…`).
 * - `site_id_required`: a receipt cannot be checked without knowing which site it must be for.
 */
export type DiamondsUsageErrorCode =
  'publishable_key_not_allowed' | 'invalid_secret_key' | 'secret_key_in_browser' | 'invalid_option' | 'invalid_id' | 'site_id_required';

/**
 * The server SDK was called wrongly (see {@link DiamondsUsageErrorCode}); nothing was sent.
 *
 * @remarks Thrown synchronously by {@link createDiamondsServer} and as a rejection by methods,
 * before any request, so a mistake in a deployment shows up at start-up rather than at the first
 * sale.
 *
 * @example
 * ```ts
 * try {
 *   createDiamondsServer({ secretKey: process.env.DIAMONDS_SECRET_KEY ?? '' });
 * } catch (error) {
 *   if (error instanceof DiamondsUsageError) console.error(`Diamonds is misconfigured: ${error.code}`);
 *   throw error;
 * }
 * ```
 */
export class DiamondsUsageError extends DiamondsError {
  override readonly name: string = 'DiamondsUsageError';
  declare readonly code: DiamondsUsageErrorCode;

  constructor(message: string, options: DiamondsErrorOptions & { code: DiamondsUsageErrorCode }) {
    super(message, options);
  }
}

/**
 * Why a receipt was refused (see {@link ReceiptVerificationError}).
 *
 * - `malformed`: not a compact JWT, a header or claims that are not JSON, a missing `kid`, or
 *   claims that are not a Diamonds receipt.
 * - `unknown_key`: signed with a `kid` the platform does not publish, even after fetching its
 *   key set again.
 * - `bad_signature`: not signed with ES256 (including `alg: none`), or the signature does not
 *   match: the receipt was forged or changed after signing.
 * - `wrong_audience`: a genuine receipt, but for another site (`aud`).
 * - `expired`: older than the `maxAgeMs` you asked for.
 */
export type ReceiptVerificationReason = 'malformed' | 'unknown_key' | 'bad_signature' | 'wrong_audience' | 'expired';

/**
 * A receipt did not verify (code `invalid_receipt`); {@link ReceiptVerificationError.reason} says why.
 *
 * @remarks
 * Treat any of these as "not paid": never grant what the receipt names. A failure to fetch the
 * platform's keys is not a verdict on the receipt, and is thrown as a `DiamondsNetworkError`
 * (or `DiamondsApiError`) instead, so that you can answer "try again" rather than "forged".
 *
 * @example
 * ```ts
 * try {
 *   const claims = await diamonds.verifyReceipt(jwt);
 *   await markPaid(claims.subjectId);
 * } catch (error) {
 *   if (isReceiptVerificationError(error)) return reply.status(400).send(`Receipt refused: ${error.reason}`);
 *   throw error;
 * }
 * ```
 */
export class ReceiptVerificationError extends DiamondsError {
  override readonly name: string = 'ReceiptVerificationError';
  /** Why it was refused (see {@link ReceiptVerificationReason}). */
  readonly reason: ReceiptVerificationReason;

  constructor(reason: ReceiptVerificationReason, message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'invalid_receipt', cause: options.cause });
    this.reason = reason;
  }
}

const REASONS: readonly string[] = ['malformed', 'unknown_key', 'bad_signature', 'wrong_audience', 'expired'];

/**
 * Whether `value` is a {@link ReceiptVerificationError}, also from another copy of the SDK.
 *
 * @remarks Checks `instanceof`, else the `name`, `code` and `reason` fields, because a backend
 * may load two copies of the SDK (a dependency of a dependency).
 *
 * @example
 * ```ts
 * if (isReceiptVerificationError(error) && error.reason === 'wrong_audience') console.warn('A receipt for another site');
 * ```
 */
export function isReceiptVerificationError(value: unknown): value is ReceiptVerificationError {
  if (value instanceof ReceiptVerificationError) return true;
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { name?: unknown; code?: unknown; reason?: unknown; message?: unknown };
  return (
    candidate.name === 'ReceiptVerificationError' &&
    candidate.code === 'invalid_receipt' &&
    typeof candidate.message === 'string' &&
    typeof candidate.reason === 'string' &&
    REASONS.includes(candidate.reason)
  );
}

/**
 * Whether `value` is a {@link DiamondsUsageError}, also from another copy of the SDK.
 *
 * @example
 * ```ts
 * if (isDiamondsUsageError(error)) console.error('Fix the Diamonds configuration:', error.message);
 * ```
 */
export function isDiamondsUsageError(value: unknown): value is DiamondsUsageError {
  if (value instanceof DiamondsUsageError) return true;
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { name?: unknown; code?: unknown; message?: unknown };
  return candidate.name === 'DiamondsUsageError' && typeof candidate.code === 'string' && typeof candidate.message === 'string';
}
