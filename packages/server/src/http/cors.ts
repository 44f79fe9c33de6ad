import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from '../errors.js';
import type { KeyKind } from '../identity/sites.js';
import { canonicalRequestOrigin, originAllowed } from './origins.js';

/*
 * CORS on /v1, decided by the publishable key's origins.
 *
 * The preflight problem: a browser sends the preflight (OPTIONS with Origin and
 * Access-Control-Request-Method) without the Authorization header, so the preflight cannot
 * see the key the actual request will carry. The decision:
 *
 * 1. The actual request is always decided strictly, by its Authorization key alone: its Origin
 *    must be one of that key's site's origins, or it gets 403 origin_not_allowed before any
 *    handler runs. This is the security boundary; the preflight is not. The refusal of a read
 *    (GET) that carries the key alone (no fan's token) has Access-Control-Allow-Origin for the
 *    well-formed origin that asked, so the page can read it: the elements then tell the site's
 *    owner which origin to add, and where, instead of "cannot reach Diamonds". It holds the
 *    error body alone (type, code, message, request id) and no data: nothing a page on that
 *    origin could not learn from the same request made with curl. Any other refusal (a write,
 *    a request with a token, a `null` or malformed origin) has no Access-Control-Allow-Origin.
 * 2. A preflight that names its key in the query (`?key=pk_…`, for a client that wants the
 *    check as early as possible) is decided by that key's origins, exactly as in 1. An actual
 *    request with Authorization ignores `key`: Authorization alone decides it.
 * 5. A read (GET) without Authorization may name its publishable key in the query instead
 *    (`?key=pk_…`): then it needs no header a browser must ask about, so it goes out as a CORS
 *    "simple" request with no preflight (a page's first read of the public catalog costs one
 *    round trip, not two). It is decided exactly as in 1, by that key: nothing is lost, since the
 *    preflight of a read was never the boundary (4 answers it for any well-formed origin) and
 *    reads move nothing. Only a publishable key: a secret key in a URL (logs, history, Referer)
 *    is refused, and so is a read a browser makes as a no-cors load (`<img>`, `<script>`:
 *    `Sec-Fetch-Mode: no-cors`, no Origin to check), so that such a URL reaches a handler from a
 *    browser only as a CORS request, as with the header. Writes take the key in Authorization only.
 * 3. Any other preflight is allowed when some active site (one with a live publishable key)
 *    lists the origin (`isOriginRegistered`).
 * 4. A well-formed origin that no site lists (or, with `?key=`, that the key's site does not
 *    list) may send reads only: its preflight for GET is answered (GET, with Authorization and
 *    Accept-Language, not cached), so that the page's first read reaches 1 and comes back as a
 *    readable origin_not_allowed. Its preflight for any other method is refused, as are `null`,
 *    malformed and look-alike origins: 403 origin_not_allowed and no Access-Control-Allow-Origin,
 *    so such a page cannot even get a write sent. What this reveals is only whether some site
 *    lists an origin.
 *
 * Reflecting any origin on a preflight would also be safe (no credentials ride on it: we never
 * send Access-Control-Allow-Credentials, so cookies are never sent cross-site), but it would
 * let every page make the browser send any request; 3 and 4 cost one lookup per preflight,
 * which browsers then cache for Access-Control-Max-Age (3 only).
 *
 * Other errors from this middleware never carry Access-Control-Allow-Origin, not even 401
 * invalid_api_key: an unknown key allows no origin. A developer still sees the status and the
 * error body (with its code and request id) in the browser's network panel, and the same
 * request without Origin (curl, the SDK in Node) gets the same error readable.
 *
 * Responses to allowed origins (errors from handlers included, since the headers are set
 * before the handler runs) carry Access-Control-Allow-Origin and expose Request-Id,
 * Retry-After and Idempotency-Key. Every /v1 response carries `Vary: Origin`.
 *
 * Secret keys: a request that comes from a browser (it has Origin, or Sec-Fetch-Site, which
 * browsers send and page scripts cannot set; not Sec-Fetch-Mode, which Node's own fetch sends
 * too) with a secret key is refused with
 * secret_key_in_browser before the key is even looked up; without either header (a site's
 * backend) it passes. Publishable keys without Origin pass too (the SDK in Node, curl): the
 * Origin check protects fans' browsers, and a non-browser client could forge Origin anyway.
 */

/** Methods a browser may send cross-origin to `/v1` (`Access-Control-Allow-Methods`). */
export const CORS_ALLOWED_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Request headers a browser may send cross-origin (`Access-Control-Allow-Headers`). */
export const CORS_ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'Idempotency-Key',
  'Accept-Language',
  'Diamonds-Token',
  'DPoP',
] as const;

/**
 * What a preflight from an origin no site lists may ask for: a read with the key (4 atop this
 * file), never a token, a body or an idempotency key.
 */
export const CORS_UNLISTED_HEADERS = ['Authorization', 'Accept-Language'] as const;

/** Response headers a page may read (`Access-Control-Expose-Headers`). */
export const CORS_EXPOSED_HEADERS = ['Request-Id', 'Retry-After', 'Idempotency-Key'] as const;

