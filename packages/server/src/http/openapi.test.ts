import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { ERROR_CODES } from '@diamonds/protocol';
import { createApp, type AppEnv } from '../app.js';
import { Ledger } from '../ledger/ledger.js';
import { createTestDatabase, type TestDatabase } from '../testing/databases.js';
import { startServer, type RunningServer } from '../server.js';
import { declaredRoute, type RouteSpec } from './route.js';
import { createSite } from '../identity/sites.js';
import { createUser } from '../identity/users.js';
import { pkceChallenge } from '../identity/signin.js';
import { openApiDocument, openApiRoutes } from './openapi.js';
import { ratesApi } from '../money/rates-routes.js';

interface Schema {
  type?: string;
  pattern?: string;
  properties?: Record<string, Schema>;
  required?: string[];
}

interface Operation {
  operationId?: string;
  summary: string;
  parameters?: { name: string; in: string; required?: boolean; schema: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema; example?: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: Schema; example?: unknown }> }>;
  security: unknown[];
}

type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
};

/** Every operation of the document, as `get /v1/wallet` and the operation. */
function operations(document: Document): [string, Operation][] {
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]): [string, Operation] => [`${method} ${path}`, operation]),
  );
}

/** The answer a route documents first: its lowest 2xx. */
function mainResponse(operation: Operation): [string, { schema: Schema; example?: unknown } | undefined] {
  const status = Object.keys(operation.responses)
    .filter((code) => code.startsWith('2'))
    .sort()[0]!;
  return [status, operation.responses[status]?.content?.['application/json']];
}

