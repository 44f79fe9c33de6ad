import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { html } from 'hono/html';
import type { AppContext, AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { hashSecret } from '../identity/users.js';
import { page, type Html } from '../pages/layout.js';
import { SECURITY_HEADERS } from '../pages/security-headers.js';
import { currentSession } from '../pages/session.js';
import { overlayCreator } from './live.js';
import { OVERLAY_CSS } from './overlay-assets.js';
import { OVERLAY_SCRIPT } from './overlay-script.js';
import { overlayOf, overlaySeenOperation, OVERLAY_SEEN_INTERVAL_MS, type OverlayOptions } from './overlay.js';
import { openLiveStream } from './routes.js';

/** Where a creator's overlay lives: `/live/overlay/{token}` (the token is the credential). */
export const OVERLAY_PATH = '/live/overlay';

/** The creator's own preview of the overlay (signed in; checkerboard background, a sample alert). */
export const OVERLAY_PREVIEW_PATH = `${OVERLAY_PATH}/preview`;

/** The overlay's script, from the platform's own origin. */
export const OVERLAY_SCRIPT_PATH = '/live/overlay.js';

/** The overlay's stylesheet. */
export const OVERLAY_CSS_PATH = '/live/overlay.css';

/**
 * The overlay's Content-Security-Policy: the hosted pages' (nothing from elsewhere, never in a
 * frame) plus script from our origin and `connect-src 'self'` for its event stream.
 */
export const OVERLAY_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/** Refused streams (too many from one address) are told to come back after this many seconds. */
const STREAM_RETRY_AFTER_S = 30;

/** The hosted pages' headers with {@link OVERLAY_CSP}; no referrer at all (the URL is a secret). */
function overlayHeaders(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    // A stream written straight to Node's response has sent its headers (and `c.res` is a
    // shared marker, not this response's).
    if (c.res.headers.has('x-hono-already-sent')) return;
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
    c.res.headers.set('Content-Security-Policy', OVERLAY_CSP);
    c.res.headers.set('Referrer-Policy', 'no-referrer');
    c.res.headers.set('X-Robots-Tag', 'noindex');
    if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store');
  };
}