/** How long a browser may cache a preflight answer (`Access-Control-Max-Age`), in seconds. */
export const CORS_MAX_AGE_SECONDS = 600;

/** Who made a `/v1` request, as established by {@link corsByPublishableKey}. */
export interface Caller {
  /** The site the key belongs to. */
  siteId: string;
  keyKind: KeyKind;
  /** The request's canonical `Origin`, allowed for the site; `undefined` without `Origin`. */
  origin: string | undefined;
}

/** The Hono variables {@link corsByPublishableKey} sets; merge them into the app's `Variables`. */
export interface CallerVariables {
  caller: Caller;
}

/** What the key store knows about an active publishable key. */
export interface PublishableKeyRecord {
  siteId: string;
  /** The site's allowed origins, canonical (see `parseOrigin`). */
  origins: readonly string[];
}

/** What the key store knows about an active secret key. */
export interface SecretKeyRecord {
  siteId: string;
}

/** Options of {@link corsByPublishableKey}: the key store it asks. */
export interface CorsByPublishableKeyOptions {
  /** The active publishable key's site and origins; `undefined` when unknown or revoked. */
  lookupPublishableKey(key: string): Promise<PublishableKeyRecord | undefined>;
  /** The active secret key's site (compare hashes); `undefined` when unknown or revoked. */
  lookupSecretKey(key: string): Promise<SecretKeyRecord | undefined>;
  /**
   * Whether some active site allows this canonical origin, development patterns included;
   * `allowedOriginCandidates(origin)` gives the entries to look for. Answers keyless
   * preflights.
   */
  isOriginRegistered(origin: string): Promise<boolean>;
}

/** A key's shape: a kind prefix then URL-safe characters. Anything else is not our key. */
const KEY_SHAPE = /^(pk|sk)_[A-Za-z0-9_-]{1,200}$/;

/**
 * Authenticates `/v1` requests by API key and answers CORS by the key's site's origins.
 *
 * @remarks
 * Mount on `/v1/*` after the request-id middleware. Sets `caller`; answers preflights itself
 * (204) without calling the handler. See the comment atop this file for the decisions.
 *
 * @throws {@link ApiError} `authentication_required` (no key), `invalid_api_key` (malformed,
 * unknown or revoked), `secret_key_in_browser`, `origin_not_allowed`.
 * @example
 * ```ts
 * app.use('/v1/*', corsByPublishableKey({ lookupPublishableKey, lookupSecretKey, isOriginRegistered }));
 * ```
 */
export function corsByPublishableKey(options: CorsByPublishableKeyOptions): MiddlewareHandler<{ Variables: CallerVariables }> {
  return async (c, next) => {
    // The answer depends on Origin whatever it is, errors included: caches must key on it.
    c.header('Vary', 'Origin', { append: true });
    const originHeader = c.req.header('Origin');

    if (c.req.method === 'OPTIONS' && originHeader !== undefined && c.req.header('Access-Control-Request-Method') !== undefined) {
      const listed = await checkPreflight(c, originHeader, options);
      setCorsHeaders(c, originHeader);
      if (listed) {
        c.header('Access-Control-Allow-Methods', CORS_ALLOWED_METHODS.join(', '));
        c.header('Access-Control-Allow-Headers', CORS_ALLOWED_HEADERS.join(', '));
        c.header('Access-Control-Max-Age', String(CORS_MAX_AGE_SECONDS));
      } else {
        // Reads only, and not cached: once the owner adds the origin, the next preflight is 3.
        c.header('Access-Control-Allow-Methods', 'GET');
        c.header('Access-Control-Allow-Headers', CORS_UNLISTED_HEADERS.join(', '));
      }
      return c.body(null, 204);
    }

    const key = queryKey(c) ?? bearerKey(c.req.header('Authorization'));
    const kind = keyKind(key);
    if (kind === 'secret') {
      if (originHeader !== undefined || c.req.header('Sec-Fetch-Site') !== undefined) throw secretKeyInBrowser();
      const record = await options.lookupSecretKey(key);
      if (record === undefined) throw unknownKey(key);
      c.set('caller', { siteId: record.siteId, keyKind: 'secret', origin: undefined });
      return next();
    }

    const record = await options.lookupPublishableKey(key);
    if (record === undefined) throw unknownKey(key);
    let origin: string | undefined;
    if (originHeader !== undefined) {
      origin = canonicalRequestOrigin(originHeader);
      if (origin === undefined) throw originNotAllowed(originHeader, key);
      if (!originAllowed(origin, record.origins)) {
        // A read with the key alone: its refusal is readable by the page that asked (1 above).
        if (c.req.method === 'GET' && c.req.header('Diamonds-Token') === undefined) setCorsHeaders(c, origin);
        throw originNotAllowed(originHeader, key);
      }
      setCorsHeaders(c, origin);
    }
    c.set('caller', { siteId: record.siteId, keyKind: 'publishable', origin });
    return next();
  };
}

