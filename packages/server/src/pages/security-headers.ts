import type { MiddlewareHandler } from 'hono';

/**
 * The Content-Security-Policy of every hosted page: no script at all, styles and images only
 * from the platform's own origin, forms only to it, and never inside a frame.
 */
export const HOSTED_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * {@link HOSTED_CSP} plus script from the platform's own origin (never inline): the one CSP a
 * handler may choose instead, for a page that loads a script of ours (the "done" pages load
 * `/hosted/close.js`; the confirmation page and the consent screen load `/hosted/guard.js`, which
 * keeps their decisive button inert for a moment, see guard.ts).
 */
export const HOSTED_CSP_WITH_OWN_SCRIPT = HOSTED_CSP.replace("default-src 'none';", "default-src 'none'; script-src 'self';");

/**
 * Paths of the pages a creator's site opens in a popup (sign-in and consent, confirmations,
 * top-ups), and every page the fan may pass through there (sign-up).
 */
export const POPUP_PAGE_PREFIXES: readonly string[] = ['/signin', '/signup', '/confirm/', '/topup'];

/**
 * The opener policy of popup pages: `unsafe-none`, so that the page that opened the popup can
 * still see that the fan closed it (`popup.closed`); under `same-origin` the browser severs the
 * popup from its opener, which then reads it as closed the moment it reaches us. The opener
 * gains nothing else: it cannot read the page (cross-origin), cannot frame it, and the outcome
 * still comes from the server, never from the popup.
 */
export const POPUP_OPENER_POLICY = 'unsafe-none';

/** The headers every hosted page (and its stylesheet) carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': HOSTED_CSP,
  // A page that opens a hosted page gets no handle on it (popup pages excepted, see above).
  'Cross-Origin-Opener-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  // Not `no-referrer`: under it Chromium sends `Origin: null` with the page's own form posts,
  // and the same-origin check could no longer tell them from a forgery. `same-origin` still
  // sends nothing to other sites (found by the popup sign-in test in Chromium).
  'Referrer-Policy': 'same-origin',
};

/** Whether `path` is a page of the popup flows (see {@link POPUP_PAGE_PREFIXES}). */
export function isPopupPage(path: string): boolean {
  return POPUP_PAGE_PREFIXES.some((prefix) => path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`));
}

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
    if (isPopupPage(c.req.path)) c.res.headers.set('Cross-Origin-Opener-Policy', POPUP_OPENER_POLICY);
    if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store');
  };
}
