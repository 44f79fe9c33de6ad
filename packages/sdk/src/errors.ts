import type { ErrorCode } from '@diamonds/protocol';

/**
 * Codes the SDK sets itself, for failures where no server answered with a protocol error.
 *
 * - `network_error`: the request got no response (offline, DNS, refused, reset).
 * - `timeout`: no response within the client's `timeoutMs`.
 * - `invalid_response`: a response arrived but did not match the protocol schema.
 * - `signin_required`: the call needs a signed-in fan and there is none (or the sign-in expired).
 * - `popup_blocked`, `popup_closed`, `signin_denied`, `signin_expired`, `confirmation_declined`,
 *   `confirmation_expired`: the fan's own outcomes (see {@link DiamondsOutcomeError}).
 */
export type ClientErrorCode =
  | 'network_error'
  | 'timeout'
  | 'invalid_response'
  | 'signin_required'
  | 'popup_blocked'
  | 'popup_closed'
  | 'signin_denied'
  | 'signin_expired'
  | 'confirmation_declined'
  | 'confirmation_expired';

/**
 * The code of a {@link DiamondsError}: a server code from the protocol, a client code, or a
 * server code newer than this SDK (codes are stable strings; compare, don't exhaust).
 */
export type DiamondsErrorCode = ErrorCode | ClientErrorCode | (string & {});

/** Options of the {@link DiamondsError} constructor. */
export interface DiamondsErrorOptions {
  /** The stable code (see {@link DiamondsErrorCode}). */
  code: DiamondsErrorCode;
  /** The server's request id (`req_…`), when a server answered. */
  requestId?: string | undefined;
  /** What caused it: the underlying network error, schema error or response. */
  cause?: unknown;
}

/** Options of the {@link DiamondsApiError} constructor. */
export interface DiamondsApiErrorOptions extends DiamondsErrorOptions {
  /** The HTTP status of the response. */
  status: number;
  /** The request field that was wrong, as a dotted path, when the server named one. */
  param?: string | undefined;
}

/** Options of the {@link RateLimitError} constructor. */
export interface RateLimitErrorOptions extends DiamondsApiErrorOptions {
  /** How long the server asked to wait before retrying, from `Retry-After`. */
  retryAfterMs?: number | undefined;
}

/**
 * The base of every error the SDK throws.
 *
 * @remarks
 * Switch on {@link DiamondsError.code} rather than on the message, which is for developers and
 * may change. To test for an error that may come from another copy of the SDK (another bundle,
 * another frame), use {@link isDiamondsError} instead of `instanceof`.
 *
 * @example
 * ```ts
 * try {
 *   await client.health();
 * } catch (error) {
 *   if (isDiamondsError(error)) console.error(error.code, error.requestId);
 *   else throw error;
 * }
 * ```
 *
 * @typeParam Options - What its constructor takes: each subclass names its own, whose fields it
 * carries.
 */
export class DiamondsError<Options extends DiamondsErrorOptions = DiamondsErrorOptions> extends Error {
  /** The stable code (see {@link DiamondsErrorCode}). */
  declare readonly code: DiamondsErrorCode;
  /** The server's request id (`req_…`), to quote in a support request; absent with no response. */
  declare readonly requestId: string | undefined;

  constructor(message: string, options: Options) {
    // Error reads only `cause`; every field a subclass declares comes from its options too.
    super(message, options);
    Object.assign(this, options);
  }
}

/**
 * The server answered with an error status and (usually) a protocol error body.
 *
 * @remarks {@link DiamondsApiError.code} is the server's stable code, such as `not_found`.
 * @typeParam Options - What its constructor takes (see {@link DiamondsError}).
 */
export class DiamondsApiError<Options extends DiamondsApiErrorOptions = DiamondsApiErrorOptions> extends DiamondsError<Options> {
  /** The HTTP status of the response. */
  declare readonly status: number;
  /** The request field that was wrong, as a dotted path (`postings.1.amountDiamonds`), if any. */
  declare readonly param: string | undefined;
}

/** The wallet holds fewer Diamonds than the spend needs (`insufficient_funds`). */
export class InsufficientFundsError extends DiamondsApiError {}

/** No valid key or token came with the request (a 401, such as `invalid_api_key`). */
export class AuthenticationError extends DiamondsApiError {}

/**
 * Too many requests (a 429, `rate_limited`).
 *
 * @remarks The SDK already retried if the server asked for a short wait; this error means the
 * wait was too long, or absent, or retries ran out.
 */
export class RateLimitError extends DiamondsApiError<RateLimitErrorOptions> {
  /** How long the server asked to wait before retrying, from `Retry-After`, if it said. */
  declare readonly retryAfterMs: number | undefined;
}

/**
 * The request got no response: offline, refused, reset, or timed out (code `network_error` or
 * `timeout`). Safe to retry; the SDK already did for the failures it could.
 */
export class DiamondsNetworkError extends DiamondsError {}

