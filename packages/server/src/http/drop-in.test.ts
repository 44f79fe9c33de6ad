import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { Hono } from 'hono';
import { startServer, type RunningServer } from '../server.js';
import { createTestDatabase, type TestDatabase } from '../testing/databases.js';
import { serveDuringSuite } from './testing.js';
import { DROP_IN_FILE, dropInRoutes, dropInScriptName } from './drop-in.js';

/** A raw GET (no automatic decompression, unlike fetch): status, headers and the bytes on the wire. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

// Reads no table: one database (SQLite) is enough for the platform it is mounted on.
describe('the drop-in script served by the platform over HTTP', () => {
  let t: TestDatabase;
  let server: RunningServer;
  let built: Buffer;

  before(async () => {
    assert.ok(existsSync(DROP_IN_FILE), `${DROP_IN_FILE} is missing: run \`npm run build\` before this test`);
    built = readFileSync(DROP_IN_FILE);
    t = await createTestDatabase('sqlite');
    server = await startServer({ port: 0, host: '127.0.0.1', db: t.db });
  });

  after(async () => {
    await server?.close();
    await t?.drop();
  });

  it('serves /sdk/diamonds.js as JavaScript, open to every origin, with a strong ETag and a short cache', async () => {
    const response = await get(`${server.url}/sdk/diamonds.js`, { Origin: 'https://creator.example' });
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(response.headers['content-encoding'], undefined, 'no Accept-Encoding: sent as is');
    assert.deepEqual(response.body, built);
    assert.equal(response.headers.etag, `"${sha256(built)}"`);
    assert.equal(response.headers['cache-control'], 'public, max-age=300');
    assert.equal(response.headers['access-control-allow-origin'], '*');
    assert.equal(response.headers['cross-origin-resource-policy'], 'cross-origin');
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
    assert.equal(response.headers['diamonds-script-version'], `diamonds.${sha256(built).slice(0, 8)}.js`);
  });

  it('answers a revalidation with the same ETag with 304 and no body', async () => {
    const first = await get(`${server.url}/sdk/diamonds.js`);
    const again = await get(`${server.url}/sdk/diamonds.js`, { 'If-None-Match': `W/"0000", ${String(first.headers.etag)}` });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assert.equal(again.headers.etag, first.headers.etag);
    assert.equal(again.headers['cache-control'], 'public, max-age=300');
    assert.equal(again.headers['access-control-allow-origin'], '*');
    const stale = await get(`${server.url}/sdk/diamonds.js`, { 'If-None-Match': '"0123"' });
    assert.equal(stale.status, 200);
  });

  it('compresses with brotli (or gzip) when the browser accepts it; its ETag still revalidates', async () => {
    const br = await get(`${server.url}/sdk/diamonds.js`, { 'Accept-Encoding': 'gzip, deflate, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers.vary, 'Accept-Encoding');
    assert.deepEqual(brotliDecompressSync(br.body), built);
    assert.ok(br.body.length < built.length / 3, `brotli: ${br.body.length} B of ${built.length} B`);
    const gz = await get(`${server.url}/sdk/diamonds.js`, { 'Accept-Encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.deepEqual(gunzipSync(gz.body), built);
    assert.notEqual(br.headers.etag, gz.headers.etag, 'each encoding has its own strong ETag');
    const revalidated = await get(`${server.url}/sdk/diamonds.js`, { 'Accept-Encoding': 'br', 'If-None-Match': String(br.headers.etag) });
    assert.equal(revalidated.status, 304);
    // What fetch (and a browser) sees: the same script.
    assert.equal(await (await fetch(`${server.url}/sdk/diamonds.js`)).text(), built.toString('utf8'));
  });

  it('serves the same build at a versioned name, cached for a year; an older name redirects to the current one', async () => {
    const name = await dropInScriptName();
    assert.equal(name, `diamonds.${sha256(built).slice(0, 8)}.js`);
    const versioned = await get(`${server.url}/sdk/${name}`);
    assert.equal(versioned.status, 200);
    assert.equal(versioned.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(versioned.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(versioned.headers['access-control-allow-origin'], '*');
    const text = versioned.body.toString('utf8');
    // The same code; only the source map's name is the versioned one.
    assert.equal(text.replace(/\/\/# sourceMappingURL=\S+\s*$/, ''), built.toString('utf8').replace(/\/\/# sourceMappingURL=\S+\s*$/, ''));
    if (/sourceMappingURL=/.test(text)) assert.match(text, new RegExp(`sourceMappingURL=${name!.replace(/\./g, '\\.')}\\.map\\s*$`));

    const old = await get(`${server.url}/sdk/diamonds.00000000.js`);
    assert.equal(old.status, 307);
    assert.equal(old.headers.location, '/sdk/diamonds.js');
    assert.equal(old.headers['cache-control'], 'no-store');
  });

  it('serves the source maps at both names', async () => {
    for (const path of ['/sdk/diamonds.js.map', `/sdk/${(await dropInScriptName())!}.map`]) {
      const response = await fetch(`${server.url}${path}`);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(response.headers.get('access-control-allow-origin'), '*');
      const map = (await response.json()) as { version: number; sources: string[] };
      assert.equal(map.version, 3);
      assert.ok(map.sources.length > 0);
    }
  });

  it('answers other names under /sdk/ with the usual JSON 404', async () => {
    for (const path of ['/sdk/other.js', '/sdk/diamonds.1234.js', '/sdk/diamonds.JS']) {
      const response = await fetch(`${server.url}${path}`);
      assert.equal(response.status, 404, path);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'not_found');
    }
  });
});

describe('the drop-in routes without a build', () => {
  const dir = mkdtempSync(join(tmpdir(), 'diamonds-drop-in-'));
  const file = join(dir, 'diamonds.js');
  const app = new Hono();
  app.route('/', dropInRoutes({ file }));
  const served = serveDuringSuite(app);

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('answers 503 with a clear message, then serves a build made while it runs, and each rebuild at once', async () => {
    const missing = await get(`http://127.0.0.1:${served.port}/sdk/diamonds.js`);
    assert.equal(missing.status, 503);
    assert.match(missing.body.toString('utf8'), /not built.*npm run build/);
    assert.equal(missing.headers['cache-control'], 'no-store');
    assert.equal(missing.headers['access-control-allow-origin'], '*');
    assert.equal((await get(`http://127.0.0.1:${served.port}/sdk/diamonds.js.map`)).status, 503);

    writeFileSync(file, 'export const version = 1;\n');
    const first = await get(`http://127.0.0.1:${served.port}/sdk/diamonds.js`);
    assert.equal(first.status, 200);
    assert.equal(first.body.toString('utf8'), 'export const version = 1;\n');
    assert.equal((await get(`http://127.0.0.1:${served.port}/sdk/diamonds.js.map`)).status, 404, 'a build without a map');

    writeFileSync(file, 'export const version = 22;\n');
    const second = await get(`http://127.0.0.1:${served.port}/sdk/diamonds.js`, { 'If-None-Match': String(first.headers.etag) });
    assert.equal(second.status, 200, 'the old ETag no longer matches');
    assert.equal(second.body.toString('utf8'), 'export const version = 22;\n');
    const oldName = String(first.headers['diamonds-script-version']);
    assert.equal((await get(`http://127.0.0.1:${served.port}/sdk/${oldName}`)).status, 307);
  });
});
