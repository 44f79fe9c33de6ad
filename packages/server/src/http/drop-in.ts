// The drop-in script: the platform serves the elements' bundle (packages/elements/dist/diamonds.js)
// to any site, at a plain name with an ETag and at a versioned name cached for a year.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { Hono, type Context } from 'hono';

const brotli = promisify(brotliCompress);
const gzipped = promisify(gzip);

/**
 * Where the drop-in script is read from: the elements package's build, a sibling of this package
 * both in the monorepo (`packages/elements`) and once installed (`node_modules/@diamonds/elements`).
 * Resolved from this module, so it holds in `src/http` and `dist/http` alike.
 */
export const DROP_IN_FILE = fileURLToPath(new URL('../../../elements/dist/diamonds.js', import.meta.url));

/** How long a browser may reuse the plain name (`/sdk/diamonds.js`) before it revalidates, in seconds. */
export const DROP_IN_MAX_AGE_SECONDS = 300;

/** Options of {@link dropInRoutes}. */
export interface DropInOptions {
  /**
   * The built script to serve (its source map is the same path plus `.map`).
   *
   * @defaultValue {@link DROP_IN_FILE}
   */
  file?: string;
}

/** One way a file is sent: its bytes, their encoding and their ETag. */
interface Representation {
  body: Uint8Array;
  encoding: 'br' | 'gzip' | undefined;
  etag: string;
}

/** One build of a file (script or map), with its encodings made on first demand. */
class Variant {
  readonly sha256: string;
  readonly #encoded = new Map<'br' | 'gzip', Promise<Uint8Array>>();

  constructor(readonly body: Uint8Array) {
    this.sha256 = createHash('sha256').update(body).digest('hex');
  }

  /** The bytes to send for this `Accept-Encoding`: brotli, else gzip, else as is. */
  async negotiate(acceptEncoding: string | undefined): Promise<Representation> {
    const accepted = new Set(
      (acceptEncoding ?? '')
        .split(',')
        .map((part) => part.trim().split(';'))
        .filter(([, q]) => q === undefined || !/^\s*q=0(\.0*)?\s*$/.test(q))
        .map(([name]) => name?.trim().toLowerCase()),
    );
    const encoding = accepted.has('br') ? 'br' : accepted.has('gzip') ? 'gzip' : undefined;
    if (encoding === undefined) return { body: this.body, encoding, etag: `"${this.sha256}"` };
    let encoded = this.#encoded.get(encoding);
    if (encoded === undefined) {
      encoded =
        encoding === 'br'
          ? brotli(this.body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: this.body.length } })
          : gzipped(this.body, { level: 9 });
      this.#encoded.set(encoding, encoded);
    }
    return { body: await encoded, encoding, etag: `"${this.sha256}-${encoding}"` };
  }
}

/** What one build of the drop-in serves: the script and its map, at the plain and the versioned names. */
interface Build {
  /** The first 8 hex digits of the script's SHA-256: its versioned name is `diamonds.<hash8>.js`. */
  hash8: string;
  script: Variant;
  map: Variant | undefined;
  /** The script as served at its versioned name: its `sourceMappingURL` names the versioned map. */
  versionedScript: Variant;
}

/** Reads the build once per change of the file (size and mtime), so a rebuild is served at once. */
class DropInFile {
  #stamp = '';
  #build: Promise<Build> | undefined;

  constructor(readonly file: string) {}

  /** The current build, or `undefined` when there is none (the elements were never built). */
  async current(): Promise<Build | undefined> {
    let stamp: string;
    try {
      const info = await stat(this.file);
      stamp = `${info.size}:${info.mtimeMs}`;
    } catch {
      return undefined;
    }
    if (stamp !== this.#stamp || this.#build === undefined) {
      this.#stamp = stamp;
      this.#build = this.#read();
      // A read that failed (the file went away mid-rebuild) is retried on the next request.
      this.#build.catch(() => (this.#stamp = ''));
    }
    try {
      return await this.#build;
    } catch {
      return undefined;
    }
  }

  async #read(): Promise<Build> {
    const script = new Variant(await readFile(this.file));
    const hash8 = script.sha256.slice(0, 8);
    const map = await readFile(`${this.file}.map`).then(
      (body) => new Variant(body),
      () => undefined,
    );
    const text = Buffer.from(script.body).toString('utf8');
    const versioned = text.replace(/\/\/# sourceMappingURL=diamonds\.js\.map\s*$/, `//# sourceMappingURL=diamonds.${hash8}.js.map\n`);
    return { hash8, script, map, versionedScript: versioned === text ? script : new Variant(Buffer.from(versioned, 'utf8')) };
  }
}

