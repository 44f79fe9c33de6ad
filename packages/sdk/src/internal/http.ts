import ky, { isHTTPError, isTimeoutError, type KyInstance } from 'ky';
import type { ErrorCode } from '@diamonds/protocol';
import {
  AuthenticationError,
  DiamondsApiError,
  DiamondsNetworkError,
  DiamondsSchemaError,
  InsufficientFundsError,
  RateLimitError,
  type DiamondsApiErrorOptions,
} from '../errors.js';
import { ErrorBody, type ResponseSchema } from './schemas.js';

/** The HTTP methods the client sends. */
export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

/** Settings of one {@link Http} instance, fixed when the client is created. */
export interface HttpOptions {
  /** Where the API lives, such as `https://diamonds.example.com`; paths are joined onto it. */
  apiBase: string;
  /** Headers on every request (authorization, language). */
  headers: Record<string, string>;
  /** The fetch to use; the global one, looked up per request, when absent. */
  fetch: typeof globalThis.fetch | undefined;
  /** How long to wait for response headers before giving up on one attempt. */
  timeoutMs: number;
  /** How many times to retry a request that failed safely. */
  maxRetries: number;
  /** The longest `Retry-After` the client waits out by itself; longer waits fail at once. */
  maxRetryAfterMs: number;
}

/** Options of one request. */
export interface RequestOptions {
  /** Aborts the request (and any retry wait); the abort reason is thrown as is. */
  signal?: AbortSignal | undefined;
  /** The `Idempotency-Key` of a POST; a fresh random key when absent. Ignored for other methods. */
  idempotencyKey?: string | undefined;
  /** A body to send as JSON. */
  json?: unknown;
  /** `false` sends the request once, for a request that must never be repeated (a token refresh). */
  retry?: boolean | undefined;
  /** Headers of this request only, such as the fan's `Diamonds-Token`. */
  headers?: Record<string, string> | undefined;
  /** Query parameters; `undefined` values are left out. */
  searchParams?: Record<string, string | number | boolean | undefined> | undefined;
}

/** Statuses worth retrying: our faults and overload, never a client error. */
const RETRY_STATUSES = [429, 500, 502, 503, 504];

/** Statuses whose `Retry-After` says when to retry. */
const RETRY_AFTER_STATUSES = [429, 503];

/** The longest wait between two retries when the server names none. */
const MAX_BACKOFF_MS = 5_000;

/**
 * The client's HTTP layer, on ky: one instance per client.
 *
 * @remarks
 * Retries only failures that are safe to repeat: no response at all (a network error), a 5xx
 * that means "try again" (500, 502, 503, 504) and a 429 whose `Retry-After` is short. A POST
 * keeps one `Idempotency-Key` across its retries, so the server applies it at most once.
 * Responses are parsed with protocol schemas; every failure is thrown as a `DiamondsError`
 * subclass (except an abort, whose reason is thrown as is).
 */
export class Http {
  readonly #ky: KyInstance;
  readonly #options: HttpOptions;

  constructor(options: HttpOptions) {
    this.#options = options;
    // ky.create only merges options; nothing is fetched and no global is read until a request.
    this.#ky = ky.create({
      prefixUrl: options.apiBase,
      headers: options.headers,
      timeout: options.timeoutMs,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      retry: {
        limit: options.maxRetries,
        // POSTs are safe to repeat because each carries an Idempotency-Key (see request()).
        methods: ['get', 'put', 'delete', 'post'],
        statusCodes: RETRY_STATUSES,
        afterStatusCodes: RETRY_AFTER_STATUSES,
        maxRetryAfter: options.maxRetryAfterMs,
        backoffLimit: MAX_BACKOFF_MS,
        jitter: true,
        // `undefined` leaves the decision (and the delay, from Retry-After) to ky's defaults.
        shouldRetry: ({ error }) => (this.#isRetryable(error) ? undefined : false),
      },
    });
  }

  /**
   * Sends a request and returns its body parsed by `schema`.
   *
   * @param path - Relative to the API base, without a leading slash (`healthz`, `v1/gifts`).
   * @throws {@link DiamondsApiError} (or a subclass) when the server answered with an error.
   * @throws {@link DiamondsNetworkError} when no response came, after retries.
   * @throws {@link DiamondsSchemaError} when the response body failed `schema`.
   */
  async request<T>(method: HttpMethod, path: string, schema: ResponseSchema<T>, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { ...options.headers };
    // Chosen once, outside ky, so that every retry of this call sends the same key.
    if (method === 'post') headers['Idempotency-Key'] = options.idempotencyKey ?? newIdempotencyKey();
    let response: Response;
    let text: string;
    try {
      response = await this.#ky(path, {
        method,
        headers,
        json: options.json,
        searchParams: options.searchParams,
        signal: options.signal,
        ...(options.retry === false ? { retry: 0 } : {}),
      });
      text = await response.text();
    } catch (error) {
      throw await this.#toError(error, method, path, options.signal);
    }
    return parseBody(text, schema, `${method.toUpperCase()} /${path}`, response.headers.get('Request-Id') ?? undefined);
  }

  #isRetryable(error: Error): boolean {
    if (isHTTPError(error)) {
      const { status, headers } = error.response;
      if (!RETRY_STATUSES.includes(status)) return false;
      const waitMs = retryAfterMs(headers);
      // A 429 says when; without that we would only add to the load. A long wait is the
      // caller's decision, so it gets the error (with retryAfterMs) right away.
      if (status === 429 && waitMs === undefined) return false;
      return waitMs === undefined || waitMs <= this.#options.maxRetryAfterMs;
    }
    if (isTimeoutError(error) || error.name === 'AbortError') return false;
    // Anything else came from fetch itself: no response arrived.
    return true;
  }

  async #toError(error: unknown, method: HttpMethod, path: string, signal: AbortSignal | undefined): Promise<unknown> {
    if (signal?.aborted) return signal.reason ?? error;
    if (isHTTPError(error)) return apiErrorFrom(error.response);
    const where = `${method.toUpperCase()} ${joinUrl(this.#options.apiBase, path)}`;
    if (isTimeoutError(error)) {
      return new DiamondsNetworkError(`No response to ${where} within ${this.#options.timeoutMs} ms.`, {
        code: 'timeout',
        cause: error,
      });
    }
    return new DiamondsNetworkError(`Could not reach the Diamonds API: ${where} failed without a response.`, {
      code: 'network_error',
      cause: error,
    });
  }
}

