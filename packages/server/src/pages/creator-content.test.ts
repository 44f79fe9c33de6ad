import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hono } from 'hono';
import { createApp } from '../app.js';
import { findContent } from '../content/content.js';
import { createSite, type CreatedSite } from '../identity/sites.js';
import { createUser } from '../identity/users.js';
import { Ledger } from '../ledger/ledger.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { HOSTED_CSP } from './security-headers.js';
import { Browser, PASSWORD, csrfOf } from './testing.js';

const cost = { N: 2 ** 10, r: 8, p: 1 };

let ipCounter = 0;

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`the creator's content page on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let app: Hono;
    let site: CreatedSite;
    let users = 0;
    const browser = () => new Browser(app, `10.9.${kind === 'sqlite' ? 1 : 2}.${++ipCounter}`);
    const newUser = (roles: ('fan' | 'creator')[], displayName = 'Maker') =>
      createUser(t.db, { email: `content${++users}@example.com`, password: PASSWORD, displayName, roles }, { cost });

    /** A browser signed in as a new creator who owns a site. */
    async function creatorBrowser(): Promise<{ b: Browser; creatorId: string; siteId: string }> {
      const creator = await newUser(['creator']);
      site = await createSite(t.db, { ownerId: creator.id, name: 'Maker’s <page>', origins: ['https://maker.example'] });
      const b = browser();
      const res = await b.signIn(creator.email);
      assert.equal(res.status, 303);
      return { b, creatorId: creator.id, siteId: site.site.id };
    }

    function form(csrf: string, siteId: string, fields: Record<string, string> = {}): Record<string, string> {
      return {
        csrf,
        siteId,
        title: 'Studio diary',
        teaser: 'A look inside',
        body: '# Hi\n\n<script>alert(1)</script>',
        externalUrl: '',
        rule: 'price',
        amount: '50',
        ...fields,
      };
    }

    before(async () => {
      t = await createTestDatabase(kind);
      app = createApp({ db: t.db, ledger: new Ledger(t.db) }) as unknown as Hono;
    });
    after(async () => {
      if (t) await t.drop();
    });

    it('sends a signed-out visitor to sign in, and refuses a fan', async () => {
      const res = await browser().request('/account/content');
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('Location'), '/signin?next=%2Faccount%2Fcontent');
      const fan = await newUser(['fan']);
      const b = browser();
      await b.signIn(fan.email);
      const refused = await b.request('/account/content');
      assert.equal(refused.status, 403);
      assert.match(await refused.text(), /Only creators publish content/);
    });

    it('renders an accessible page with the hosted security headers', async () => {
      const { b } = await creatorBrowser();
      const res = await b.request('/account/content');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('Content-Security-Policy'), HOSTED_CSP);
      assert.equal(res.headers.get('X-Frame-Options'), 'DENY');
      const body = await res.text();
      assert.match(body, /<title>Your content · Diamonds<\/title>/);
      assert.match(body, /<h1>Your content<\/h1>/);
      for (const id of [
        'content-site',
        'content-title',
        'content-teaser',
        'content-body',
        'content-url',
        'content-rule-price',
        'content-rule-threshold',
        'content-amount',
      ]) {
        assert.match(body, new RegExp(`<label for="${id}">`), id);
        assert.match(body, new RegExp(`id="${id}"`), id);
      }
      assert.match(body, /<legend>Who can unlock it<\/legend>/);
      assert.match(body, /Maker’s &lt;page&gt;/, 'site names are escaped');
      assert.doesNotMatch(body, /<script/);
    });

    it('publishes from the form (Markdown sanitised) and lists it; archives and unarchives it', async () => {
      const { b, creatorId, siteId } = await creatorBrowser();
      const csrf = await b.csrf('/account/content');
      const res = await b.request('/account/content', { form: form(csrf, siteId) });
      assert.equal(res.status, 303, await res.clone().text());
      const location = res.headers.get('Location') ?? '';
      const id = /published=(ct_[0-9A-Z]{26})/.exec(location)?.[1];
      assert.ok(id, location);
      const stored = await findContent(t.db, id);
      assert.equal(stored?.creatorId, creatorId);
      assert.equal(stored?.siteId, siteId);
      assert.equal(stored?.priceDiamonds, 50);
      assert.equal(stored?.bodyHtml, '<h1>Hi</h1>\n<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n');
      const listed = await b.page(location);
      assert.match(listed, /Published ct_/);
      assert.match(listed, /<h3>Studio diary<\/h3>/);
      assert.match(listed, /Price: 50 Diamonds/);

      const archive = await b.request(`/account/content/${id}/archive`, { form: { csrf: csrfOf(listed) } });
      assert.equal(archive.status, 303);
      assert.notEqual((await findContent(t.db, id))?.archivedAt, null);
      assert.match(await b.page('/account/content'), /\(archived\)/);
      const unarchive = await b.request(`/account/content/${id}/unarchive`, { form: { csrf: csrfOf(listed) } });
      assert.equal(unarchive.status, 303);
      assert.equal((await findContent(t.db, id))?.archivedAt, null);

      const threshold = await b.request('/account/content', {
        form: form(csrf, siteId, { body: '', externalUrl: 'https://video.example/1', rule: 'threshold', amount: '300' }),
      });
      assert.equal(threshold.status, 303);
      assert.match(await b.page('/account/content'), /Free for fans who gave you 300 Diamonds or more/);
    });

    const problems: [string, Record<string, string>, string, RegExp][] = [
      ['an empty title', { title: ' ' }, 'content-title', /title may not be empty/i],
      ['an amount of 0', { amount: '0' }, 'content-amount', /./],
      ['an amount of 1.5', { amount: '1.5' }, 'content-amount', /whole number/],
      ['an amount of -1', { amount: '-1' }, 'content-amount', /whole number/],
      ['a javascript: URL', { body: '', externalUrl: 'javascript:alert(1)' }, 'content-url', /https/],
      ['a body and a URL', { externalUrl: 'https://example.com' }, 'content-url', /exactly one/],
      ['no rule', { rule: '' }, 'content-rule-price', /price or a threshold/],
      ['a site of someone else', { siteId: 'site_00000000000000000000000000' }, 'content-site', /one of your sites/],
    ];
    for (const [what, fields, fieldId, message] of problems) {
      it(`shows ${what} beside its field and publishes nothing`, async () => {
        const { b, creatorId, siteId } = await creatorBrowser();
        const csrf = await b.csrf('/account/content');
        const res = await b.request('/account/content', { form: form(csrf, siteId, fields) });
        assert.equal(res.status, 400);
        const body = await res.text();
        assert.match(body, /<div class="alert" role="alert"/);
        assert.match(body, message);
        assert.match(body, new RegExp(`id="${fieldId}"[^>]*aria-invalid="true"`), `${fieldId} marked invalid`);
        assert.match(body, />\s*A look inside<\/textarea/, 'the draft is kept');
        const [row] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM content WHERE creator_id = ?', [creatorId]);
        assert.equal(Number(row?.n), 0);
      });
    }

    it('refuses a form without the session’s CSRF token, or from another origin', async () => {
      const { b, creatorId, siteId } = await creatorBrowser();
      const csrf = await b.csrf('/account/content');
      assert.equal((await b.request('/account/content', { form: form('x'.repeat(43), siteId) })).status, 403);
      const crossOrigin = await b.request('/account/content', { form: form(csrf, siteId), headers: { Origin: 'https://evil.example' } });
      assert.equal(crossOrigin.status, 403);
      const [row] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM content WHERE creator_id = ?', [creatorId]);
      assert.equal(Number(row?.n), 0);
    });

    it('will not archive another creator’s content', async () => {
      const first = await creatorBrowser();
      const csrf = await first.b.csrf('/account/content');
      const res = await first.b.request('/account/content', { form: form(csrf, first.siteId) });
      const id = /published=(ct_[0-9A-Z]{26})/.exec(res.headers.get('Location') ?? '')?.[1];
      const second = await creatorBrowser();
      const other = await second.b.request(`/account/content/${id}/archive`, { form: { csrf: await second.b.csrf('/account/content') } });
      assert.equal(other.status, 404);
      assert.equal((await findContent(t.db, id!))?.archivedAt, null);
    });
  });
}
