/**
 * Origins: the allowed origins a creator lists for a site, and matching a browser's `Origin`
 * header against them.
 *
 * @remarks
 * Policy, decided here once:
 *
 * - An allowed origin is exactly scheme, host and port, stored in the form browsers send in
 *   `Origin` (`https://shop.example.com`, `http://localhost:3000`): lowercase host, IDN as
 *   punycode, no default port, no path, query, fragment or user info. Matching is then plain
 *   string equality, with no parsing of the list at request time.
 * - Production origins use https. Plain http is accepted only for loopback hosts, where
 *   browsers treat it as a secure context: `localhost`, `*.localhost`, `127.0.0.1`, `[::1]`.
 * - No wildcards, except three exact development patterns that match any port of a loopback
 *   host: `http://localhost:*`, `http://127.0.0.1:*`, `http://[::1]:*`. A subdomain wildcard
 *   (`https://*.example.com`) is refused: the creator lists each origin instead.
 * - Surrounding whitespace is trimmed (pasted text); whitespace, control or invisible
 *   characters inside are refused rather than silently dropped, as are a trailing dot, a
 *   percent-encoded host and an IPv4 address not written in dotted form, so that what is
 *   stored is what the creator typed, only canonicalised.
 */

/** The longest allowed origin, in characters, as typed and once canonical. */
export const MAX_ORIGIN_LENGTH = 200;

/**
 * The only wildcards an allowed origin may be: any port of a loopback host over http, for
 * local development. `http://localhost:*` matches `http://localhost` (port 80) too.
 */
export const DEVELOPMENT_ORIGIN_PATTERNS = ['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*'] as const;

/** The outcome of {@link parseOrigin}: the canonical origin, or why the input is not one. */
export type ParsedOrigin = { ok: true; origin: string } | { ok: false; reason: string };

/** Hosts that may use plain http (and the development patterns). */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Control, format (zero-width, bidi) and separator characters: none belongs in an origin. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Z}]/u;

const EXAMPLE = '"https://example.com"';

/**
 * Checks an allowed origin as a creator types it and returns its canonical form.
 *
 * @remarks See the module comment for the policy. The reason is a sentence for the creator,
 * with a suggestion when there is an obvious one.
 *
 * @example
 * ```ts
 * parseOrigin('https://Shop.Example.com:443/'); // { ok: true, origin: 'https://shop.example.com' }
 * parseOrigin('http://example.com'); // { ok: false, reason: 'Production origins must use https… }
 * ```
 */
