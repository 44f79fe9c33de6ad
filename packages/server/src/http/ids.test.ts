import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from '@diamonds/protocol';
import { isApiError } from '../errors.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { parseId } from './ids.js';

/**
 * Ids that cannot name anything, as they would arrive in a path (percent-encoded): a NUL byte
 * (PostgreSQL refuses it in text with an error, not an empty result), a lone surrogate (as the
 * WTF-8 bytes and as an invalid escape), an over-long id, another alphabet, another prefix.
 */
const HOSTILE_PATH_IDS: readonly (readonly [string, string])[] = [
  ['a NUL byte', '%00'],
  ['a NUL inside a well-shaped id', `ct_${'0'.repeat(12)}%00${'0'.repeat(13)}`],
  ['a lone surrogate (WTF-8)', '%ED%A0%80'],
  ['a lone surrogate (escaped)', '%uD800'],
  ['an over-long id', `ct_${'0'.repeat(5000)}`],
  ['lower case and other letters', 'ct_01jd3s9zk4w8q2v7c5xh6rtb0m'],
  ['another type of id', newId('usr')],
];

describe('parseId', () => {
  it('passes a well-formed id of the prefix', () => {
    const id = newId('ct');
    assert.equal(parseId('ct', id), id);
  });

  for (const [what, value] of [
    ['a NUL byte', 'ct_0000000000000\u00000000000000'],
    ['a lone surrogate', `ct_${'0'.repeat(25)}\ud800`],
    ['an over-long id', `ct_${'0'.repeat(100_000)}`],
    ['another prefix', newId('ord')],
    ['a number', 42],
    ['nothing', undefined],
  ] as const) {
    it(`refuses ${what} with invalid_id, quoting at most a printable excerpt`, () => {
      assert.throws(
        () => parseId('ct', value, 'contentId'),
        (error: unknown) => {
          assert.ok(isApiError(error, 'invalid_id'), String(error));
          assert.equal(error.status, 400);
          assert.equal(error.param, 'contentId');
          assert.match(error.message, /content id/);
          assert.ok(error.message.length < 200, error.message);
          assert.doesNotMatch(error.message, /[\u0000-\u001f\ud800-\udfff]/);
          return true;
        },
      );
    });
  }

  it('names the kind of id in words, with the article it takes: a user id, an order id, a webhook endpoint id', () => {
    for (const [prefix, phrase] of [
      ['usr', 'a user id'],
      ['ord', 'an order id'],
      ['site', 'a site id'],
      ['evt', 'an event id'],
      ['acct', 'an account id'],
      ['we', 'a webhook endpoint id'],
      ['ls', 'a live session id'],
      ['sir', 'a sign-in request id'],
    ] as const) {
      assert.throws(
        () => parseId(prefix, 'nope'),
        (error: unknown) => isApiError(error, 'invalid_id') && error.message.includes(` where ${phrase} belongs`),
        prefix,
      );
    }
  });
});

interface Operation {
  parameters?: { name: string; in: string; schema?: { examples?: unknown[]; enum?: unknown[] } }[];
}

