import type { MiddlewareHandler } from 'hono';

/**
 * The Content-Security-Policy of every hosted page: no script at all, styles and images only
 * from the platform's own origin, forms only to it, and never inside a frame.
 */
export const HOSTED_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * {@link HOSTED_CSP} plus script from the platform's own origin (never inline): the one CSP a
 * handler may choose instead, for a page that loads a script of ours (the consent screen's
 * "done" page loads `/hosted/close.js`).
 */
export const HOSTED_CSP_WITH_OWN_SCRIPT = HOSTED_CSP.replace("default-src 'none';", "default-src 'none'; script-src 'self';");

/** The headers every hosted page (and its stylesheet) carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': HOSTED_CSP,
  // The page that opened a hosted page (a creator's site) gets no handle on it.
  'Cross-Origin-Opener-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  // Not `no-referrer`: under it Chromium sends `Origin: null` with the page's own form posts,
  // and the same-origin check could no longer tell them from a forgery. `same-origin` still
  // sends nothing to other sites (found by the popup sign-in test in Chromium).
  'Referrer-Policy': 'same-origin',
};

/**
 * Adds {@link SECURITY_HEADERS} to every response, error pages included, and
 * `Cache-Control: no-store` unless the handler chose a cache policy itself (the stylesheet).
 * A handler that set exactly {@link HOSTED_CSP_WITH_OWN_SCRIPT} keeps it; any other CSP is
 * replaced by {@link HOSTED_CSP}.
 */
export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const ownScript = c.res.headers.get('Content-Security-Policy') === HOSTED_CSP_WITH_OWN_SCRIPT;
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
    if (ownScript) c.res.headers.set('Content-Security-Policy', HOSTED_CSP_WITH_OWN_SCRIPT);
    if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store');
  };
}