/**
 * Decides a preflight from `originHeader` (see the comment atop this file): `true` for a listed
 * origin (3, or 2 with its key's origins), `false` for a read from a well-formed origin not
 * listed (4); throws for anything else.
 */
async function checkPreflight(c: Context, originHeader: string, options: CorsByPublishableKeyOptions): Promise<boolean> {
  const origin = canonicalRequestOrigin(originHeader);
  const key = c.req.query('key');
  let listed: boolean;
  if (key !== undefined) {
    const kind = keyKind(key);
    if (kind === 'secret') throw secretKeyInBrowser();
    if (kind === undefined) throw new ApiError('invalid_api_key', 'The key parameter is not a publishable key (pk_…).', { param: 'key' });
    const record = await options.lookupPublishableKey(key);
    if (record === undefined) throw unknownKey(key);
    listed = origin !== undefined && originAllowed(origin, record.origins);
  } else {
    listed = origin !== undefined && (await options.isOriginRegistered(origin));
  }
  if (!listed && (origin === undefined || c.req.header('Access-Control-Request-Method') !== 'GET')) {
    throw originNotAllowed(originHeader, key);
  }
  return listed;
}

function setCorsHeaders(c: Context, origin: string): void {
  c.header('Access-Control-Allow-Origin', origin);
  c.header('Access-Control-Expose-Headers', CORS_EXPOSED_HEADERS.join(', '));
}

/**
 * The publishable key a read names in its query (5 atop this file), or `undefined` when the
 * request is no such read (it has Authorization, is not a GET, or has no `key`); throws for a
 * key that is not publishable, or a no-cors load from a browser.
 */
function queryKey(c: Context): string | undefined {
  if (c.req.method !== 'GET' || c.req.header('Authorization') !== undefined) return undefined;
  const key = c.req.query('key');
  if (key === undefined) return undefined;
  const kind = keyKind(key);
  if (kind === 'secret' && (c.req.header('Origin') !== undefined || c.req.header('Sec-Fetch-Site') !== undefined)) {
    throw secretKeyInBrowser();
  }
  if (kind !== 'publishable') {
    throw new ApiError(
      'invalid_api_key',
      kind === 'secret'
        ? 'A secret key (sk_…) never goes in a URL, where logs and history keep it: send it as the header Authorization: Bearer <key>, and roll this one in the dashboard.'
        : 'The key parameter is not a publishable key (pk_…).',
      { param: 'key' },
    );
  }
  if (c.req.header('Sec-Fetch-Mode') === 'no-cors') {
    throw new ApiError(
      'origin_not_allowed',
      'A read that names its key in the query must be a CORS request (fetch), so that its Origin can be checked; an <img> or <script> load is not.',
      { param: 'key' },
    );
  }
  return key;
}

/** The key in an `Authorization: Bearer <key>` header; throws when there is none or it is not one. */
function bearerKey(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === '') {
    throw new ApiError(
      'authentication_required',
      "No API key. Send your site's key as the header Authorization: Bearer <key> (pk_… from a page, sk_… from your server).",
    );
  }
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  if (match === null) {
    throw new ApiError('invalid_api_key', 'Send the API key as the header Authorization: Bearer <key>; other schemes are not accepted.');
  }
  const key = match[1]!;
  if (!KEY_SHAPE.test(key)) {
    throw new ApiError('invalid_api_key', 'That is not a Diamonds API key: keys start with "pk_" (publishable) or "sk_" (secret).');
  }
  return key;
}

/** The kind of a well-formed key, or `undefined` for anything else (a `?key=` value). */
function keyKind(key: string): KeyKind | undefined {
  if (!KEY_SHAPE.test(key)) return undefined;
  return key.startsWith('sk_') ? 'secret' : 'publishable';
}

/** A key as it may appear in a message: its prefix and last four characters. */
function redact(key: string): string {
  if (!KEY_SHAPE.test(key)) return 'the key given';
  const prefix = /^(?:pk|sk)_(?:(?:test|live)_)?/.exec(key)![0];
  return key.length - prefix.length > 8 ? `${prefix}…${key.slice(-4)}` : `${prefix}…`;
}

function unknownKey(key: string): ApiError {
  return new ApiError(
    'invalid_api_key',
    `No active API key matches ${redact(key)}. It may have been revoked or mistyped; check it in the dashboard.`,
  );
}

function secretKeyInBrowser(): ApiError {
  return new ApiError(
    'secret_key_in_browser',
    "A secret key (sk_…) was sent from a browser. Secret keys belong on your server: anyone who can load the page can read it. Use the site's publishable key (pk_…) in pages, and roll this secret key in the dashboard.",
  );
}

function originNotAllowed(originHeader: string, key: string | undefined): ApiError {
  const shown = originHeader.length > 100 ? `${originHeader.slice(0, 100)}…` : originHeader;
  const whose = key === undefined ? 'any site' : `the site of ${redact(key)}`;
  return new ApiError(
    'origin_not_allowed',
    `The origin ${JSON.stringify(shown)} is not allowed for ${whose}. Add the page's exact origin (scheme, host and port) to the site's allowed origins.`,
  );
}