/** A fresh idempotency key: 32 random hex digits (works outside secure contexts, unlike `randomUUID`). */
export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * How long a `Retry-After` header asks to wait, in milliseconds; `undefined` when absent or
 * unreadable. Accepts both forms: delay-seconds and an HTTP date.
 */
export function retryAfterMs(headers: Headers, nowMs: number = Date.now()): number | undefined {
  const value = headers.get('Retry-After')?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const dateMs = Date.parse(value);
  return Number.isNaN(dateMs) ? undefined : Math.max(0, dateMs - nowMs);
}

/** Parses a success body with `schema`, or throws {@link DiamondsSchemaError}. */
function parseBody<T>(text: string, schema: ResponseSchema<T>, what: string, requestId: string | undefined): T {
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch (cause) {
    throw new DiamondsSchemaError(`The response to ${what} is not JSON: ${preview(text)}`, {
      code: 'invalid_response',
      requestId,
      cause,
    });
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.map(String).join('.') || '(body)'}: ${issue.message}`)
      .join('; ');
    throw new DiamondsSchemaError(`The response to ${what} does not match the protocol (${issues}).`, {
      code: 'invalid_response',
      requestId,
      cause: result.error,
    });
  }
  return result.data;
}

/**
 * Turns an error response into the matching {@link DiamondsApiError} subclass.
 *
 * @remarks
 * A body that is not the protocol's error body (a proxy's HTML page, say) still gives an API
 * error, with a generic code for the status, since the status is what the caller acts on; the
 * parse failure is its `cause`.
 */
export async function apiErrorFrom(response: Response): Promise<DiamondsApiError> {
  const { status } = response;
  const headerRequestId = response.headers.get('Request-Id') ?? undefined;
  const waitMs = retryAfterMs(response.headers);
  const text = await response.text().catch(() => '');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = ErrorBody.safeParse(json);
  if (parsed.success) {
    const { type, code, message, param, requestId } = parsed.data.error;
    const options = { code, status, param, requestId, retryAfterMs: waitMs };
    if (code === 'insufficient_funds') return new InsufficientFundsError(message, options);
    if (type === 'authentication_error' || status === 401) return new AuthenticationError(message, options);
    if (type === 'rate_limit_error' || status === 429) return new RateLimitError(message, options);
    return new DiamondsApiError(message, options);
  }
  const options: DiamondsApiErrorOptions & { retryAfterMs?: number | undefined } = {
    code: codeForStatus(status),
    status,
    requestId: headerRequestId,
    cause: parsed.error,
    retryAfterMs: waitMs,
  };
  const message = `The server answered ${status} without a Diamonds error body: ${preview(text)}`;
  if (status === 401) return new AuthenticationError(message, options);
  if (status === 429) return new RateLimitError(message, options);
  return new DiamondsApiError(message, options);
}

/** The generic code for an error status that came without a protocol error body. */
function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return 'authentication_required';
    case 403:
      return 'permission_denied';
    case 404:
      return 'not_found';
    case 405:
      return 'method_not_allowed';
    case 413:
      return 'payload_too_large';
    case 429:
      return 'rate_limited';
    case 502:
    case 503:
    case 504:
      return 'service_unavailable';
    default:
      return status >= 500 ? 'internal_error' : 'invalid_request';
  }
}

/** The start of a body, for an error message. */
function preview(text: string): string {
  if (text === '') return '(empty body)';
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(oneLine.length > 80 ? `${oneLine.slice(0, 80)}…` : oneLine);
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path}`;
}