/** Whether an `If-None-Match` header names this representation (weak comparison, as RFC 9110 says). */
function matches(ifNoneMatch: string | undefined, representation: Representation, sha256: string): boolean {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const tags = ifNoneMatch.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
  // Any encoding of the same bytes is the same script: a cache that negotiated another still holds it.
  return tags.some((tag) => tag === representation.etag || tag.replace(/-(br|gzip)"$/, '"') === `"${sha256}"`);
}

/**
 * The routes of the drop-in script, for any site to load with
 * `<script type="module" src="https://<platform>/sdk/diamonds.js">`.
 *
 * @remarks
 * - `/sdk/diamonds.js`: the current build, `Cache-Control: public, max-age=300`, with a strong
 *   `ETag` (the SHA-256 of the bytes) so that a revalidation is a `304`.
 * - `/sdk/diamonds.<hash8>.js`: the same build at a versioned name (the first 8 hex digits of its
 *   SHA-256), `Cache-Control: public, max-age=31536000, immutable`. A name of an older build
 *   redirects (`307`, not cached) to the plain name, so a page that kept it still works.
 * - `…js.map`: the source maps, likewise.
 * - `/sdk/diamonds-live.js` (and its map): the live elements (issue 15), the sibling file
 *   `diamonds-live.js` of the build, which `diamonds.js` imports from its own folder when a page
 *   first has a live tag; at its plain name only, cached like the plain `diamonds.js`.
 * - `/sdk/diamonds-discover.js` (and its map): `<diamond-discover>` (issue 16), which a site loads
 *   with a script tag of its own; likewise at its plain name only.
 *
 * Every answer is open to every origin (`Access-Control-Allow-Origin: *`,
 * `Cross-Origin-Resource-Policy: cross-origin`, for module scripts and sites that isolate
 * themselves), `X-Content-Type-Options: nosniff`, and compressed with brotli or gzip when the
 * browser accepts it. The response header `Diamonds-Script-Version` names the versioned name.
 * Without a build the routes answer `503` with a message that says to run `npm run build`; the
 * file is read again when it changes, so a rebuild is served without a restart.
 *
 * @example
 * ```ts
 * const app = new Hono();
 * app.route('/', dropInRoutes());
 * ```
 */
export function dropInRoutes(options: DropInOptions = {}): Hono {
  const file = options.file ?? DROP_IN_FILE;
  const source = new DropInFile(file);
  // The live elements' file, beside the script (issue 15): the script imports it by that name.
  const liveSource = new DropInFile(file.replace(/[^/\\]*$/, 'diamonds-live.js'));
  // <diamond-discover>'s file (issue 16), loaded by its own script tag, served like the live one.
  const discoverSource = new DropInFile(file.replace(/[^/\\]*$/, 'diamonds-discover.js'));
  const routes = new Hono();

  const open = (c: Context) => {
    c.header('Access-Control-Allow-Origin', '*');
    c.header('Cross-Origin-Resource-Policy', 'cross-origin');
    c.header('X-Content-Type-Options', 'nosniff');
  };

  routes.get('/sdk/:name', async (c) => {
    const [name, live, hash8, isMap] = /^diamonds(-live|-discover)?\.(?:([0-9a-f]{8})\.)?js(\.map)?$/.exec(c.req.param('name')) ?? [];
    if (name === undefined || (live && hash8)) return c.notFound();
    open(c);
    const build = await (live === '-discover' ? discoverSource : live ? liveSource : source).current();
    if (build === undefined) {
      c.header('Cache-Control', 'no-store');
      c.header('Retry-After', '10');
      return c.text(
        'The Diamonds drop-in script is not built on this server. Run `npm run build` (it writes packages/elements/dist/diamonds.js), then reload.\n',
        503,
      );
    }
    if (hash8 !== undefined && hash8 !== build.hash8) {
      c.header('Cache-Control', 'no-store');
      return c.redirect(`/sdk/diamonds.js${isMap ?? ''}`, 307);
    }
    const variant = isMap ? build.map : hash8 ? build.versionedScript : build.script;
    if (variant === undefined) {
      c.header('Cache-Control', 'no-store');
      return c.text('This build of the drop-in script has no source map.\n', 404);
    }
    const representation = await variant.negotiate(c.req.header('Accept-Encoding'));
    c.header('Content-Type', isMap ? 'application/json; charset=utf-8' : 'text/javascript; charset=utf-8');
    c.header('Cache-Control', hash8 ? 'public, max-age=31536000, immutable' : `public, max-age=${DROP_IN_MAX_AGE_SECONDS}`);
    c.header('ETag', representation.etag);
    c.header('Vary', 'Accept-Encoding');
    if (!live) c.header('Diamonds-Script-Version', `diamonds.${build.hash8}.js`);
    if (matches(c.req.header('If-None-Match'), representation, variant.sha256)) return c.body(null, 304);
    if (representation.encoding) c.header('Content-Encoding', representation.encoding);
    return c.body(representation.body as Uint8Array<ArrayBuffer>, 200);
  });

  return routes;
}

/**
 * The versioned name of the current drop-in script (`diamonds.<hash8>.js`, under `/sdk/`), for
 * a page that wants the year-long cache, or `undefined` when the elements are not built.
 *
 * @example
 * ```ts
 * const name = await dropInScriptName();
 * const src = `${platformUrl}/sdk/${name ?? 'diamonds.js'}`;
 * ```
 */
export async function dropInScriptName(file: string = DROP_IN_FILE): Promise<string | undefined> {
  try {
    const hash8 = createHash('sha256')
      .update(await readFile(file))
      .digest('hex')
      .slice(0, 8);
    return `diamonds.${hash8}.js`;
  } catch {
    return undefined;
  }
}