/** The overlay page: the alert box and the goal bar, driven by the script from the stream at `streamPath`. */
function overlayPage(options: OverlayOptions, streamPath: string, preview: boolean): Html {
  const on = (flag: boolean) => (flag ? 'on' : 'off');
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="robots" content="noindex" />
        <meta name="referrer" content="no-referrer" />
        <title>Stream alerts · Diamonds</title>
        <link rel="stylesheet" href="${OVERLAY_CSS_PATH}" />
        <script src="${OVERLAY_SCRIPT_PATH}" defer></script>
      </head>
      <body
        class="${preview ? 'overlay preview' : 'overlay'}"
        data-stream="${streamPath}"
        data-duration="${options.durationMs}"
        data-gap="${options.gapMs}"
        data-sound="${on(options.sound)}"
        data-speech="${on(options.speech)}"
        data-goal-bar="${on(options.goalBar)}"
        data-preview="${on(preview)}"
      >
        <main>
          ${
            preview
              ? html`<p class="preview-note">
                  Preview: in OBS the background is transparent. Click anywhere to allow sound.
                  <a href="/account/live">Back to your live page</a>
                </p>`
              : ''
          }
          <section id="alert" class="alert" role="status" aria-live="polite" hidden>
            <img id="alert-art" class="art" alt="" width="320" height="320" />
            <p class="line">
              <span id="alert-fan" class="fan"></span> sent <span id="alert-gift" class="gift"></span>
              <span id="alert-combo" class="combo"></span>
            </p>
            <p id="alert-message" class="message" hidden></p>
            <p class="test-badge">Test alert</p>
          </section>
          <section id="goal" class="goal" hidden>
            <p class="goal-line"><span id="goal-title" class="goal-title"></span> <span id="goal-count" class="goal-count"></span></p>
            <div
              id="goal-bar"
              class="bar"
              role="progressbar"
              aria-labelledby="goal-title"
              aria-valuemin="0"
              aria-valuemax="100"
              aria-valuenow="0"
            >
              <div id="goal-fill" class="fill"></div>
            </div>
          </section>
        </main>
      </body>
    </html>`;
}

/** The clear page of a replaced (or unknown) overlay URL: 410. */
function replacedPage(): Html {
  return page(
    'Overlay URL replaced',
    html`<h1>This overlay URL was replaced</h1>
      <div class="alert" role="alert">
        <p>
          The creator made a new stream-alerts URL, so this one no longer works (or it never existed). Copy the new URL from your live page
          (Account → Live → Stream alerts) into the OBS browser source.
        </p>
      </div>
      <p><a href="/account/live">Go to your live page</a></p>`,
  );
}

/**
 * The creator's overlay stream on `token`'s URL: the live stream (see `openLiveStream`), and while
 * it is open the overlay is stamped as seen every {@link OVERLAY_SEEN_INTERVAL_MS}, through the
 * money writer, in the database (so the creator's page, on whatever process, says "connected").
 * The URL regenerated meanwhile, the stamp finds no row: the stream ends, and the client's
 * reconnection gets 410.
 */
async function overlayStream(c: Context<AppEnv>, context: AppContext, creatorId: string, token: string): Promise<Response> {
  const tokenHash = hashSecret(token);
  const touch = () => context.writer.run(overlaySeenOperation, { creatorId, tokenHash, now: context.earnings.now() });
  if (!(await touch())) throw new ApiError('overlay_replaced', 'This overlay URL was replaced: use the new one from your live page.');
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  /** Every beat: stamp the overlay as seen; the URL replaced, end the stream with `end`. */
  const beat = (end: () => void) => {
    timer = setInterval(() => {
      touch().then(
        (valid) => {
          if (valid) return;
          stop();
          end();
        },
        () => {
          // The database is busy or gone for a moment: the next beat stamps it.
        },
      );
    }, OVERLAY_SEEN_INTERVAL_MS);
    timer.unref();
  };
  const inner = await openLiveStream(c, context, context.live.hub, creatorId, {
    includeTests: true,
    // Written straight to the client's connection (see openLiveStream): follow that stream.
    onOpen: (stream) => {
      beat(() => stream.end());
      stream.onClose(stop);
    },
  });
  if (!inner.body) return inner;
  // A web stream (the app called without Node's server): pass it through, following its end.
  const reader = inner.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      beat(() => {
        void reader.cancel();
        try {
          controller.close();
        } catch {
          // Already closed.
        }
      });
    },
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          stop();
          controller.close();
        } else controller.enqueue(value);
      } catch {
        stop();
        try {
          controller.close();
        } catch {
          // Already closed.
        }
      }
    },
    cancel(reason) {
      stop();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: inner.status, headers: inner.headers });
}

/**
 * The stream-alerts overlay for OBS: `GET /live/overlay/{token}` (the page, for a 1920×1080
 * browser source), `GET /live/overlay/{token}/stream` (its Server-Sent Events), the creator's
 * preview `GET /live/overlay/preview` (signed in), and the page's script and stylesheet.
 *
 * @remarks No key: the token in the URL is the credential (stored hashed; regenerating it on
 * the live page revokes the old URL, which then answers 410 with a page saying it was replaced).
 * The page's CSP allows script and styles from our origin only, and connections to it.
 */
export function overlayRoutes(context: AppContext): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  for (const path of [`${OVERLAY_PATH}/*`, OVERLAY_SCRIPT_PATH, OVERLAY_CSS_PATH]) routes.use(path, overlayHeaders());

  routes.get(OVERLAY_SCRIPT_PATH, (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.body(OVERLAY_SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
  });
  routes.get(OVERLAY_CSS_PATH, (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.body(OVERLAY_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8' });
  });

  const streamOrLimit = async (c: Context<AppEnv>, open: () => Promise<Response>) => {
    try {
      return await open();
    } catch (error) {
      if (error instanceof ApiError && error.code === 'rate_limited') c.header('Retry-After', String(STREAM_RETRY_AFTER_S));
      throw error;
    }
  };

  // The creator's preview: their own stream, by their session.
  const creatorOf = async (c: Context<AppEnv>) => {
    const session = await currentSession(c, context.db);
    return session?.user.roles.includes('creator') ? session.user.id : undefined;
  };
  routes.get(OVERLAY_PREVIEW_PATH, async (c) => {
    const creatorId = await creatorOf(c);
    if (!creatorId) return c.redirect(`/signin?next=${encodeURIComponent(OVERLAY_PREVIEW_PATH)}`, 303);
    const overlay = await overlayOf(context.db, creatorId, context.earnings.now());
    return c.html(overlayPage(overlay.options, `${OVERLAY_PREVIEW_PATH}/stream`, true));
  });
  routes.get(`${OVERLAY_PREVIEW_PATH}/stream`, async (c) => {
    const creatorId = await creatorOf(c);
    if (!creatorId) throw new ApiError('authentication_required', 'Sign in as the creator to preview the overlay.');
    return streamOrLimit(c, () => openLiveStream(c, context, context.live.hub, creatorId, { includeTests: true }));
  });

  routes.get(`${OVERLAY_PATH}/:token`, async (c) => {
    const token = c.req.param('token');
    const creatorId = await overlayCreator(context.db, token);
    if (!creatorId) return c.html(replacedPage(), 410);
    const overlay = await overlayOf(context.db, creatorId, context.earnings.now());
    return c.html(overlayPage(overlay.options, `${OVERLAY_PATH}/${token}/stream`, c.req.query('preview') === '1'));
  });
  routes.get(`${OVERLAY_PATH}/:token/stream`, async (c) => {
    const token = c.req.param('token');
    const creatorId = await overlayCreator(context.db, token);
    if (!creatorId) throw new ApiError('overlay_replaced', 'This overlay URL was replaced: use the new one from your live page.');
    return streamOrLimit(c, () => overlayStream(c, context, creatorId, token));
  });
  return routes;
}
