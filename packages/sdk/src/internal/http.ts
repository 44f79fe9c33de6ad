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
import { ErrorBody, type ResponseSchema } from './schemas.js';

/** The HTTP methods the client sends. */
export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

/** Settings of one {@link Http} instance, fixed when the client is created. */
export interface HttpOptions {
  /** Where the API lives, such as `https://diamonds.example.com`, without a trailing slash; paths are joined onto it. */
  apiBase: string;
  /** Headers on every request (authorization, language). */
  headers: Record<string, string>;
  /**
   * The publishable key, sent as the query's `key` instead of `Authorization` by a request with
   * {@link RequestOptions.keyInQuery} (without it, they keep `Authorization`).
   */
  queryKey?: string | undefined;
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
  /** `false` sends the request once, for a request that must never be repeated. */
  retry?: boolean | undefined;
  /** Headers of this request only, such as the fan's `Diamonds-Token`. */
  headers?: Record<string, string> | undefined;
  /**
   * A public read (a GET, never with a fan's token) that names the publishable key in the query
   * (`?key=pk_…`) instead of `Authorization`: with no header a browser must ask about, it goes out
   * cross-origin as a CORS "simple" request, without a preflight, so it costs one round trip, not
   * two. The platform decides it by that key exactly as by the header (see the server's cors.ts).
   */
  keyInQuery?: boolean | undefined;
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

/** The longest delay `setTimeout` keeps (about 24.8 days); a longer timeout is as good as none. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The wait before retry number `attempt` (1, 2…) when the server names none: 300 ms doubled
 * each time, capped at {@link MAX_BACKOFF_MS}, with full jitter so that clients spread out.
 */
const backoffMs = (attempt: number): number => Math.random() * Math.min(MAX_BACKOFF_MS, 300 * 2 ** (attempt - 1));

/**
 * The client's HTTP layer, a small wrapper of `fetch`: one instance per client.
 *
 * @remarks
 * Retries only failures that are safe to repeat: no response at all (a network error), a 5xx
 * that means "try again" (500, 502, 503, 504) and a 429 whose `Retry-After` is short; never a
 * timeout, an abort or a client error. A POST keeps one `Idempotency-Key` across its retries,
 * so the server applies it at most once; each attempt gets its own `DPoP` proof. Responses are
 * parsed with protocol schemas; every failure is thrown as a `DiamondsError` subclass (except an
 * abort, whose reason is thrown as is).
 */
export class Http {
  readonly #options: HttpOptions;

  constructor(options: HttpOptions) {
    // Nothing is fetched and no global is read until a request.
    this.#options = options;
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
    const { apiBase, timeoutMs, maxRetries, maxRetryAfterMs } = this.#options;
    const { signal, json, dpop } = options;
    const verb = method.toUpperCase();
    const where = `${verb} ${apiBase}/${path}`;
    const headers: Record<string, string> = { ...this.#options.headers, ...options.headers };
    // Chosen once, before the first attempt, so that every retry of this call sends the same key.
    if (method === 'post') headers['Idempotency-Key'] = options.idempotencyKey ?? randomId();
    const body = json === undefined ? undefined : JSON.stringify(json);
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    // Every method is retried after a safe failure, a POST because it carries an `Idempotency-Key`,
    // but a PATCH (the server SDK's), which is sent once.
    const retries = options.retry === false || (method as string) === 'patch' ? 0 : maxRetries;
    // One controller for the whole call: the caller's abort and a timeout (which is never
    // retried) both end it, the body read and any retry wait included.
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    // The abort reason of an attempt that outlived `timeoutMs`.
    const timeout = new DOMException('timeout', 'TimeoutError');
    signal?.addEventListener('abort', onAbort);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let response: Response | undefined;
    let text: string;
    try {
      signal?.throwIfAborted();
      const url = new URL(`${apiBase}/${path}`);
      for (const [name, value] of Object.entries(options.searchParams ?? {})) {
        if (value !== undefined) url.searchParams.set(name, String(value));
      }
      const { queryKey } = this.#options;
      if (options.keyInQuery && queryKey) {
        url.searchParams.set('key', queryKey);
        delete headers.Authorization;
      }
      for (let attempt = 0; ; attempt++) {
        let failure: unknown;
        response = undefined;
        timer = setTimeout(() => controller.abort(timeout), Math.min(timeoutMs, MAX_TIMER_MS));
        try {
          // A new proof per attempt: the platform accepts each proof once.
          const init: RequestInit = {
            method: verb,
            headers: dpop ? { ...headers, DPoP: await dpop(verb, url.href) } : headers,
            body,
            signal: controller.signal,
          };
          response = await (this.#options.fetch ?? fetch)(url.href, init);
        } catch (error) {
          failure = error;
        }
        clearTimeout(timer);
        if (controller.signal.aborted) throw failure;
        let waitMs: number | undefined;
        if (response) {
          if (response.ok) break;
          waitMs = retryAfterMs(response.headers);
          // A 429 says when; without that a retry would only add to the load. A long wait is
          // the caller's decision: the error comes at once.
          const retry =
            RETRY_STATUSES.includes(response.status) && (waitMs === undefined ? response.status !== 429 : waitMs <= maxRetryAfterMs);
          if (!retry || attempt >= retries) throw await apiErrorFrom(response);
          response.body?.cancel().catch(() => undefined);
        } else if (attempt >= retries) {
          throw failure;
        }
        await new Promise<void>((resolve, reject) => {
          controller.signal.throwIfAborted();
          const wait = setTimeout(resolve, waitMs ?? backoffMs(attempt + 1));
          controller.signal.addEventListener('abort', () => (clearTimeout(wait), reject(controller.signal.reason)), { once: true });
        });
      }
      text = await response.text();
    } catch (error) {
      // An abort's reason as is; else the server's error, or no response at all.
      if (signal?.aborted) throw signal.reason ?? error;
      if (error instanceof DiamondsApiError) throw error;
      const timedOut = controller.signal.reason === timeout;
      throw new DiamondsNetworkError(`No response to ${where} ${timedOut ? `within ${timeoutMs} ms` : '(network error)'}.`, {
        code: timedOut ? 'timeout' : 'network_error',
        cause: error,
      });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
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
