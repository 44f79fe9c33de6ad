import { z } from 'zod';

/**
 * The broad class of an error, as in the payment APIs developers already know.
 *
 * - `invalid_request_error`: the request was malformed or named something that is not there.
 * - `authentication_error`: no valid key or token.
 * - `permission_error`: a valid credential that may not do this.
 * - `idempotency_error`: an `Idempotency-Key` was misused.
 * - `ledger_error`: the ledger refused a movement of Diamonds (for example insufficient funds).
 * - `rate_limit_error`: too many requests; retry after the `Retry-After` header.
 * - `api_error`: our fault; safe to retry with the same idempotency key.
 */
export const ErrorType = z.enum([
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'idempotency_error',
  'ledger_error',
  'rate_limit_error',
  'api_error',
]);

/** The broad class of an error (see {@link ErrorType}). */
export type ErrorType = z.infer<typeof ErrorType>;

/**
 * Every error code the platform returns, with its type and HTTP status.
 *
 * @remarks
 * Codes are stable: a client may switch on them. New codes may be added; existing ones keep
 * their meaning. The message that comes with a code is for developers and may change.
 */
export const ERROR_CODES = {
  // Malformed or impossible requests.
  invalid_request: { type: 'invalid_request_error', status: 400 },
  invalid_json: { type: 'invalid_request_error', status: 400 },
  invalid_id: { type: 'invalid_request_error', status: 400 },
  invalid_amount: { type: 'invalid_request_error', status: 400 },
  amount_too_large: { type: 'invalid_request_error', status: 400 },
  invalid_currency: { type: 'invalid_request_error', status: 400 },
  invalid_cursor: { type: 'invalid_request_error', status: 400 },
  invalid_event_type: { type: 'invalid_request_error', status: 400 },
  event_not_found: { type: 'invalid_request_error', status: 404 },
  invalid_metadata: { type: 'invalid_request_error', status: 400 },
  same_account: { type: 'invalid_request_error', status: 400 },
  postings_unbalanced: { type: 'invalid_request_error', status: 400 },
  not_found: { type: 'invalid_request_error', status: 404 },
  account_not_found: { type: 'invalid_request_error', status: 404 },
  transfer_not_found: { type: 'invalid_request_error', status: 404 },
  method_not_allowed: { type: 'invalid_request_error', status: 405 },
  payload_too_large: { type: 'invalid_request_error', status: 413 },
  unsupported_media_type: { type: 'invalid_request_error', status: 415 },
  quote_expired: { type: 'invalid_request_error', status: 409 },
  quote_not_found: { type: 'invalid_request_error', status: 404 },
  quote_used: { type: 'invalid_request_error', status: 409 },
  rate_unavailable: { type: 'invalid_request_error', status: 404 },
  email_taken: { type: 'invalid_request_error', status: 409 },
  site_not_found: { type: 'invalid_request_error', status: 404 },
  key_not_found: { type: 'invalid_request_error', status: 404 },
  invalid_origin: { type: 'invalid_request_error', status: 400 },
  site_creator_not_found: { type: 'invalid_request_error', status: 404 },
  too_many_site_creators: { type: 'invalid_request_error', status: 409 },
  signin_request_not_found: { type: 'invalid_request_error', status: 404 },
  signin_request_expired: { type: 'invalid_request_error', status: 409 },
  signin_request_used: { type: 'invalid_request_error', status: 409 },
  signin_request_decided: { type: 'invalid_request_error', status: 409 },
  invalid_code_verifier: { type: 'invalid_request_error', status: 400 },
  invalid_signin_code: { type: 'invalid_request_error', status: 400 },
  // Money flows: gifts, content, orders, confirmations, payments.
  creator_not_found: { type: 'invalid_request_error', status: 404 },
  cannot_gift_self: { type: 'invalid_request_error', status: 400 },
  invalid_message: { type: 'invalid_request_error', status: 400 },
  invalid_quantity: { type: 'invalid_request_error', status: 400 },
  gift_not_found: { type: 'invalid_request_error', status: 404 },
  content_not_found: { type: 'invalid_request_error', status: 404 },
  already_unlocked: { type: 'invalid_request_error', status: 409 },
  threshold_not_met: { type: 'permission_error', status: 403 },
  not_entitled: { type: 'permission_error', status: 403 },
  content_archived: { type: 'invalid_request_error', status: 409 },
  product_not_found: { type: 'invalid_request_error', status: 404 },
  order_not_found: { type: 'invalid_request_error', status: 404 },
  out_of_stock: { type: 'invalid_request_error', status: 409 },
  order_already_paid: { type: 'invalid_request_error', status: 409 },
  order_not_paid: { type: 'invalid_request_error', status: 409 },
  order_pending_confirmation: { type: 'invalid_request_error', status: 409 },
  order_already_refunded: { type: 'invalid_request_error', status: 409 },
  order_canceled: { type: 'invalid_request_error', status: 409 },
  confirmation_not_found: { type: 'invalid_request_error', status: 404 },
  confirmation_expired: { type: 'invalid_request_error', status: 409 },
  confirmation_decided: { type: 'invalid_request_error', status: 409 },
  payment_not_found: { type: 'invalid_request_error', status: 404 },
  invalid_card: { type: 'invalid_request_error', status: 400 },
  payment_provider_disabled: { type: 'invalid_request_error', status: 409 },
  webhook_signature_invalid: { type: 'invalid_request_error', status: 400 },
  payment_amount_mismatch: { type: 'invalid_request_error', status: 400 },
  // Disputes and refunds of top-ups.
  topup_not_credited: { type: 'invalid_request_error', status: 409 },
  topup_already_reversed: { type: 'invalid_request_error', status: 409 },
  wallet_in_debt: { type: 'ledger_error', status: 402 },
  // Earnings.
  invalid_date_range: { type: 'invalid_request_error', status: 400 },
  // Payouts.
  payout_below_minimum: { type: 'invalid_request_error', status: 400 },
  insufficient_available_earnings: { type: 'ledger_error', status: 402 },
  email_unverified: { type: 'permission_error', status: 403 },
  payout_method_not_ready: { type: 'invalid_request_error', status: 409 },
  payout_in_progress: { type: 'invalid_request_error', status: 409 },
  payout_not_found: { type: 'invalid_request_error', status: 404 },
  payout_not_retryable: { type: 'invalid_request_error', status: 409 },
  payout_not_cancelable: { type: 'invalid_request_error', status: 409 },
  // Webhook endpoints.
  invalid_url: { type: 'invalid_request_error', status: 400 },
  too_many_endpoints: { type: 'invalid_request_error', status: 400 },
  webhook_endpoint_not_found: { type: 'invalid_request_error', status: 404 },
  webhook_endpoint_disabled: { type: 'invalid_request_error', status: 409 },
  // Credentials and the embed boundary.
  authentication_required: { type: 'authentication_error', status: 401 },
  invalid_credentials: { type: 'authentication_error', status: 401 },
  invalid_api_key: { type: 'authentication_error', status: 401 },
  invalid_token: { type: 'authentication_error', status: 401 },
  invalid_dpop_proof: { type: 'authentication_error', status: 401 },
  origin_not_allowed: { type: 'permission_error', status: 403 },
  host_not_allowed: { type: 'invalid_request_error', status: 421 },
  secret_key_in_browser: { type: 'permission_error', status: 403 },
  permission_denied: { type: 'permission_error', status: 403 },
  // Idempotency.
  idempotency_key_required: { type: 'idempotency_error', status: 400 },
  idempotency_key_invalid: { type: 'idempotency_error', status: 400 },
  idempotency_key_reused: { type: 'idempotency_error', status: 422 },
  idempotency_request_in_progress: { type: 'idempotency_error', status: 409 },
  // The ledger.
  insufficient_funds: { type: 'ledger_error', status: 402 },
  account_frozen: { type: 'ledger_error', status: 403 },
  transfer_not_pending: { type: 'ledger_error', status: 409 },
  transfer_already_resolved: { type: 'ledger_error', status: 409 },
  reservation_expired: { type: 'ledger_error', status: 409 },
  confirmation_required: { type: 'ledger_error', status: 402 },
  card_declined: { type: 'ledger_error', status: 402 },
  payment_failed: { type: 'ledger_error', status: 402 },
  // Live stream alerts: an overlay URL that was regenerated (or never existed).
  overlay_replaced: { type: 'invalid_request_error', status: 410 },
  // The creator fund (`diamonds fund …`): a period's dates, its pool, its state.
  fund_period_invalid: { type: 'invalid_request_error', status: 400 },
  fund_pool_invalid: { type: 'invalid_request_error', status: 400 },
  fund_period_overlaps: { type: 'invalid_request_error', status: 409 },
  fund_period_not_found: { type: 'invalid_request_error', status: 404 },
  fund_period_open: { type: 'invalid_request_error', status: 409 },
  // Boosts: a budget, its dates, the item boosted.
  boost_budget_invalid: { type: 'invalid_request_error', status: 400 },
  boost_dates_invalid: { type: 'invalid_request_error', status: 400 },
  boost_url_invalid: { type: 'invalid_request_error', status: 400 },
  insufficient_earnings: { type: 'invalid_request_error', status: 400 },
  boost_item_not_found: { type: 'invalid_request_error', status: 404 },
  boost_already_active: { type: 'invalid_request_error', status: 409 },
  boost_not_found: { type: 'invalid_request_error', status: 404 },
  // Collaboration splits: invitations and the shares of a split (nothing moves on a refusal).
  shares_must_total_10000: { type: 'invalid_request_error', status: 400 },
  share_must_be_positive: { type: 'invalid_request_error', status: 400 },
  collaborator_not_accepted: { type: 'invalid_request_error', status: 400 },
  duplicate_collaborator: { type: 'invalid_request_error', status: 400 },
  split_owner_missing: { type: 'invalid_request_error', status: 400 },
  split_item_not_found: { type: 'invalid_request_error', status: 404 },
  collaboration_not_found: { type: 'invalid_request_error', status: 404 },
  cannot_collaborate_with_self: { type: 'invalid_request_error', status: 400 },
  // Load and our own faults.
  rate_limited: { type: 'rate_limit_error', status: 429 },
  database_busy: { type: 'api_error', status: 503 },
  service_unavailable: { type: 'api_error', status: 503 },
  internal_error: { type: 'api_error', status: 500 },
} as const satisfies Record<string, { type: ErrorType; status: number }>;

/** A stable error code (a key of {@link ERROR_CODES}). */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The stable error codes, as a zod enum. */
export const ErrorCode = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);

/** The HTTP status that goes with an error code. */
export function errorStatus(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/** The error type that goes with an error code. */
export function errorType(code: ErrorCode): ErrorType {
  return ERROR_CODES[code].type;
}

/**
 * The one shape of every error response.
 *
 * @example
 * ```json
 * { "error": { "type": "ledger_error", "code": "insufficient_funds",
 *   "message": "The wallet holds 40 Diamonds; this needs 100.", "requestId": "req_…" } }
 * ```
 */
export const ErrorBody = z.object({
  error: z.object({
    type: ErrorType,
    /**
     * A string rather than {@link ErrorCode} so that an older client still parses a code added
     * later; compare it against {@link ErrorCode} values.
     */
    code: z.string().min(1),
    message: z.string(),
    /** The request field that was wrong, as a dotted path (`postings.1.amountDiamonds`). */
    param: z.string().optional(),
    requestId: z.string(),
  }),
});

/** The body of every error response (see {@link ErrorBody}). */
export type ErrorBody = z.infer<typeof ErrorBody>;
