// The site settings of the account page (issue 13): allowed origins added and removed one by one
// (validated, the last one kept, effective at once for CORS), the site id and keys with copy
// buttons and the script behind them, and the webhook endpoints' forms, on each database.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hono } from 'hono';
import { Webhook } from 'standardwebhooks';
import { createApp } from '../app.js';
import { Ledger } from '../ledger/ledger.js';
import { addOrigin, createSite, findSite, removeOrigin, type CreatedSite } from '../identity/sites.js';
import { createUser, type User } from '../identity/users.js';
import { developmentMailer } from '../mail/mailer.js';
import { rejectsWith } from '../testing/assertions.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { createEndpoint, deleteEndpoint, listDeliveries, listEndpoints } from '../webhooks/endpoints.js';
import { COPY_SCRIPT_PATH } from './copy.js';
import { HOSTED_CSP, HOSTED_CSP_WITH_OWN_SCRIPT } from './security-headers.js';
import { Browser, PASSWORD, csrfOf, unescapeHtml } from './testing.js';

const cost = { N: 2 ** 10, r: 8, p: 1 };
const NEW_ORIGIN = 'https://second.example';

/** The alert's text before a form, or undefined. */
function alertText(body: string): string | undefined {
  return /<div class="alert" role="alert" id="[^"]+"><p>([^<]*)<\/p><\/div>/.exec(body)?.[1];
}

