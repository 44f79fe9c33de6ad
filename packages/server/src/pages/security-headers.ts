import type { MiddlewareHandler } from 'hono';

/**
 * The Content-Security-Policy of every hosted page: no script at all, styles and images only
 * from the platform's own origin, forms only to it, and never inside a frame.
 */
export const HOSTED_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The headers every hosted page (and its stylesheet) carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': HOSTED_CSP,
  // The page that opened a hosted page (a creator's site) gets no handle on it.
  'Cross-Origin-Opener-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/**
 * Adds {@link SECURITY_HEADERS} to every response, error pages included, and
 * `Cache-Control: no-store` unless the handler chose a cache policy itself (the stylesheet).
 */
export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
    if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store');
  };
}
