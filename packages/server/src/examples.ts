// The examples (examples/ at the repository's root) served by `npm start` on origins of their own,
// so that they are third-party to the platform exactly as a creator's site or a shop would be.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DemoData } from './identity/demo.js';

/** The repository's `examples/` folder, resolved from this module (in `src/` or `dist/` alike). */
export const EXAMPLES_DIR = fileURLToPath(new URL('../../../examples/', import.meta.url));

/** The platform address the examples are written for; replaced by the real one when served. */
export const EXAMPLES_PLATFORM_PLACEHOLDER = 'http://localhost:8787';

/** The port of the creator's site when none is given; the shop listens on the next one. */
export const DEFAULT_EXAMPLES_PORT = 8788;

/** Options of {@link startExamples}. */
export interface ExamplesOptions {
  /** The platform's base URL, such as `http://localhost:8787`: the script tags and API base point there. */
  platformUrl: string;
  /** The demo site's keys and the demo creator (from `seedDemo`, as written to `.diamonds/demo.json`). */
  demo: DemoData;
  /**
   * The creator's site's port; `0` picks a free one.
   *
   * @defaultValue {@link DEFAULT_EXAMPLES_PORT}
   */
  port?: number;
  /**
   * The shop's port; `0` picks a free one.
   *
   * @defaultValue `port + 1` (8789), or a free one when `port` is `0`
   */
  shopPort?: number;
  /**
   * The interface to listen on.
   *
   * @defaultValue every interface
   */
  host?: string;
  /**
   * Print the examples' addresses to the console.
   *
   * @defaultValue false
   */
  log?: boolean;
}

/** The examples being served (see {@link startExamples}). */
export interface RunningExamples {
  /** The creator's static page, such as `http://localhost:8788`. */
  creatorSiteUrl: string;
  /** The shop, such as `http://localhost:8789`. */
  shopUrl: string;
  /** Stops both servers. */
  close(): Promise<void>;
}

/** What examples/shop/server.mjs exports. */
interface ShopModule {
  createShop(options: { secretKey: string; publishableKey: string; apiBase: string; siteId: string }): ((
    request: IncomingMessage,
    response: ServerResponse,
  ) => Promise<void>) & {
    /** Registers the shop's webhook endpoint at its address (examples/shop/server.mjs). */
    registerWebhooks(shopUrl: string): Promise<unknown>;
  };
}

/** The files of the creator's site that are served, and their types (nothing else is). */
const CREATOR_SITE_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/live.html': { file: 'live.html', type: 'text/html; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/** The paywalled post of the creator's page: the demo creator's first priced piece of content. */
async function paywalledContentId(platformUrl: string, demo: DemoData): Promise<string> {
  try {
    const response = await fetch(`${platformUrl}/v1/content?limit=100`, {
      headers: { Authorization: `Bearer ${demo.site.publishableKey}` },
    });
    if (!response.ok) return '';
    const { data } = (await response.json()) as {
      data: { id: string; priceDiamonds: number | null; format: string; creator: { id: string } }[];
    };
    const own = data.filter((content) => content.creator.id === demo.creator.userId);
    const priced = own.filter((content) => content.priceDiamonds !== null);
    return (priced.find((content) => content.format === 'markdown') ?? priced[0] ?? own[0])?.id ?? '';
  } catch {
    return '';
  }
}

