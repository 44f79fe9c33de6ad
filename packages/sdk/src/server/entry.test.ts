// The Node entry as a package: importing it touches no browser global, it refuses to run in a
// page and refuses a publishable key, its options are checked up front, and the browser entry
// never pulls it in. No database is involved here.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { afterEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { createDiamondsServer, DiamondsError, DiamondsUsageError, isDiamondsUsageError, type DiamondsUsageErrorCode } from './index.js';

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
const SECRET = 'sk_test_' + 'a'.repeat(32);

type Globals = { window?: unknown; document?: unknown };
const globals = globalThis as Globals;

/** Asserts `make` throws a DiamondsUsageError with `code`. */
function refusedWith(make: () => unknown, code: DiamondsUsageErrorCode): void {
  assert.throws(make, (error: unknown) => {
    assert.ok(error instanceof DiamondsUsageError, String(error));
    assert.ok(error instanceof DiamondsError);
    assert.ok(isDiamondsUsageError(error));
    assert.equal(error.code, code, error.message);
    return true;
  });
}

describe('@diamonds/sdk/server as an entry point', () => {
  afterEach(() => {
    delete globals.window;
    delete globals.document;
  });

  it('imports by its package name in a child Node and touches no browser global, before or after creating a client', async () => {
    // The traps go in before the import, so that module-level code is caught too. (`navigator`
    // is left out: zod itself feature-detects it, `typeof navigator`, when building schemas.)
    const script = `
      const touched = [];
      for (const name of ['window', 'document', 'localStorage', 'sessionStorage', 'location', 'self']) {
        Object.defineProperty(globalThis, name, { get() { touched.push(name); return undefined; }, configurable: true });
      }
      const sdk = await import('@diamonds/sdk/server');
      const onImport = [...touched];
      const client = sdk.createDiamondsServer({ secretKey: '${SECRET}', siteId: 'site_abc123' });
      console.log(JSON.stringify({ onImport, onCreate: touched.slice(onImport.length), orders: typeof client.orders.create }));
    `;
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', '--input-type=module', '--eval', script],
      {
        cwd: ROOT,
      },
    );
    // Creating looks only at `window` (and would at `document` if there were one): the page check.
    assert.deepEqual(JSON.parse(stdout), { onImport: [], onCreate: ['window'], orders: 'function' });
  });

  it('refuses to be created in a page, where the secret key would be public', () => {
    globals.window = {};
    globals.document = {};
    refusedWith(() => createDiamondsServer({ secretKey: SECRET }), 'secret_key_in_browser');
    delete globals.document;
    assert.ok(createDiamondsServer({ secretKey: SECRET }), 'a window alone (some test runners) is not a page');
  });

  it('refuses a publishable key, and anything that is not a secret key', () => {
    refusedWith(() => createDiamondsServer({ secretKey: 'pk_test_' + 'a'.repeat(24) }), 'publishable_key_not_allowed');
    refusedWith(() => createDiamondsServer({ secretKey: 'pk_live_' + 'a'.repeat(24) }), 'publishable_key_not_allowed');
    for (const secretKey of ['', 'sk_', 'sk_prod_abc', 'secret', ' sk_test_abc', undefined, null, 42]) {
      refusedWith(() => createDiamondsServer({ secretKey: secretKey as string }), 'invalid_secret_key');
    }
    refusedWith(() => createDiamondsServer(undefined as never), 'invalid_option');
  });

  it('checks its options up front', () => {
    refusedWith(() => createDiamondsServer({ secretKey: SECRET, apiBase: 'not a url' }), 'invalid_option');
    refusedWith(() => createDiamondsServer({ secretKey: SECRET, apiBase: 'ftp://diamonds.example' }), 'invalid_option');
    refusedWith(() => createDiamondsServer({ secretKey: SECRET, siteId: 'usr_123' }), 'invalid_option');
    refusedWith(() => createDiamondsServer({ secretKey: SECRET, timeoutMs: 0 }), 'invalid_option');
    refusedWith(() => createDiamondsServer({ secretKey: SECRET, timeoutMs: 1.5 }), 'invalid_option');
    refusedWith(() => createDiamondsServer({ secretKey: SECRET, maxRetries: -1 }), 'invalid_option');
    refusedWith(() => createDiamondsServer({ secretKey: SECRET, maxRetries: Number.NaN }), 'invalid_option');
    refusedWith(() => createDiamondsServer({ secretKey: SECRET, jwksRefetchIntervalMs: -5 }), 'invalid_option');
    refusedWith(() => createDiamondsServer({ secretKey: SECRET, fetch: 'fetch' as never }), 'invalid_option');
    const ok = createDiamondsServer({ secretKey: SECRET, apiBase: 'https://diamonds.example/api/', timeoutMs: 5_000, maxRetries: 0 });
    assert.equal(typeof ok.verifyReceipt, 'function');
  });

  it('is not part of the browser bundle', async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('../index.ts', import.meta.url))],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      conditions: ['source'],
      external: ['ky', 'nanostores', 'zod', 'zod/*', '@diamonds/protocol'],
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(inputs.length > 3, inputs.join(', '));
    assert.deepEqual(
      inputs.filter((path) => path.includes('src/server/')),
      [],
    );
  });
});