/**
 * A response arrived but failed the protocol schema (code `invalid_response`): not JSON, or
 * not the expected shape. Usually a proxy in the way, or an SDK older than the server.
 *
 * @remarks The `cause` holds the JSON syntax error or the zod error with the failed paths.
 */
export class DiamondsSchemaError extends DiamondsError {}

/**
 * The call needs a signed-in fan and there is none (code `signin_required`): never signed in,
 * signed out, or the sign-in expired. Call `signIn()` from a click and try again.
 *
 * @example
 * ```ts
 * try {
 *   await client.me();
 * } catch (error) {
 *   if (isSignInRequiredError(error)) showSignInButton();
 * }
 * ```
 */
export class SignInRequiredError extends DiamondsError {}

/**
 * The fan's own outcome, not a fault: the popup was blocked or closed, the fan said no, or the
 * request ran out of time. Nothing was charged. Usually shown as a gentle note, or not at all.
 *
 * @example
 * ```ts
 * try {
 *   await client.signIn();
 * } catch (error) {
 *   if (isDiamondsOutcomeError(error)) return; // the fan changed their mind
 *   throw error;
 * }
 * ```
 *
 * @typeParam Options - What its constructor takes (see {@link DiamondsError}).
 */
export class DiamondsOutcomeError<Options extends DiamondsErrorOptions = DiamondsErrorOptions> extends DiamondsError<Options> {}

/**
 * The browser blocked the popup (code `popup_blocked`): `window.open` returned nothing, usually
 * because the call did not come straight from a click. Call `signIn()`, `topUp()` and the spends
 * inside the click handler. For a spend the platform already holds, the error carries the
 * confirmation ({@link PopupBlockedError.confirmationUrl}) so that a link can finish it.
 *
 * @example
 * ```ts
 * button.addEventListener('click', () => {
 *   client.signIn().catch((error) => {
 *     if (isPopupBlockedError(error)) alert('Allow popups for this site to sign in.');
 *   });
 * });
 * ```
 */
export class PopupBlockedError extends DiamondsOutcomeError<PopupBlockedErrorOptions> {
  /**
   * For a spend the server already holds: the confirmation's id (`cnf_…`), so that a UI can
   * offer a link to {@link PopupBlockedError.confirmationUrl} instead; absent otherwise.
   */
  declare readonly confirmationId: string | undefined;
  /** For a spend the server already holds: the hosted confirmation page to open from a click. */
  declare readonly confirmationUrl: string | undefined;
}

/** Options of the {@link PopupBlockedError} constructor. */
export interface PopupBlockedErrorOptions extends DiamondsErrorOptions {
  /** The confirmation's id (`cnf_…`), when the spend was already held. */
  confirmationId?: string | undefined;
  /** The hosted confirmation page, when the spend was already held. */
  confirmationUrl?: string | undefined;
}

/**
 * The fan closed the popup before answering (code `popup_closed`).
 *
 * @example
 * ```ts
 * client.signIn().catch((error) => {
 *   if (isPopupClosedError(error)) console.info('Sign-in cancelled.');
 * });
 * ```
 */
export class PopupClosedError extends DiamondsOutcomeError {}

/**
 * The fan declined to connect this site on the consent screen (code `signin_denied`).
 *
 * @example
 * ```ts
 * client.signIn().catch((error) => {
 *   if (isSignInDeniedError(error)) console.info('The fan said no.');
 * });
 * ```
 */
export class SignInDeniedError extends DiamondsOutcomeError {}

/**
 * The sign-in request ran out of time before the fan answered (code `signin_expired`).
 *
 * @example
 * ```ts
 * client.signIn().catch((error) => {
 *   if (isSignInExpiredError(error)) console.info('Took too long; try again.');
 * });
 * ```
 */
export class SignInExpiredError extends DiamondsOutcomeError {}

/**
 * The fan declined a spend on the confirmation screen (code `confirmation_declined`); the held
 * Diamonds went back to the wallet.
 *
 * @example
 * ```ts
 * if (isConfirmationDeclinedError(error)) console.info('Not sent: the fan declined.');
 * ```
 */
export class ConfirmationDeclinedError extends DiamondsOutcomeError {}

/**
 * A spend's confirmation ran out of time (code `confirmation_expired`); the held Diamonds went
 * back to the wallet.
 *
 * @example
 * ```ts
 * if (isConfirmationExpiredError(error)) console.info('Not sent: the confirmation expired.');
 * ```
 */
export class ConfirmationExpiredError extends DiamondsOutcomeError {}

/**
 * A top-up failed and nothing was charged or credited: {@link DiamondsError.code} is the
 * top-up's `failureCode` (`card_declined`, `authentication_failed`, `payment_failed`,
 * `quote_expired`, `payment_expired`). Start a new top-up to try again.
 *
 * @example
 * ```ts
 * client.topUp({ diamonds: 500, currency: 'USD' }).catch((error) => {
 *   if (isTopUpFailedError(error) && error.code === 'card_declined') alert('Your card was declined.');
 * });
 * ```
 */
