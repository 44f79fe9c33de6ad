import { randomId } from './pkce.js';
import type { ErrorCode } from '@diamonds/protocol';
import {
  AuthenticationError,
  DiamondsApiError,
  DiamondsNetworkError,
  DiamondsSchemaError,
  InsufficientFundsError,
  RateLimitError,
  type RateLimitErrorOptions,
} from '../errors.js';
import ky, { isHTTPError, isTimeoutError, type KyInstance } from 'ky';
import { ErrorBody, type ResponseSchema } from './schemas.js';

/** The HTTP methods the client sends. */
export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

/** Settings of one {@link Http} instance, fixed when the client is created. */
export interface HttpOptions {
  /** Where the API lives, such as `https://diamonds.example.com`, without a trailing slash; paths are joined onto it. */
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
  /**
   * Makes the `DPoP` proof of each attempt (a retry needs a new one: the platform accepts a
   * proof once), from the method and URL actually sent.
   */
  dpop?: ((method: string, url: string) => Promise<string>) | undefined;
}

/** Statuses worth retrying: our faults and overload, never a client error. */
const RETRY_STATUSES = [429, 500, 502, 503, 504];

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
      // When undefined, ky looks the global fetch up at each request.
      fetch: options.fetch,
      retry: {
        limit: options.maxRetries,
        // POSTs are safe to repeat because each carries an Idempotency-Key (see request()).
        methods: ['get', 'put', 'delete', 'post'],
        statusCodes: RETRY_STATUSES,
        // Also caps what ky reads from other rate-limit headers (RateLimit-Reset…).
        maxRetryAfter: options.maxRetryAfterMs,
        backoffLimit: MAX_BACKOFF_MS,
        jitter: true,
        // `undefined` leaves the decision (and the delay, from Retry-After) to ky, which retries
        // no timeout and only the statuses above. A 429 says when; without that a retry would
        // only add to the load. A long wait is the caller's decision: the error comes at once.
        shouldRetry: ({ error }) => {
          const waitMs = isHTTPError(error) ? retryAfterMs(error.response.headers) : undefined;
          return (
            isHTTPError(error)
              ? waitMs === undefined
                ? error.response.status === 429
                : waitMs > options.maxRetryAfterMs
              : error.name === 'AbortError'
          )
            ? false
            : undefined;
        },
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
    const where = `${method.toUpperCase()} ${this.#options.apiBase}/${path}`;
    const headers: Record<string, string> = { ...options.headers };
    // Chosen once, outside ky, so that every retry of this call sends the same key.
    if (method === 'post') headers['Idempotency-Key'] = options.idempotencyKey ?? randomId();
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
        // Runs before every attempt, retries included.
        hooks: {
          beforeRequest: [
            async (request) => {
              if (options.dpop) request.headers.set('DPoP', await options.dpop(request.method, request.url));
            },
          ],
        },
      });
      text = await response.text();
    } catch (error) {
      const { signal } = options;
      const timeout = isTimeoutError(error);
      // An abort's reason as is; else the server's error, or no response at all.
      throw signal?.aborted
        ? (signal.reason ?? error)
        : isHTTPError(error)
          ? await apiErrorFrom(error.response)
          : new DiamondsNetworkError(`No response to ${where} ${timeout ? `within ${this.#options.timeoutMs} ms` : '(network error)'}.`, {
              code: timeout ? 'timeout' : 'network_error',
              cause: error,
            });
    }
    return parseBody(text, schema, where, response.headers.get('Request-Id') ?? undefined);
  }
}

/**
 * `value` when it is a whole number of at least `min` (or Infinity, when `infinite`), else a
 * RangeError that names `what`.
 */
export function checkWhole(what: string, value: number, min: number, infinite = false): number {
  need(value >= min && (Number.isInteger(value) || (infinite && value === Infinity)), what, `an integer ≥ ${min}`, value, RangeError);
  return value;
}

/**
 * Throws unless `ok`: a TypeError (or `type`) that says `what` must be `must`, and what it was
 * (`value`, strings quoted).
 */
export function need(ok: unknown, what: string, must: string, value: unknown, type = TypeError): void {
  if (!ok) throw new type(`${what} must be ${must}, not ${typeof value === 'string' ? JSON.stringify(value) : String(value)}.`);
}

