import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readSettings } from '../config.js';
import { startMoneyHarness, TEST_PAGE_ORIGIN, type MoneyHarness, type TestFan } from '../testing/money.js';

/** A raw HTTP request with a Host header of our choosing (fetch would send the URL's). */
function withHost(url: string, host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(path, url);
    const req = request(target, { headers: { Host: host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the public origin: links never follow a Host header', () => {
  describe('in development, without DIAMONDS_PUBLIC_URL', () => {
    let h: MoneyHarness;
    before(async () => {
      h = await startMoneyHarness('sqlite');
    });
    after(() => h?.close());

    it('answers at localhost, 127.0.0.1 and [::1] with links to that address', async () => {
      const port = new URL(h.server.url).port;
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
        const answer = await withHost(h.server.url, host, '/healthz');
        assert.equal(answer.status, 200, `${host}: ${answer.body}`);
      }
    });

    it('refuses any other Host with 421 host_not_allowed, pages and API alike', async () => {
      for (const host of ['evil.example', 'evil.example:8787', '10.0.0.1', 'localhost.evil.example', '127.0.0.1.nip.io']) {
        for (const path of ['/healthz', '/v1/catalog/gifts', '/signin', '/confirm/cnf_00000000000000000000000000']) {
          const answer = await withHost(h.server.url, host, path);
          assert.equal(answer.status, 421, `${host} ${path}: ${answer.status} ${answer.body}`);
          const body = JSON.parse(answer.body) as { error: { code: string; message: string } };
          assert.equal(body.error.code, 'host_not_allowed');
          assert.match(body.error.message, /DIAMONDS_PUBLIC_URL/);
          assert.doesNotMatch(answer.body, /href|url"/i, 'no link to the forged host');
        }
      }
    });
  });

  describe('with DIAMONDS_PUBLIC_URL', () => {
    let h: MoneyHarness;
    let fan: TestFan;
    before(async () => {
      h = await startMoneyHarness('sqlite', { publicUrl: 'https://diamonds.example' });
      fan = await h.fan({ balance: 100 });
    });
    after(() => h?.close());

    it('builds every link from it, whatever address the request came to', async () => {
      const creator = await h.newCreator();
      // The fan's page reaches the platform at its public origin (through a proxy), so that is what its DPoP proof names.
      const dpopProof = fan.dpop?.proof('POST', 'https://diamonds.example/v1/gifts', fan.token);
      const answer = await h.call('/gifts', { body: { creatorId: creator.id, giftId: 'rose' }, fan, dpopProof });
      const body = (await answer.json()) as { confirmation?: { url: string } };
      assert.equal(answer.status, 202, JSON.stringify(body));
      assert.match(body.confirmation?.url ?? '', /^https:\/\/diamonds\.example\/confirm\/cnf_/);
      const catalog = await (await h.call('/catalog/gifts', { origin: TEST_PAGE_ORIGIN })).text();
      assert.match(catalog, /https:\/\/diamonds\.example\/gifts\/rose\.svg/);
      assert.doesNotMatch(catalog, /127\.0\.0\.1/);
    });
  });

  describe('readSettings', () => {
    it('refuses to start in production without an https DIAMONDS_PUBLIC_URL, saying what to set', () => {
      assert.throws(() => readSettings({ NODE_ENV: 'production' }), /DIAMONDS_PUBLIC_URL/);
      assert.throws(() => readSettings({ NODE_ENV: 'production', DIAMONDS_PUBLIC_URL: 'http://diamonds.example' }), /https/);
      // The rest production needs (a secret key, real payments) is tested in production.test.ts.
      const rest = { DIAMONDS_SECRET_KEY: Buffer.alloc(32, 1).toString('base64'), DIAMONDS_ALLOW_TEST_PAYMENTS: '1' };
      assert.equal(
        readSettings({ NODE_ENV: 'production', DIAMONDS_PUBLIC_URL: 'https://diamonds.example/', ...rest }).publicUrl,
        'https://diamonds.example',
      );
      assert.equal(readSettings({}).publicUrl, undefined, 'development needs none');
    });
  });
});