export function parseOrigin(input: string): ParsedOrigin {
  if (typeof input !== 'string') return fail(`An origin is a string such as ${EXAMPLE}.`);
  const text = input.trim();
  if (text === '') return fail(`Enter an origin such as ${EXAMPLE}.`);
  if (text.length > MAX_ORIGIN_LENGTH) {
    return fail(`An origin is at most ${MAX_ORIGIN_LENGTH} characters; this one has ${text.length}.`);
  }
  if (INVISIBLE.test(text)) return fail('An origin may not contain spaces, line breaks, or control or invisible characters.');
  if (text.includes('\\')) return fail(`An origin may not contain a backslash; write it like ${EXAMPLE}.`);

  const pattern = text.toLowerCase().replace(/\/$/, '');
  if ((DEVELOPMENT_ORIGIN_PATTERNS as readonly string[]).includes(pattern)) return { ok: true, origin: pattern };
  if (text.includes('*')) {
    return fail(
      'Wildcards are not allowed: list each origin, such as "https://shop.example.com". ' +
        'For local development, "http://localhost:*", "http://127.0.0.1:*" and "http://[::1]:*" match any port.',
    );
  }

  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (scheme === null) {
    // "example.com", "localhost:3000", "https:/example.com", "https:example.com".
    const suggestion = suggest(/^https?:/i.test(text) ? text : `https://${text}`);
    return fail(`An origin starts with "https://"${suggestion === undefined ? `, such as ${EXAMPLE}` : `: did you mean "${suggestion}"`}.`);
  }
  const protocol = scheme[1]!.toLowerCase();
  if (protocol !== 'https' && protocol !== 'http') {
    return fail(`Only https origins (and http for localhost) can use the API; "${protocol}:" cannot.`);
  }

  const rest = text.slice(scheme[0].length);
  const end = rest.search(/[/?#]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  const tail = end === -1 ? '' : rest.slice(end);
  if (authority === '') return fail(`The origin has no host; write it like ${EXAMPLE}.`);
  if (authority.includes('@')) return fail(`An origin has no user name or password; write it like ${EXAMPLE}.`);
  if (authority.includes('%')) return fail('Write the host without percent-encoding.');
  if (tail !== '' && tail !== '/') {
    const suggestion = suggest(text);
    return fail(
      `An origin is only scheme, host and port, with no path, query or fragment${suggestion === undefined ? '' : `: use "${suggestion}"`}.`,
    );
  }

  let url: URL;
  try {
    url = new URL(`${protocol}://${authority}`);
  } catch {
    return fail(`"${authority}" is not a valid host name (with an optional port).`);
  }
  if (url.port === '0') return fail('Port 0 cannot be used by a web page; give the port the site is served on.');
  const hostProblem = checkHost(url.hostname, authority);
  if (hostProblem !== undefined) return fail(hostProblem);
  if (protocol === 'http' && !isLoopbackHost(url.hostname)) {
    const secure = `https://${url.host}`;
    return fail(
      `Production origins must use https: "${secure}". Plain http is accepted only for localhost, 127.0.0.1 and [::1], for development.`,
    );
  }

  const origin = url.origin;
  if (origin.length > MAX_ORIGIN_LENGTH) {
    return fail(`An origin is at most ${MAX_ORIGIN_LENGTH} characters once written canonically; this one has ${origin.length}.`);
  }
  return { ok: true, origin };
}

/**
 * The canonical form of a request's `Origin` header, or `undefined` when it is missing,
 * `null`, not http(s), or not already exactly what a browser sends.
 *
 * @remarks Browsers send `Origin` canonical, so anything that does not survive a round trip
 * through `URL` unchanged (uppercase, a default port, a trailing slash, a path, user info,
 * surrounding whitespace, a Unicode host) is refused rather than repaired.
 */
export function canonicalRequestOrigin(header: string | undefined | null): string | undefined {
  if (typeof header !== 'string' || header === '' || header === 'null' || header.length > MAX_ORIGIN_LENGTH) return undefined;
  let url: URL;
  try {
    url = new URL(header);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  return url.origin === header ? header : undefined;
}

/**
 * The allowed-origin entries that would let a request's `Origin` in: the origin itself and,
 * for an http loopback origin, its development pattern. Empty when the header is not a
 * canonical origin (see {@link canonicalRequestOrigin}).
 *
 * @remarks For a store that looks origins up (`WHERE origin IN (…)`).
 *
 * @example
 * ```ts
 * allowedOriginCandidates('http://localhost:5173'); // ['http://localhost:5173', 'http://localhost:*']
 * allowedOriginCandidates('null'); // []
 * ```
 */
export function allowedOriginCandidates(requestOrigin: string | undefined | null): string[] {
  const origin = canonicalRequestOrigin(requestOrigin);
  if (origin === undefined) return [];
  const url = new URL(origin);
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return [origin, `http://${url.hostname}:*`];
  return [origin];
}

/**
 * Whether a request's `Origin` header is one of a site's allowed origins.
 *
 * @param allowed - Canonical origins, as returned by {@link parseOrigin}.
 * @remarks Exact match only: `https://example.com.evil.test`, `https://evil-example.com`,
 * `https://example.com:8443`, `http://example.com`, `https://example.com.` and `null` never
 * match `https://example.com`.
 */
export function originAllowed(requestOrigin: string | undefined | null, allowed: readonly string[]): boolean {
  return allowedOriginCandidates(requestOrigin).some((candidate) => allowed.includes(candidate));
}

/** Whether browsers treat http on this host (as `URL.hostname` writes it) as loopback. */
function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || hostname.endsWith('.localhost');
}

/** What is wrong with a host `URL` accepted, if anything. */
function checkHost(hostname: string, authority: string): string | undefined {
  if (hostname.startsWith('[')) return undefined; // IPv6, already validated and compressed by URL.
  if (hostname.endsWith('.')) return `Remove the trailing dot from "${hostname}".`;
  if (hostname.length > 253) return 'The host name is longer than 253 characters.';
  const labels = hostname.split('.');
  if (labels.some((label) => label === '')) return `"${hostname}" has an empty part between dots.`;
  if (labels.some((label) => label.length > 63)) return `"${hostname}" has a part longer than 63 characters.`;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(hostname)) {
    const typed = authority.replace(/:\d*$/, '');
    if (typed !== hostname) return `Write the IP address in dotted decimal form: "${hostname}".`;
  }
  return undefined;
}

/** The canonical origin of a URL-like text, when it has one worth suggesting. */
function suggest(text: string): string | undefined {
  try {
    const url = new URL(text);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
    if (url.username !== '' || url.password !== '') return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

function fail(reason: string): ParsedOrigin {
  return { ok: false, reason };
}