function listen(server: Server, port: number, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function stop(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Serves the examples on two origins of their own, with the demo site's keys filled in: the
 * creator's static page (`examples/creator-site/`) and the shop (`examples/shop/server.mjs`,
 * which creates orders with the demo site's secret key and verifies receipts).
 *
 * @remarks
 * The pages are the files as a creator would paste them; when served, the platform address
 * they are written for ({@link EXAMPLES_PLATFORM_PLACEHOLDER}) becomes `platformUrl`, and
 * `{{PUBLISHABLE_KEY}}`, `{{CREATOR_ID}}`, `{{CONTENT_ID}}` (the demo creator's priced post)
 * and `{{SHOP_URL}}` are filled in. Files are read at each request, so edits show on reload.
 * The shop imports `@diamonds/sdk/server`, resolved from the repository's `node_modules`.
 * @throws Error when the `examples/` folder is missing (an installed package has none) or a
 * port is taken.
 * @example
 * ```ts
 * const examples = await startExamples({ platformUrl: server.url, demo, log: true });
 * // …
 * await examples.close();
 * ```
 */
export async function startExamples(options: ExamplesOptions): Promise<RunningExamples> {
  if (!existsSync(EXAMPLES_DIR)) throw new Error(`The examples are not here (${EXAMPLES_DIR}); they come with the repository.`);
  const platformUrl = options.platformUrl.replace(/\/+$/, '');
  const { demo } = options;
  const port = options.port ?? DEFAULT_EXAMPLES_PORT;
  const shopPort = options.shopPort ?? (port === 0 ? 0 : port + 1);
  const hostForUrl = options.host && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : 'localhost';
  const contentId = await paywalledContentId(platformUrl, demo);
  let shopUrl = '';

  const fill = (text: string) =>
    text
      .replaceAll(EXAMPLES_PLATFORM_PLACEHOLDER, platformUrl)
      .replaceAll('{{PUBLISHABLE_KEY}}', demo.site.publishableKey)
      .replaceAll('{{CREATOR_ID}}', demo.creator.userId)
      .replaceAll('{{CONTENT_ID}}', contentId)
      .replaceAll('{{SHOP_URL}}', shopUrl);

  const creatorSite = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const served = CREATOR_SITE_FILES[path];
    if ((request.method !== 'GET' && request.method !== 'HEAD') || served === undefined) {
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found\n');
      return;
    }
    try {
      const body = fill(readFileSync(`${EXAMPLES_DIR}creator-site/${served.file}`, 'utf8'));
      response
        .writeHead(200, { 'Content-Type': served.type, 'Cache-Control': 'no-store' })
        .end(request.method === 'HEAD' ? undefined : body);
    } catch (error) {
      console.error('examples: creator-site', error);
      response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Could not read the example.\n');
    }
  });

  const { createShop } = (await import(pathToFileURL(`${EXAMPLES_DIR}shop/server.mjs`).href)) as ShopModule;
  const shopHandler = createShop({
    secretKey: demo.site.secretKey,
    publishableKey: demo.site.publishableKey,
    apiBase: platformUrl,
    siteId: demo.site.id,
  });
  const shop = createServer((request, response) => void shopHandler(request, response));

  const creatorPort = await listen(creatorSite, port, options.host);
  let actualShopPort: number;
  try {
    actualShopPort = await listen(shop, shopPort, options.host);
  } catch (error) {
    await stop(creatorSite);
    throw error;
  }
  const creatorSiteUrl = `http://${hostForUrl}:${creatorPort}`;
  shopUrl = `http://${hostForUrl}:${actualShopPort}`;
  try {
    // The shop learns of paid and refunded orders by webhook (development allows http://localhost).
    await shopHandler.registerWebhooks(shopUrl);
  } catch (error) {
    console.error('examples: the shop could not register its webhook endpoint; it reconciles by reading instead.', error);
  }
  if (options.log) {
    console.log(
      [
        'Examples, on origins of their own (third-party to the platform):',
        `  creator's site  ${creatorSiteUrl}  (examples/creator-site: gift buttons, a paywalled post, the wallet)`,
        `  shop            ${shopUrl}  (examples/shop: an order made by its backend, paid with <diamond-checkout>)`,
        `  from code       node examples/node/index.mjs`,
      ].join('\n'),
    );
  }
  let closing: Promise<void> | undefined;
  return {
    creatorSiteUrl,
    shopUrl,
    close: () => (closing ??= Promise.all([stop(creatorSite), stop(shop)]).then(() => undefined)),
  };
}