export class TopUpFailedError extends DiamondsError<DiamondsErrorOptions & { topUpId: string }> {
  /** The failed top-up's id (`tu_…`). */
  declare readonly topUpId: string;
}

/** Every class above by its `name`: an error from another copy of the SDK is matched by name. */
const BY_NAME = {
  // No prototype: a `name` such as `toString` finds nothing.
  __proto__: null,
  DiamondsError,
  DiamondsApiError,
  InsufficientFundsError,
  AuthenticationError,
  RateLimitError,
  DiamondsNetworkError,
  DiamondsSchemaError,
  SignInRequiredError,
  DiamondsOutcomeError,
  PopupBlockedError,
  PopupClosedError,
  SignInDeniedError,
  SignInExpiredError,
  ConfirmationDeclinedError,
  ConfirmationExpiredError,
  TopUpFailedError,
} as unknown as Record<string, (abstract new (...args: never) => DiamondsError) | undefined>;

// Each class's `name` (on its prototype), which minifiers would otherwise take from the class.
for (const name in BY_NAME) (BY_NAME[name]!.prototype as { name: string }).name = name;

/**
 * Whether `value` is an error of class `base` or a subclass: `instanceof`, else (for errors
 * from another bundle or frame) by its `name` and the fields that class guarantees.
 */
function guard<E extends DiamondsError>(base: abstract new (...args: never) => E): (value: unknown) => value is E {
  return (value): value is E => {
    if (value instanceof base) return true;
    const candidate = value as { name?: unknown; code?: unknown; message?: unknown; status?: unknown } | null;
    const own = BY_NAME[candidate?.name as string];
    const kindOf = (parent: abstract new (...args: never) => DiamondsError) => own === parent || own?.prototype instanceof parent;
    return (
      kindOf(base) &&
      typeof candidate?.code === 'string' &&
      typeof candidate.message === 'string' &&
      (!kindOf(DiamondsApiError) || typeof candidate.status === 'number')
    );
  };
}

/**
 * Whether `value` is a {@link DiamondsError} (any subclass), also from another copy of the SDK.
 *
 * @remarks Checks `instanceof`, else the `name`, `code` and `message` fields, because embeds cross
 * frames and a page may load two bundles of the SDK.
 */
export const isDiamondsError = /* @__PURE__ */ guard(DiamondsError);

/** Whether `value` is a {@link DiamondsApiError} (any subclass), also from another SDK copy. */
export const isDiamondsApiError = /* @__PURE__ */ guard(DiamondsApiError);

/** Whether `value` is an {@link InsufficientFundsError}, also from another SDK copy. */
export const isInsufficientFundsError = /* @__PURE__ */ guard(InsufficientFundsError);

/** Whether `value` is an {@link AuthenticationError}, also from another SDK copy. */
export const isAuthenticationError = /* @__PURE__ */ guard(AuthenticationError);

/** Whether `value` is a {@link RateLimitError}, also from another SDK copy. */
export const isRateLimitError = /* @__PURE__ */ guard(RateLimitError);

/** Whether `value` is a {@link DiamondsNetworkError}, also from another SDK copy. */
export const isDiamondsNetworkError = /* @__PURE__ */ guard(DiamondsNetworkError);

/** Whether `value` is a {@link DiamondsSchemaError}, also from another SDK copy. */
export const isDiamondsSchemaError = /* @__PURE__ */ guard(DiamondsSchemaError);

/** Whether `value` is a {@link SignInRequiredError}, also from another SDK copy. */
export const isSignInRequiredError = /* @__PURE__ */ guard(SignInRequiredError);

/** Whether `value` is a {@link DiamondsOutcomeError} (the fan's own outcome), also from another SDK copy. */
export const isDiamondsOutcomeError = /* @__PURE__ */ guard(DiamondsOutcomeError);

/** Whether `value` is a {@link PopupBlockedError}, also from another SDK copy. */
export const isPopupBlockedError = /* @__PURE__ */ guard(PopupBlockedError);

/** Whether `value` is a {@link PopupClosedError}, also from another SDK copy. */
export const isPopupClosedError = /* @__PURE__ */ guard(PopupClosedError);

/** Whether `value` is a {@link SignInDeniedError}, also from another SDK copy. */
export const isSignInDeniedError = /* @__PURE__ */ guard(SignInDeniedError);

/** Whether `value` is a {@link SignInExpiredError}, also from another SDK copy. */
export const isSignInExpiredError = /* @__PURE__ */ guard(SignInExpiredError);

/** Whether `value` is a {@link ConfirmationDeclinedError}, also from another SDK copy. */
export const isConfirmationDeclinedError = /* @__PURE__ */ guard(ConfirmationDeclinedError);

/** Whether `value` is a {@link ConfirmationExpiredError}, also from another SDK copy. */
export const isConfirmationExpiredError = /* @__PURE__ */ guard(ConfirmationExpiredError);

/** Whether `value` is a {@link TopUpFailedError}, also from another SDK copy. */
export const isTopUpFailedError = /* @__PURE__ */ guard(TopUpFailedError);