/** A well-formed value of a path parameter, from the document: its example, or its first allowed value. */
function exampleOf(parameter: NonNullable<Operation['parameters']>[number]): string {
  const value = parameter.schema?.examples?.[0] ?? parameter.schema?.enum?.[0];
  assert.equal(typeof value, 'string', `an example of the path parameter ${parameter.name}`);
  return value as string;
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  describe(`every route that takes an id checks it before a query, on ${kind}`, { skip: await skipUnlessPostgres(kind) }, () => {
    let h: MoneyHarness;
    let fan: TestFan;
    let routes: { method: string; path: string; params?: Operation['parameters'] }[];

    before(async () => {
      h = await startMoneyHarness(kind);
      fan = await h.fan({ allowance: 1000, balance: 500 });
      const document = (await (await fetch(`${h.server.url}/v1/openapi.json`)).json()) as {
        paths: Record<string, Record<string, Operation>>;
      };
      routes = Object.entries(document.paths).flatMap(([path, operations]) =>
        Object.entries(operations)
          .filter(([, operation]) => operation.parameters?.some((p) => p.in === 'path'))
          .map(([method, operation]) => ({ method: method.toUpperCase(), path, params: operation.parameters })),
      );
    });
    after(() => h?.close());

    it('finds the routes to try in the OpenAPI document', () => {
      const paths = routes.map((route) => `${route.method} ${route.path}`);
      for (const expected of [
        'GET /v1/content/{id}',
        'GET /v1/content/{id}/body',
        'POST /v1/orders/{id}/pay',
        'GET /v1/confirmations/{id}',
      ]) {
        assert.ok(paths.includes(expected), `${expected} in ${paths.join(', ')}`);
      }
    });

    it('answers a hostile id with 400 invalid_id (or the route’s 404), never a 500, and moves nothing', async () => {
      const transfersBefore = await h.transferCount();
      const balanceBefore = await h.balances(fan.id);
      const outcomes: string[] = [];
      for (const route of routes) {
        // One hostile parameter at a time, the others well-formed: each is checked on its own.
        const pathParams = route.params?.filter((p) => p.in === 'path') ?? [];
        for (const [[hostile, value], target] of HOSTILE_PATH_IDS.flatMap((id) => pathParams.map((param) => [id, param] as const))) {
          const what = pathParams.length > 1 ? `${hostile} as ${target.name}` : hostile;
          const path = route.path
            .replace(/^\/v1/, '')
            .replace(/\{([^}]+)\}/g, (_, name: string) =>
              name === target.name ? value : exampleOf(pathParams.find((p) => p.name === name)!),
            );
          const body = route.method === 'GET' ? undefined : {};
          // As the fan's page, and as the site's backend: one of them is the route's caller.
          const answers = [
            await h.call(path, { method: route.method, body, fan }),
            await h.call(path, { method: route.method, body, key: 'secret' }),
          ];
          const codes: string[] = [];
          for (const answer of answers) {
            const text = await answer.text();
            assert.ok(answer.status < 500, `${route.method} ${route.path} with ${what}: ${answer.status} ${text}`);
            codes.push(`${answer.status} ${(JSON.parse(text) as { error?: { code: string } }).error?.code}`);
          }
          // A currency is no id: its own check answers `invalid_currency`.
          const checked = codes.some((code) => /^400 invalid_(id|currency)$/.test(code) || /^404 \w+_not_found$/.test(code));
          assert.ok(checked, `${route.method} ${route.path} with ${what}: ${codes.join(' / ')}`);
          outcomes.push(codes.join(' / '));
        }
      }
      assert.ok(outcomes.length >= routes.length * HOSTILE_PATH_IDS.length);
      assert.equal(await h.transferCount(), transfersBefore, 'no transfer');
      assert.deepEqual(await h.balances(fan.id), balanceBefore, 'the fan’s wallet unchanged');
      await h.verifyClean();
    });

    it('says which id was wrong and what one looks like', async () => {
      const error = await h.refused(await h.call('/content/%00/body', { fan }), 400, 'invalid_id');
      assert.equal(error.param, 'id');
      assert.match(error.message, /content id/);
      assert.match(error.message, /ct_/);
      // A well-formed id that names nothing is still the route's own 404.
      await h.refused(await h.call(`/content/${newId('ct')}`, { fan }), 404, 'content_not_found');
    });

    it('answers a crafted cursor with 400 invalid_cursor, never a 500', async () => {
      const cursor = (text: string) => Buffer.from(text).toString('base64url');
      const crafted = [
        '%00',
        cursor('[1,"\u0000"]'),
        cursor('after:ord_\u0000'),
        cursor('txn_\u0000:wallet'),
        cursor('rate:\u0000'),
        `ct_${'0'.repeat(12)}%00${'0'.repeat(13)}`,
        cursor('x'.repeat(150)),
      ];
      for (const [path, key] of [
        ['/catalog/gifts', 'publishable'],
        ['/rates/USD/history', 'publishable'],
        ['/wallet/history', 'publishable'],
        ['/products', 'publishable'],
        ['/content', 'publishable'],
        ['/orders', 'secret'],
      ] as const) {
        for (const value of crafted) {
          const response = await h.call(`${path}?cursor=${value}`, { fan: key === 'publishable' ? fan : undefined, key });
          const text = await response.text();
          assert.equal(response.status, 400, `${path}?cursor=${value}: ${text}`);
          assert.match(text, /"code":"invalid_(cursor|request)"/, `${path}?cursor=${value}`);
        }
      }
    });

    it('hosted pages and the gift art answer 4xx to the same ids', async () => {
      for (const [what, id] of HOSTILE_PATH_IDS) {
        for (const path of [`/confirm/${id}`, `/topup/${id}`, `/gifts/${id}.svg`, `/account/content/${id}/archive`]) {
          const response = await fetch(`${h.server.url}${path}`, { redirect: 'manual', method: path.endsWith('archive') ? 'POST' : 'GET' });
          await response.arrayBuffer();
          assert.ok(response.status < 500, `${path} (${what}): ${response.status}`);
        }
      }
    });
  });
}