/** Every item of a paginated list, page after page (following `nextCursor`) as the caller iterates. */
export async function* pages<T>(
  page: (cursor: string | undefined) => Promise<{ data: T[]; hasMore: boolean; nextCursor: string | null }>,
): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  do {
    const { data, hasMore, nextCursor } = await page(cursor);
    yield* data;
    cursor = hasMore ? (nextCursor ?? undefined) : undefined;
  } while (cursor !== undefined);
}

/** `base/id`, the id escaped: `path('v1/gifts', id)`. */
export function path(base: string, id: string): string {
  return `${base}/${encodeURIComponent(id)}`;
}

/**
 * How long a `Retry-After` header asks to wait, in milliseconds; `undefined` when absent or
 * unreadable. Accepts both forms: delay-seconds and an HTTP date.
 */
export function retryAfterMs(headers: Headers, nowMs: number = Date.now()): number | undefined {
  const value = headers.get('Retry-After')?.trim();
  if (!value) return undefined;
  const waitMs = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - nowMs;
  return Number.isNaN(waitMs) ? undefined : Math.max(0, waitMs);
}

/** Parses a success body with `schema`, or throws {@link DiamondsSchemaError}. */
function parseBody<T>(text: string, schema: ResponseSchema<T>, what: string, requestId: string | undefined): T {
  const json = parseJson(text);
  if (json instanceof SyntaxError) {
    throw new DiamondsSchemaError(`Not JSON from ${what}: ${preview(text)}`, {
      code: 'invalid_response',
      requestId,
      cause: json,
    });
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.map(String).join('.') || '(body)'}: ${issue.message}`)
      .join('; ');
    throw new DiamondsSchemaError(`Unexpected response to ${what}: ${issues}`, {
      code: 'invalid_response',
      requestId,
      cause: result.error,
    });
  }
  return result.data;
}

/** `text` parsed as JSON (`undefined` when empty), or the SyntaxError. */
function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch (error) {
    return error;
  }
}

/**
 * The generic code for an error status that came without a protocol error body; any other is
 * `invalid_request` (4xx), `service_unavailable` (502 to 504) or `internal_error`.
 */
const CODE_FOR_STATUS: Partial<Record<number, ErrorCode>> = {
  401: 'authentication_required',
  403: 'permission_denied',
  404: 'not_found',
  429: 'rate_limited',
};

/**
 * Turns an error response into the matching {@link DiamondsApiError} subclass.
 *
 * @remarks
 * A body that is not the protocol's error body (a proxy's HTML page, say) still gives an API
 * error, with a generic code for the status, since the status is what the caller acts on; the
 * parse failure is its `cause`.
 */
export async function apiErrorFrom(response: Response): Promise<DiamondsApiError> {
  const { status, headers } = response;
  const text = await response.text().catch(() => '');
  // Not JSON (the SyntaxError) is no error body either.
  const parsed = ErrorBody.safeParse(parseJson(text));
  const body = parsed.success ? parsed.data.error : undefined;
  // Without an error body the status decides, and the parse failure is the cause.
  const options: RateLimitErrorOptions = {
    code:
      body?.code ??
      CODE_FOR_STATUS[status] ??
      (status > 501 && status < 505 ? 'service_unavailable' : status > 499 ? 'internal_error' : 'invalid_request'),
    status,
    param: body?.param,
    requestId: body?.requestId ?? headers.get('Request-Id') ?? undefined,
    cause: parsed.success ? undefined : parsed.error,
    retryAfterMs: retryAfterMs(headers),
  };
  const message = body?.message ?? `HTTP ${status} without a Diamonds error body: ${preview(text)}`;
  // Every `authentication_error` is a 401 and every `rate_limit_error` a 429 (protocol errors.ts).
  const ErrorClass =
    options.code === 'insufficient_funds'
      ? InsufficientFundsError
      : status === 401
        ? AuthenticationError
        : status === 429
          ? RateLimitError
          : DiamondsApiError;
  return new ErrorClass(message, options);
}

/** The start of a body, quoted (`""` when empty), for an error message. */
const preview = (text: string): string => JSON.stringify(text.slice(0, 80));
