import { DiamondsError } from '../errors.js';

/**
 * Why a webhook request was refused by {@link verifyWebhook} (see {@link WebhookVerificationError}).
 *
 * - `missing_header`: `webhook-id`, `webhook-timestamp` or `webhook-signature` is absent or empty
 *   ({@link WebhookHeaderError}).
 * - `malformed_header`: a header is repeated, or `webhook-timestamp` is not a number of seconds
 *   ({@link WebhookHeaderError}).
 * - `bad_signature`: no `v1` signature matches the body under the secret: forged, changed, a parsed
 *   and re-serialised body, or the wrong secret ({@link WebhookSignatureError}).
 * - `stale_timestamp`: genuine, but signed longer ago than the tolerance: a captured request
 *   replayed, or the receiver's clock is off ({@link WebhookTimestampError}).
 * - `future_timestamp`: dated ahead of the receiver's clock by more than the tolerance
 *   ({@link WebhookTimestampError}).
 * - `malformed_payload`: the body is not the raw body, or, signed, is not a Diamonds event this
 *   SDK knows ({@link WebhookPayloadError}).
 */
export type WebhookVerificationReason =
  'missing_header' | 'malformed_header' | 'bad_signature' | 'stale_timestamp' | 'future_timestamp' | 'malformed_payload';

const REASONS: readonly string[] = [
  'missing_header',
  'malformed_header',
  'bad_signature',
  'stale_timestamp',
  'future_timestamp',
  'malformed_payload',
];

/**
 * A webhook request did not verify (code `invalid_webhook`); {@link WebhookVerificationError.reason}
 * says why, and the subclass too: {@link WebhookHeaderError}, {@link WebhookSignatureError},
 * {@link WebhookTimestampError}, {@link WebhookPayloadError}.
 *
 * @remarks Answer such a request with a 400 and do nothing it asks. A genuine delivery refused by
 * mistake (a wrong secret, a body parser in front) is retried by the platform, so fixing the
 * handler loses nothing.
 *
 * @example
 * ```ts
 * try {
 *   event = await verifyWebhook(body, req.headers, secret);
 * } catch (error) {
 *   if (isWebhookVerificationError(error)) return res.status(400).send(error.reason);
 *   throw error;
 * }
 * ```
 */
export class WebhookVerificationError extends DiamondsError {
  override readonly name: string = 'WebhookVerificationError';
  /** Why it was refused (see {@link WebhookVerificationReason}). */
  readonly reason: WebhookVerificationReason;

  constructor(reason: WebhookVerificationReason, message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'invalid_webhook', cause: options.cause });
    this.reason = reason;
  }
}

/**
 * A signature header is missing, empty or repeated, or `webhook-timestamp` is not a number
 * (reasons `missing_header`, `malformed_header`): not a Diamonds delivery, or a proxy in between
 * dropped headers.
 *
 * @example
 * ```ts
 * if (error instanceof WebhookHeaderError) console.warn('Not a webhook delivery:', error.message);
 * ```
 */
export class WebhookHeaderError extends WebhookVerificationError {
  override readonly name: string = 'WebhookHeaderError';
  declare readonly reason: 'missing_header' | 'malformed_header';

  constructor(reason: 'missing_header' | 'malformed_header', message: string) {
    super(reason, message);
  }
}

/**
 * No signature in `webhook-signature` matches (reason `bad_signature`): the request was forged or
 * changed, the body was parsed before it was verified, or the secret is not this endpoint's.
 *
 * @example
 * ```ts
 * if (error instanceof WebhookSignatureError) console.warn('Forged or mis-configured:', error.message);
 * ```
 */
export class WebhookSignatureError extends WebhookVerificationError {
  override readonly name: string = 'WebhookSignatureError';
  declare readonly reason: 'bad_signature';

  constructor(message: string) {
    super('bad_signature', message);
  }
}

/**
 * A correctly signed delivery whose `webhook-timestamp` is too far from now (reasons
 * `stale_timestamp`, `future_timestamp`): a captured request replayed later, or a clock off.
 *
 * @example
 * ```ts
 * if (error instanceof WebhookTimestampError && error.reason === 'future_timestamp') console.warn('Check this server’s clock');
 * ```
 */
export class WebhookTimestampError extends WebhookVerificationError {
  override readonly name: string = 'WebhookTimestampError';
  declare readonly reason: 'stale_timestamp' | 'future_timestamp';

  constructor(reason: 'stale_timestamp' | 'future_timestamp', message: string) {
    super(reason, message);
  }
}

/**
 * The body cannot be checked or is not an event (reason `malformed_payload`): an object a body
 * parser made instead of the raw bytes, a huge body, or a signed body that is not a Diamonds
 * event this SDK version knows (update the SDK).
 *
 * @example
 * ```ts
 * if (error instanceof WebhookPayloadError) console.error('Read the raw body on the webhook route:', error.message);
 * ```
 */
export class WebhookPayloadError extends WebhookVerificationError {
  override readonly name: string = 'WebhookPayloadError';
  declare readonly reason: 'malformed_payload';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super('malformed_payload', message, options);
  }
}

/**
 * Whether `value` is a {@link WebhookVerificationError} (of any subclass), also from another copy
 * of the SDK.
 *
 * @remarks Checks `instanceof`, else the `code` and `reason` fields, because a backend may load two
 * copies of the SDK.
 *
 * @example
 * ```ts
 * if (isWebhookVerificationError(error)) return new Response(error.reason, { status: 400 });
 * ```
 */
export function isWebhookVerificationError(value: unknown): value is WebhookVerificationError {
  if (value instanceof WebhookVerificationError) return true;
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { name?: unknown; code?: unknown; reason?: unknown; message?: unknown };
  return (
    typeof candidate.name === 'string' &&
    /^Webhook[A-Za-z]*Error$/.test(candidate.name) &&
    candidate.code === 'invalid_webhook' &&
    typeof candidate.message === 'string' &&
    typeof candidate.reason === 'string' &&
    REASONS.includes(candidate.reason)
  );
}