let ip = 0;

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`site settings on the account page on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let app: Hono;
    let owner: User;
    let site: CreatedSite;
    let b: Browser;
    let users = 0;
    const browser = () => new Browser(app, `10.13.${kind === 'sqlite' ? 1 : 2}.${++ip}`);

    /** A GET of the products with the publishable key from `origin`, as a page there would send it. */
    const readFrom = (origin: string) =>
      app.request('http://localhost/v1/products', { headers: { Origin: origin, Authorization: `Bearer ${site.publishableKey}` } });

    before(async () => {
      t = await createTestDatabase(kind);
      app = createApp({ db: t.db, ledger: new Ledger(t.db), mailer: developmentMailer({ dir: '/tmp', log: false }) }) as unknown as Hono;
      owner = await createUser(
        t.db,
        { email: `owner-${kind}@example.com`, password: PASSWORD, displayName: 'Owner', roles: ['creator'] },
        { cost },
      );
      site = await createSite(t.db, { ownerId: owner.id, name: 'Shop', origins: ['https://shop.example'] });
      b = browser();
      const signedIn = await b.signIn(owner.email);
      assert.equal(signedIn.status, 303);
    });
    after(async () => {
      await t?.drop();
    });

    it('adds an origin that CORS accepts at once, and removes it so that CORS refuses it at once', async () => {
      assert.equal((await readFrom(NEW_ORIGIN)).status, 403, 'not yet allowed');
      const account = await b.page('/account');
      const added = await b.request(`/account/sites/${site.site.id}/origins/add`, {
        form: { csrf: csrfOf(account), origin: ' https://Second.Example:443/ ' },
      });
      const addedBody = await added.text();
      assert.equal(added.status, 200, addedBody);
      assert.match(addedBody, /Added https:\/\/second\.example to the allowed origins of Shop\./);
      assert.deepEqual((await findSite(t.db, site.site.id))?.origins, ['https://shop.example', NEW_ORIGIN]);
      const allowed = await readFrom(NEW_ORIGIN);
      assert.equal(allowed.status, 200, await allowed.clone().text());
      assert.equal(allowed.headers.get('Access-Control-Allow-Origin'), NEW_ORIGIN);

      const removed = await b.request(`/account/sites/${site.site.id}/origins/remove`, {
        form: { csrf: csrfOf(addedBody), origin: NEW_ORIGIN },
      });
      assert.equal(removed.status, 200);
      assert.match(await removed.text(), /Removed https:\/\/second\.example/);
      const refused = await readFrom(NEW_ORIGIN);
      assert.equal(refused.status, 403);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'origin_not_allowed');
      assert.equal((await readFrom('https://shop.example')).status, 200, 'the other origin still works');
    });

    it('refuses an origin that is not a bare scheme://host[:port] with invalid_origin, shown on the form, and changes nothing', async () => {
      const csrf = await b.csrf('/account');
      for (const [input, reason] of [
        ['https://shop.example/path', /path/i],
        ['ftp://shop.example', /ftp/],
        ['https://*.example.com', /Wildcards/],
        ['http://example.com', /https/],
        ['shop.example', /did you mean "https:\/\/shop\.example"/],
      ] as const) {
        const res = await b.request(`/account/sites/${site.site.id}/origins/add`, { form: { csrf, origin: input } });
        const body = await res.text();
        assert.equal(res.status, 400, input);
        const message = unescapeHtml(alertText(body) ?? '');
        assert.match(message, /^Origin: /, input);
        assert.match(message, reason, input);
        const fieldId = `origin-${site.site.id}`;
        assert.match(body, new RegExp(`id="${fieldId}"[^>]*aria-invalid="true"[^>]*aria-describedby="${fieldId}-hint ${fieldId}-error"`));
        assert.ok(body.includes(`value="${input.replaceAll('"', '&quot;')}"`) || body.includes(input), 'the value is put back');
      }
      assert.deepEqual((await findSite(t.db, site.site.id))?.origins, ['https://shop.example']);
      await rejectsWith(addOrigin(t.db, site.site.id, 'https://a.example/x'), 'invalid_origin', 'origin');
      await rejectsWith(addOrigin(t.db, site.site.id, 42), 'invalid_origin', 'origin');
      await rejectsWith(addOrigin(t.db, 'site_nope', 'https://a.example'), 'site_not_found');
    });

    it('refuses to remove the last origin, and offers no button for it', async () => {
      const account = await b.page('/account');
      assert.match(account, /the last one: add another before removing it/);
      assert.doesNotMatch(account, /Remove https:\/\/shop\.example/);
      const res = await b.request(`/account/sites/${site.site.id}/origins/remove`, {
        form: { csrf: csrfOf(account), origin: 'https://shop.example' },
      });
      assert.equal(res.status, 400);
      assert.match(unescapeHtml(alertText(await res.text()) ?? ''), /last allowed origin/);
      assert.deepEqual((await findSite(t.db, site.site.id))?.origins, ['https://shop.example']);
      await rejectsWith(removeOrigin(t.db, site.site.id, 'https://shop.example'), 'invalid_request', 'origin');
      assert.equal((await readFrom('https://shop.example')).status, 200);
    });

    it('keeps both of two origins added at once (no lost update)', async () => {
      const origins = Array.from({ length: 6 }, (_, i) => `https://race${i}.example`);
      await Promise.all(origins.map((origin) => addOrigin(t.db, site.site.id, origin)));
      assert.deepEqual([...((await findSite(t.db, site.site.id))?.origins ?? [])].sort(), ['https://shop.example', ...origins].sort());
      await Promise.all(origins.map((origin) => removeOrigin(t.db, site.site.id, origin)));
      assert.deepEqual((await findSite(t.db, site.site.id))?.origins, ['https://shop.example']);
    });

    it('shows the site id and keys with copy buttons whose script comes from our origin, and a fan gets no script', async () => {
      const res = await b.request('/account');
      const body = await res.text();
      assert.equal(res.headers.get('Content-Security-Policy'), HOSTED_CSP_WITH_OWN_SCRIPT);
      assert.match(body, new RegExp(`<script src="${COPY_SCRIPT_PATH}" defer></script>`));
      assert.doesNotMatch(body, /<script>|<script [^s]/, 'no inline script');
      for (const target of [`site-id-${site.site.id}`, `pk-${site.site.id}`, `snippet-${site.site.id}`]) {
        assert.match(body, new RegExp(`data-copy="${target}" hidden>Copy`), target);
        assert.match(body, new RegExp(`id="${target}"`), `${target} exists`);
        assert.match(body, new RegExp(`id="${target}-copied" role="status"`), `${target} has a status line`);
      }
      assert.ok(body.includes(site.publishableKey));
      assert.ok(!body.includes(site.secretKey), 'the secret key is never shown again');
      const script = await b.request(COPY_SCRIPT_PATH);
      assert.equal(script.status, 200);
      assert.match(script.headers.get('Content-Type') ?? '', /^text\/javascript/);
      assert.match(await script.text(), /navigator\.clipboard\.writeText/);

      const fan = await createUser(
        t.db,
        { email: `fan${++users}-${kind}@example.com`, password: PASSWORD, displayName: 'Fan', roles: ['fan'] },
        { cost },
      );
      const fanBrowser = browser();
      await fanBrowser.signIn(fan.email);
      const fanPage = await fanBrowser.request('/account');
      assert.equal(fanPage.headers.get('Content-Security-Policy'), HOSTED_CSP);
      assert.doesNotMatch(await fanPage.text(), /<script/);
    });

    it('rolls the secret key and shows it once, with a copy button', async () => {
      const account = await b.page('/account');
      const res = await b.request(`/account/sites/${site.site.id}/keys/secret/roll`, { form: { csrf: csrfOf(account) } });
      const body = await res.text();
      assert.equal(res.status, 200);
      const key = /id="revealed-key" class="secret" type="text" readonly value="(sk_test_[0-9A-Za-z]{32})"/.exec(body)?.[1];
      assert.ok(key, 'the new secret key is shown');
      assert.match(body, /data-copy="revealed-key" hidden>Copy the secret key/);
      assert.ok(!(await b.page('/account')).includes(key), 'and never again');
    });

    describe('webhook endpoints', () => {
      it('adds an endpoint and shows its secret once, then never again', async () => {
        const account = await b.page('/account');
        assert.match(account, new RegExp(`<label for="webhook-url-${site.site.id}">Endpoint URL for Shop</label>`));
        const res = await b.request(`/account/sites/${site.site.id}/webhooks`, {
          form: {
            csrf: csrfOf(account),
            url: 'http://localhost:4242/diamonds/webhooks',
            description: 'Order fulfilment',
            types: 'some',
            'type:order.paid': 'on',
            'type:order.refunded': 'on',
          },
        });
        const body = await res.text();
        assert.equal(res.status, 201, body);
        const secret = /id="revealed-webhook-secret" class="secret" type="text" readonly value="(whsec_[^"]+)"/.exec(body)?.[1];
        assert.ok(secret, 'the signing secret is shown');
        assert.doesNotThrow(() => new Webhook(secret), 'a secret the library takes');
        assert.match(body, /data-copy="revealed-webhook-secret" hidden>Copy signing secret/);
        const [endpoint] = await listEndpoints(t.db, site.site.id);
        assert.equal(endpoint?.url, 'http://localhost:4242/diamonds/webhooks');
        assert.deepEqual(endpoint?.eventTypes, ['order.paid', 'order.refunded']);
        const later = await b.page('/account');
        assert.ok(!later.includes(secret), 'never shown again');
        assert.match(later, /Sends order\.paid, order\.refunded\./);
        assert.match(later, /<strong>Enabled<\/strong>/);
        assert.match(later, /Send test event<span class="visually-hidden">\s*to http:\/\/localhost:4242\/diamonds\/webhooks<\/span>/);
      });

      it('refuses a bad URL and an empty filter on the form, keeping what was typed, and adds nothing', async () => {
        const csrf = await b.csrf('/account');
        const before = (await listEndpoints(t.db, site.site.id)).length;
        const cases: [Record<string, string>, string, RegExp][] = [
          [{ url: 'not a url', types: 'all' }, `webhook-url-${site.site.id}`, /^Endpoint URL does not parse/],
          [{ url: 'https://user:pw@hooks.example/x', types: 'all' }, `webhook-url-${site.site.id}`, /user name or password/],
          [{ url: 'ftp://hooks.example/x', types: 'all' }, `webhook-url-${site.site.id}`, /https:\/\//],
          [{ url: 'https://hooks.example/x', types: 'some' }, `webhook-types-${site.site.id}`, /Tick at least one event type/],
        ];
        for (const [form, fieldId, message] of cases) {
          const res = await b.request(`/account/sites/${site.site.id}/webhooks`, { form: { csrf, description: 'kept', ...form } });
          const body = await res.text();
          assert.equal(res.status, 400, body);
          assert.match(unescapeHtml(alertText(body) ?? ''), message);
          assert.match(body, new RegExp(`id="${fieldId}"[^>]*aria-invalid="true"`), fieldId);
          assert.match(body, /value="kept"/, 'the description is put back');
        }
        assert.equal((await listEndpoints(t.db, site.site.id)).length, before);
      });

      it('disables with the reason shown, enables, rolls the secret, sends a test event, replays, and deletes', async () => {
        const [endpoint] = await listEndpoints(t.db, site.site.id);
        assert.ok(endpoint);
        const base = `/account/sites/${site.site.id}/webhooks/${endpoint.id}`;
        let page = await b.page('/account');
        const post = async (path: string, form: Record<string, string> = {}) => {
          const res = await b.request(`${base}/${path}`, { form: { csrf: csrfOf(page), ...form } });
          page = await res.text();
          assert.equal(res.status, 200, page);
          return page;
        };
        assert.match(await post('disable'), /Disabled http:\/\/localhost:4242/);
        assert.match(page, /<strong>Disabled<\/strong>/);
        assert.equal((await listEndpoints(t.db, site.site.id))[0]?.enabled, false);
        await post('enable');
        assert.equal((await listEndpoints(t.db, site.site.id))[0]?.enabled, true);

        await post('roll-secret');
        assert.match(page, /New signing secret/);
        assert.match(page, /The previous secret also signs until/);
        assert.match(page, /id="revealed-webhook-secret" class="secret" type="text" readonly value="whsec_/);

        const testId = /Sent a test event \((evt_[0-9A-Z]{26})\)/.exec(await post('test'))?.[1];
        assert.ok(testId, 'the notice names the test event');
        // Into the outbox, where the dispatcher (not running here) picks it up like any event.
        const [stored] = await t.db.query<{ type: string; site_id: string }>('SELECT type, site_id FROM events WHERE id = ?', [testId]);
        assert.deepEqual({ ...stored }, { type: 'webhook.test', site_id: site.site.id });
        const test = { eventId: testId };
        assert.match(await post('replay', { eventId: test.eventId }), new RegExp(`Queued ${test.eventId} to be sent again`));
        page = await b.page('/account');
        assert.match(page, /<caption id="deliveries-[^"]+">\s*Recent deliveries to http:\/\/localhost:4242/);
        assert.match(page, /<code>webhook\.test<\/code>/);

        assert.match(page, /<span class="status status-pending">pending<\/span>\s*<span class="muted">\(replay\)<\/span>/);
        assert.match(await post('replay', { since: '24h' }), /Queued \d+ events? to be sent again|No events in that time/);

        // Another site's event, a bad window: refused on the page, nothing queued.
        const count = (await listDeliveries(t.db, site.site.id, endpoint.id, { limit: 100 })).length;
        const foreign = await b.request(`${base}/replay`, { form: { csrf: csrfOf(page), eventId: 'evt_01JD3S9ZK4W8Q2V7C5XH6RTB0M' } });
        assert.equal(foreign.status, 404);
        const bad = await b.request(`${base}/replay`, { form: { csrf: csrfOf(page), since: 'forever' } });
        assert.equal(bad.status, 400);
        assert.equal((await listDeliveries(t.db, site.site.id, endpoint.id, { limit: 100 })).length, count);

        await post('delete');
        assert.match(page, /Deleted the endpoint http:\/\/localhost:4242/);
        assert.equal((await listEndpoints(t.db, site.site.id)).length, 0);
      });

      it('says why an endpoint is disabled: by the site, or after 5 days of failures', async () => {
        const { endpoint } = await createEndpoint(t.db, site.site.id, { url: 'https://hooks.example/failing' });
        await t.db.run('UPDATE webhook_endpoints SET enabled = ?, disabled_at = ?, disabled_reason = ? WHERE id = ?', [
          kind === 'sqlite' ? 0 : false,
          Date.now(),
          'failing',
          endpoint.id,
        ]);
        const page = await b.page('/account');
        assert.match(page, /<strong>Disabled<\/strong>/);
        assert.match(page, /Disabled after 5 days of failed deliveries\./);
        assert.match(page, /Enable<span class="visually-hidden">\s*https:\/\/hooks\.example\/failing<\/span>/);
        const enabled = await b.request(`/account/sites/${site.site.id}/webhooks/${endpoint.id}/enable`, { form: { csrf: csrfOf(page) } });
        assert.equal(enabled.status, 200);
        const after = await listEndpoints(t.db, site.site.id);
        assert.deepEqual(
          after.filter((one) => one.id === endpoint.id).map((one) => [one.enabled, one.disabledReason]),
          [[true, null]],
        );
        await deleteEndpoint(t.db, site.site.id, endpoint.id);
      });

      it("refuses another owner's site and a made-up endpoint, and a missing CSRF token", async () => {
        const other = await createUser(
          t.db,
          { email: `other${++users}-${kind}@example.com`, password: PASSWORD, displayName: 'Other', roles: ['creator'] },
          { cost },
        );
        const otherBrowser = browser();
        await otherBrowser.signIn(other.email);
        const csrf = await otherBrowser.csrf('/account');
        const res = await otherBrowser.request(`/account/sites/${site.site.id}/webhooks`, {
          form: { csrf, url: 'https://evil.example/hook', types: 'all' },
        });
        assert.equal(res.status, 404);
        const made = await b.request(`/account/sites/${site.site.id}/webhooks/we_01JD3S9ZK4W8Q2V7C5XH6RTB0M/disable`, {
          form: { csrf: await b.csrf('/account') },
        });
        assert.equal(made.status, 404);
        const noCsrf = await b.request(`/account/sites/${site.site.id}/webhooks`, { form: { url: 'https://x.example/h', types: 'all' } });
        assert.equal(noCsrf.status, 403);
        assert.equal((await listEndpoints(t.db, site.site.id)).length, 0);
      });
    });
  });
}
