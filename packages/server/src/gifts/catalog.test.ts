import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GiftType, GiftTypeList } from '@diamonds/protocol';
import { isApiError } from '../errors.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness } from '../testing/money.js';
import {
  BUILT_IN_GIFTS,
  MAX_GIFT_SVG_BYTES,
  addGiftType,
  checkGiftSvg,
  listAllGiftTypes,
  seedGiftCatalog,
  setGiftTypeActive,
} from './catalog.js';
import { giftsAddCommand, giftsListCommand, giftsSetActiveCommand, type CommandOutput } from './commands.js';

/** A command output that keeps what was printed. */
function collect(): CommandOutput & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, log: (line) => lines.push(line), error: (line) => errors.push(line) };
}

const SQUARE = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" fill="#09c"/></svg>';

function refusesSvg(svg: string, why: RegExp): void {
  assert.throws(
    () => checkGiftSvg(svg),
    (error: unknown) => isApiError(error, 'invalid_request') && error.param === 'svg' && why.test(error.message),
    svg.slice(0, 120),
  );
}

describe('gift art checks', () => {
  it('ships at least 8 gifts from 1 to 10,000 Diamonds, each with small self-contained art that passes the checks', () => {
    assert.ok(BUILT_IN_GIFTS.length >= 8);
    const prices = BUILT_IN_GIFTS.map((gift) => gift.priceDiamonds);
    assert.equal(Math.min(...prices), 1);
    assert.equal(Math.max(...prices), 10_000);
    assert.equal(new Set(BUILT_IN_GIFTS.map((gift) => gift.id)).size, BUILT_IN_GIFTS.length, 'ids are unique');
    for (const gift of BUILT_IN_GIFTS) {
      assert.equal(checkGiftSvg(gift.svg), gift.svg, gift.id);
      assert.ok(Buffer.byteLength(gift.svg) <= 2048, `${gift.id} art is at most 2 kB`);
      assert.match(gift.svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 64 64">/, gift.id);
      assert.doesNotMatch(gift.svg, /href|<script|\son\w+=/i, gift.id);
    }
  });

  it('accepts a plain SVG and internal references', () => {
    assert.equal(checkGiftSvg(`  ${SQUARE}\n`), SQUARE);
    const gradient =
      '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>' +
      '<rect width="64" height="64" fill="url(#g)"/></svg>';
    assert.equal(checkGiftSvg(gradient), gradient);
  });

  it('refuses scripts, event handlers, outside references and oversized art', () => {
    refusesSvg('<svg><script>alert(1)</script></svg>', /script/);
    refusesSvg('<svg><SCRIPT >alert(1)</SCRIPT></svg>', /script/);
    refusesSvg('<svg onload="alert(1)"></svg>', /event-handler/);
    refusesSvg('<svg><rect ONCLICK = "x()"/></svg>', /event-handler/);
    refusesSvg('<svg><rect/onclick="x()"/></svg>', /event-handler/);
    refusesSvg('<svg><a href="https://evil.example/">x</a></svg>', /load, link|href/);
    refusesSvg('<svg><use href="https://evil.example/s.svg#x"/></svg>', /load, link|href/);
    refusesSvg('<svg><use xlink:href="//evil.example/s.svg#x"/></svg>', /load, link|href/);
    refusesSvg('<svg><linearGradient href="data:x"/></svg>', /href|data/);
    refusesSvg('<svg><rect fill="url(https://evil.example/x)"/></svg>', /url\(\)/);
    refusesSvg('<svg><style>@import "https://evil.example/x.css";</style></svg>', /@import/);
    refusesSvg('<svg><foreignObject><div/></foreignObject></svg>', /load, link/);
    refusesSvg('<svg><image src="x"/></svg>', /load, link/);
    refusesSvg('<!DOCTYPE svg [<!ENTITY x "y">]><svg></svg>', /start with <svg/);
    refusesSvg('<svg><!ENTITY x "y"></svg>', /DOCTYPE or entity/);
    refusesSvg('<html><svg></svg></html>', /start with <svg/);
    refusesSvg('<svg>', /end with <\/svg>/);
    refusesSvg(`<svg>${' '.repeat(MAX_GIFT_SVG_BYTES)}</svg>`, /limit is 10240 bytes/);
    assert.throws(
      () => checkGiftSvg(42),
      (error: unknown) => isApiError(error, 'invalid_request'),
    );
  });
});

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`gift catalog on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    before(async () => {
      h = await startMoneyHarness(kind);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    it('is there on a fresh database, and seeding again adds nothing', async () => {
      const all = await listAllGiftTypes(h.t.db);
      assert.deepEqual(
        BUILT_IN_GIFTS.map((gift) => gift.id).filter((id) => !all.some((stored) => stored.id === id)),
        [],
        'every built-in gift is seeded by the migration',
      );
      assert.equal(await seedGiftCatalog(h.t.db), 0);
    });

    it('lists the catalog with absolute art URLs, cheapest first, to either key', async () => {
      for (const key of ['publishable', 'secret'] as const) {
        const res = await h.call('/catalog/gifts?limit=100', { key });
        assert.equal(res.status, 200);
        const page = GiftTypeList.parse(await res.json());
        assert.ok(page.data.length >= 8);
        assert.equal(page.hasMore, false);
        const rose = page.data.find((gift) => gift.id === 'rose');
        assert.deepEqual(rose, {
          object: 'gift_type',
          id: 'rose',
          name: 'Rose',
          priceDiamonds: 5,
          artUrl: `${h.server.url}/gifts/rose.svg`,
          animation: 'float',
        });
        const prices = page.data.map((gift) => gift.priceDiamonds);
        assert.deepEqual(
          prices,
          [...prices].sort((a, b) => a - b),
        );
      }
    });

    it('pages through the catalog with cursors, no gaps, no repeats', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await h.call(`/catalog/gifts?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(res.status, 200);
        const page = GiftTypeList.parse(await res.json());
        assert.ok(page.data.length <= 3);
        seen.push(...page.data.map((gift) => gift.id));
        cursor = page.nextCursor;
        assert.equal(page.hasMore, cursor !== null);
        pages++;
      } while (cursor !== null && pages < 20);
      const all = GiftTypeList.parse(await (await h.call('/catalog/gifts?limit=100')).json());
      assert.deepEqual(
        seen,
        all.data.map((gift) => gift.id),
      );
      await h.refused(await h.call('/catalog/gifts?cursor=bm90LWEtY3Vyc29y'), 400, 'invalid_cursor');
      await h.refused(await h.call('/catalog/gifts?limit=0'), 400, 'invalid_request');
      await h.refused(await h.call('/catalog/gifts?limit=101'), 400, 'invalid_request');
    });

    it('serves the art publicly with safe headers', async () => {
      const res = await fetch(`${h.server.url}/gifts/rose.svg`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('Content-Type'), 'image/svg+xml');
      assert.equal(res.headers.get('Cache-Control'), 'public, max-age=86400');
      assert.equal(res.headers.get('Content-Security-Policy'), "default-src 'none'; style-src 'unsafe-inline'");
      assert.equal(res.headers.get('X-Content-Type-Options'), 'nosniff');
      assert.equal(res.headers.get('Access-Control-Allow-Origin'), '*');
      assert.equal(await res.text(), BUILT_IN_GIFTS.find((gift) => gift.id === 'rose')?.svg);
      const missing = await fetch(`${h.server.url}/gifts/no-such-gift.svg`);
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'gift_not_found');
      assert.equal((await fetch(`${h.server.url}/gifts/..%2Fetc.svg`)).status, 404);
    });

    it('lets an operator add a gift type, checked, and take it off the list', async () => {
      const added = await addGiftType(h.t.db, {
        id: 'paper-plane',
        name: 'Paper plane',
        priceDiamonds: 25,
        svg: SQUARE,
        animation: 'rise',
      });
      assert.equal(added.active, true);
      const page = GiftTypeList.parse(await (await h.call('/catalog/gifts?limit=100')).json());
      assert.deepEqual(GiftType.parse(page.data.find((gift) => gift.id === 'paper-plane')), {
        object: 'gift_type',
        id: 'paper-plane',
        name: 'Paper plane',
        priceDiamonds: 25,
        artUrl: `${h.server.url}/gifts/paper-plane.svg`,
        animation: 'rise',
      });
      assert.equal(await (await fetch(`${h.server.url}/gifts/paper-plane.svg`)).text(), SQUARE);

      const refused = async (input: Record<string, unknown>, param: string) => {
        await assert.rejects(
          addGiftType(h.t.db, { id: 'x-gift', name: 'X', priceDiamonds: 1, svg: SQUARE, ...input }),
          (error: unknown) => isApiError(error, 'invalid_request') && error.param === param,
        );
      };
      await refused({ id: 'paper-plane' }, 'id');
      await refused({ id: 'Bad Id' }, 'id');
      await refused({ id: '' }, 'id');
      await refused({ name: '' }, 'name');
      await refused({ name: 'x'.repeat(41) }, 'name');
      for (const price of [0, -1, 1.5, '10', 2 ** 53 + 1, 1_000_000_001]) await refused({ priceDiamonds: price }, 'priceDiamonds');
      await refused({ animation: 'wobble' }, 'animation');
      await refused({ svg: '<svg onload="alert(1)"></svg>' }, 'svg');
      assert.equal(
        (await listAllGiftTypes(h.t.db)).some((gift) => gift.id === 'x-gift'),
        false,
      );

      await setGiftTypeActive(h.t.db, 'paper-plane', false);
      const after = GiftTypeList.parse(await (await h.call('/catalog/gifts?limit=100')).json());
      assert.equal(
        after.data.some((gift) => gift.id === 'paper-plane'),
        false,
      );
      assert.equal((await fetch(`${h.server.url}/gifts/paper-plane.svg`)).status, 200, 'old gifts keep their art');
      await assert.rejects(setGiftTypeActive(h.t.db, 'nope', true), (error: unknown) => isApiError(error, 'gift_not_found'));
    });

    it('runs the CLI commands: gifts add, list, disable, enable', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'diamonds-gift-'));
      try {
        const file = join(dir, 'balloon.svg');
        await writeFile(file, SQUARE);
        const added = collect();
        assert.equal(
          await giftsAddCommand(
            h.t.db,
            ['--id', 'balloon', '--name', 'Balloon', '--price', '20', '--svg', file, '--animation', 'float'],
            added,
          ),
          0,
          added.errors.join('\n'),
        );
        assert.match(added.lines.join('\n'), /added balloon \(Balloon, 20 Diamonds, float\)/);
        const listed = collect();
        assert.equal(await giftsListCommand(h.t.db, listed), 0);
        assert.ok(
          listed.lines.some((line) => /^balloon\s+20\s+Balloon$/.test(line)),
          listed.lines.join('\n'),
        );
        assert.ok(listed.lines.some((line) => /^diamond-castle\s+10,000\s+Diamond Castle$/.test(line)));

        const refusals: [string[], RegExp][] = [
          [['--id', 'balloon', '--name', 'B', '--price', '20', '--svg', file], /exists already/],
          [['--id', 'kite', '--name', 'Kite', '--price', '1.5', '--svg', file], /priceDiamonds must be a whole number/],
          [['--id', 'kite', '--name', 'Kite', '--price', '20'], /pass --svg/],
          [['--id', 'kite', '--name', 'Kite', '--price', '20', '--svg', join(dir, 'missing.svg')], /cannot read/],
          [['--id', 'kite', '--colour', 'red'], /Options: --id/],
        ];
        for (const [args, message] of refusals) {
          const out = collect();
          assert.equal(await giftsAddCommand(h.t.db, args, out), 2, args.join(' '));
          assert.match(out.errors.join('\n'), message);
        }
        await writeFile(file, '<svg onload="alert(1)"></svg>');
        const unsafe = collect();
        assert.equal(await giftsAddCommand(h.t.db, ['--id', 'kite', '--name', 'Kite', '--price', '20', '--svg', file], unsafe), 2);
        assert.match(unsafe.errors.join('\n'), /event-handler/);

        assert.equal(await giftsSetActiveCommand(h.t.db, ['--id', 'balloon'], false, collect()), 0);
        const disabled = collect();
        await giftsListCommand(h.t.db, disabled);
        assert.ok(disabled.lines.some((line) => /^balloon .*\(disabled\)$/.test(line)));
        assert.equal(await giftsSetActiveCommand(h.t.db, ['--id', 'balloon'], true, collect()), 0);
        const missing = collect();
        assert.equal(await giftsSetActiveCommand(h.t.db, ['--id', 'nope'], false, missing), 2);
        assert.match(missing.errors.join('\n'), /No gift type "nope"/);
        assert.equal(await giftsSetActiveCommand(h.t.db, [], false, collect()), 2);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('documents the gift and confirmation routes in the OpenAPI document', async () => {
      const res = await fetch(`${h.server.url}/v1/openapi.json`);
      const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
      assert.ok(doc.paths['/v1/catalog/gifts']?.get);
      assert.ok(doc.paths['/v1/gifts']?.post);
      assert.ok(doc.paths['/v1/gifts/{id}']?.get);
      assert.ok(doc.paths['/v1/confirmations/{id}']?.get);
      assert.ok(doc.paths['/gifts/{id}.svg']?.get);
    });
  });
}