describe('the OpenAPI document', () => {
  let t: TestDatabase;
  let server: RunningServer;
  let document: Document;

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

  it('is built from the routes an app mounted, where it mounted them, and nothing else', () => {
    const app = new Hono<AppEnv>();
    app.route('/api', ratesApi(t.db));
    app.route('/api', openApiRoutes(app));
    const paths = Object.keys((openApiDocument(app) as Document).paths).sort();
    assert.deepEqual(paths, ['/api/openapi.json', '/api/quotes', '/api/rates', '/api/rates/{currency}/history', '/api/topup-packs']);
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

  it('documents what each kind of caller may be refused with', () => {
    const codes = (operation: Operation) => JSON.stringify(operation.responses);
    const wallet = document.paths['/v1/wallet']!.get!;
    for (const code of ['invalid_token', 'invalid_dpop_proof', 'authentication_required', 'origin_not_allowed']) {
      assert.match(codes(wallet), new RegExp(`\`${code}\``), `GET /v1/wallet: ${code}`);
    }
    const events = document.paths['/v1/events']!.get!;
    for (const code of ['secret_key_in_browser', 'permission_denied', 'invalid_request', 'invalid_cursor']) {
      assert.match(codes(events), new RegExp(`\`${code}\``), `GET /v1/events: ${code}`);
    }
    assert.match(codes(document.paths['/v1/events/{id}']!.get!), /`invalid_id`/);
    assert.doesNotMatch(codes(document.paths['/v1/openapi.json']!.get!), /`invalid_api_key`/, 'the document needs no key');
  });

  it('documents the publishable key in the query on reads only, never for a fan’s or a secret-key route', () => {
    const inQuery = (operation: Operation) => JSON.stringify(operation.security).includes('publishableKeyQuery');
    assert.ok(inQuery(document.paths['/v1/catalog/gifts']!.get!), 'the gift catalog can be read with ?key=');
    assert.ok(!inQuery(document.paths['/v1/wallet']!.get!), 'a fan’s route needs its headers');
    assert.ok(!inQuery(document.paths['/v1/events']!.get!), 'a secret-key route never takes a key in the URL');
    for (const [route, operation] of operations(document)) {
      if (!route.startsWith('get ')) assert.ok(!inQuery(operation), `${route}: a write names its key in a header`);
    }
  });

  it('names every operation with a stable, unique camelCase operationId', () => {
    const seen = new Map<string, string>();
    for (const [route, operation] of operations(document)) {
      assert.match(operation.operationId ?? '', /^[a-z][A-Za-z0-9]+$/, `${route}: operationId`);
      assert.equal(seen.get(operation.operationId!), undefined, `${route} and ${seen.get(operation.operationId!)} share an operationId`);
      seen.set(operation.operationId!, route);
    }
    assert.equal(document.paths['/v1/wallet']?.get?.operationId, 'getWallet');
    assert.equal(document.paths['/v1/signin-requests']?.post?.operationId, 'createSignInRequest');
  });

  it('gives every id a real schema: a string with its prefix’s pattern, never an empty schema', () => {
    const empty: string[] = [];
    const walk = (node: unknown, at: string) => {
      if (Array.isArray(node)) return node.forEach((item, index) => walk(item, `${at}/${index}`));
      if (typeof node !== 'object' || node === null) return;
      for (const [key, value] of Object.entries(node)) {
        const isSchemaSlot = ['schema', 'items', 'additionalProperties'].includes(key) || at.endsWith('/properties');
        if (isSchemaSlot && typeof value === 'object' && value !== null && Object.keys(value).length === 0) empty.push(`${at}/${key}`);
        // A nullable id is `anyOf: [<the id>, { type: 'null' }]`.
        if (['anyOf', 'oneOf', 'allOf'].includes(key) && Array.isArray(value)) {
          value.forEach((item: object, index) => Object.keys(item).length === 0 && empty.push(`${at}/${key}/${index}`));
        }
        walk(value, `${at}/${key}`);
      }
    };
    walk(document.paths, '#/paths');
    assert.deepEqual(empty, [], 'empty schemas');
    const sent = mainResponse(document.paths['/v1/events/{id}']!.get!)[1]!.schema;
    const gift = JSON.stringify(sent);
    assert.match(gift, /"giftId":\{"type":"string","pattern":"\^gift_\[0-9A-HJKMNP-TV-Z\]\{26\}\$"/);
    const path = document.paths['/v1/confirmations/{id}']!.get!.parameters!.find((p) => p.name === 'id')!;
    assert.equal(path.schema.type, 'string');
    assert.equal(path.schema.pattern, '^cnf_[0-9A-HJKMNP-TV-Z]{26}$');
  });

  it('shows an example of every request body and main response, each valid for its schema', () => {
    for (const [route, operation] of operations(document)) {
      const body = operation.requestBody?.content['application/json'];
      if (body !== undefined) assert.notEqual(body.example, undefined, `${route}: request example`);
      const [status, main] = mainResponse(operation);
      if (main !== undefined) assert.notEqual(main.example, undefined, `${route}: ${status} example`);
    }
    // Checked against the zod schemas the routes validate and answer with, so they cannot drift.
    const app = createApp({ db: t.db, ledger: new Ledger(t.db) });
    const specs = app.routes.map((route) => declaredRoute(route.handler)?.spec).filter((spec): spec is RouteSpec => spec !== undefined);
    assert.ok(specs.length >= 20, `${specs.length} declared routes`);
    for (const spec of specs) {
      if (spec.body !== undefined) {
        const parsed = spec.body.safeParse(spec.bodyExample);
        assert.ok(parsed.success, `${spec.operationId}: request example: ${parsed.error?.message}`);
      }
      for (const [status, response] of Object.entries(spec.responses)) {
        if (response.example === undefined || response.schema === undefined) continue;
        const parsed = response.schema.safeParse(response.example);
        assert.ok(parsed.success, `${spec.operationId} ${status}: example: ${parsed.error?.message}`);
      }
    }
  });

  it('documents what POST /v1/signin-requests really answers: the popup’s `url`', async () => {
    const operation = document.paths['/v1/signin-requests']!.post!;
    assert.doesNotMatch(JSON.stringify(operation), /authorizeUrl/);
    const schema = mainResponse(operation)[1]!.schema;
    assert.ok(schema.properties?.url, 'url is documented');
    const owner = await createUser(t.db, {
      email: 'openapi@example.com',
      password: 'a long password',
      displayName: 'O',
      roles: ['creator'],
    });
    const origin = 'http://127.0.0.1:5173';
    const { publishableKey } = await createSite(t.db, { ownerId: owner.id, name: 'Docs', origins: [origin] });
    const res = await fetch(`${server.url}/v1/signin-requests`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${publishableKey}`, Origin: origin, 'Content-Type': 'application/json' },
      body: JSON.stringify({ codeChallenge: pkceChallenge('v'.repeat(43)), codeChallengeMethod: 'S256' }),
    });
    assert.equal(res.status, 201);
    const answer = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(answer).sort(), Object.keys(schema.properties!).sort(), 'the answer has the documented fields');
    assert.deepEqual([...(schema.required ?? [])].sort(), Object.keys(answer).sort(), 'each of them required');
  });

  it('passes a maintained OpenAPI linter (Redocly, recommended rules) with no error', async (context) => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: JSON.stringify(document), absoluteRef: '/v1/openapi.json', config });
    const describe = (problem: (typeof problems)[number]) =>
      `${problem.ruleId}: ${problem.message} (${problem.location.map((at) => at.pointer).join(', ')})`;
    for (const warning of problems.filter((problem) => problem.severity !== 'error')) context.diagnostic(`warning ${describe(warning)}`);
    assert.deepEqual(problems.filter((problem) => problem.severity === 'error').map(describe), []);
  });
});
