import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES } from '@diamonds/protocol';
import { createApp } from '../app.js';
import { Ledger } from '../ledger/ledger.js';
import { createTestDatabase, type TestDatabase } from '../testing/databases.js';
import { startServer, type RunningServer } from '../server.js';

interface Operation {
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
  security: unknown[];
}

describe('the OpenAPI document', () => {
  let t: TestDatabase;
  let server: RunningServer;
  let document: { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };

  before(async () => {
    t = await createTestDatabase('sqlite');
    server = await startServer({ port: 0, host: '127.0.0.1', db: t.db });
    const res = await fetch(`${server.url}/v1/openapi.json`);
    assert.equal(res.status, 200, 'served without a key');
    assert.match(res.headers.get('Content-Type') ?? '', /^application\/json/);
    document = (await res.json()) as typeof document;
  });
  after(async () => {
    await server?.close();
    await t?.drop();
  });

  it('is OpenAPI 3.1 with the shared error body', () => {
    assert.equal(document.openapi, '3.1.0');
    assert.ok(document.components.schemas.ErrorBody);
    assert.ok(Object.keys(document.paths).length >= 20, `only ${Object.keys(document.paths).length} paths`);
  });

  it('documents every /v1 route the platform serves, and serves every documented one', () => {
    const app = createApp({ db: t.db, ledger: new Ledger(t.db) });
    const served = new Set(
      app.routes
        .filter((route) => route.path.startsWith('/v1/') && route.method !== 'ALL' && !route.path.includes('*'))
        .map((route) => `${route.method.toLowerCase()} ${route.path.replace(/:(\w+)/g, '{$1}')}`),
    );
    const documented = new Set(
      Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`)),
    );
    const undocumented = [...served].filter((route) => !documented.has(route));
    const missing = [...documented].filter((route) => route.includes(' /v1/') && !served.has(route));
    assert.deepEqual(undocumented, [], 'served but not documented');
    assert.deepEqual(missing, [], 'documented but not served');
  });

  it('requires an Idempotency-Key on every POST that moves Diamonds, and documents error codes that exist', () => {
    const moving = [
      'post /v1/gifts',
      'post /v1/content/{id}/unlock',
      'post /v1/orders/{id}/pay',
      'post /v1/orders/{id}/refund',
      'post /v1/topups',
    ];
    for (const route of moving) {
      const [method, path] = route.split(' ') as [string, string];
      const operation = document.paths[path]?.[method];
      assert.ok(operation, `${route} is documented`);
      const key = operation.parameters?.find((p) => p.name === 'Idempotency-Key');
      assert.equal(key?.in, 'header', route);
      assert.equal(key?.required, true, route);
    }
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        assert.ok(
          Object.keys(operation.responses).some((status) => status.startsWith('2')),
          `${method} ${path} has a success response`,
        );
        for (const status of Object.keys(operation.responses)) assert.match(status, /^[1-5]\d\d$/, `${method} ${path}`);
        if (operation.requestBody !== undefined) assert.notEqual(method, 'get', `${path}: a GET has no body`);
      }
    }
    // Every code a route lists is a code the platform knows (the generator reads ERROR_CODES).
    assert.ok(Object.keys(ERROR_CODES).includes('confirmation_required'));
  });
});
