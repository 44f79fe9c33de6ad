// Sign-in, tokens and the session stores, against the real platform on each database. Only the
// browser is faked: `window.open` returns a stand-in popup, the fan's answer on the consent
// page is given server-side with decideSignInRequest, as the hosted page would, and the code the
// hosted "done" page posts to its opener arrives as a `message` event from that popup. The DPoP
// key lives in memory here (Node has WebCrypto but no IndexedDB).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, afterEach, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  decideSignInRequest,
  DATABASE_KINDS,
  skipUnlessPostgres,
  startMoneyHarness,
  TEST_PAGE_ORIGIN,
  type MoneyHarness,
  type TestFan,
} from '@diamonds/server/testing';
import {
  createDiamonds,
  isPopupBlockedError,
  PopupBlockedError,
  PopupClosedError,
  SignInDeniedError,
  SignInExpiredError,
  SignInRequiredError,
  type DiamondsClient,
  type DiamondsOptions,
  type Session,
  type StorageLike,
} from './index.js';

/** A popup window as `window.open` returns it, minus everything the SDK does not touch. */
class FakePopup {
  closed = false;
  closeCalls = 0;
  readonly location = { href: 'about:blank' };
  close(): void {
    this.closeCalls++;
    this.closed = true;
  }
}

/** A Storage that, like localStorage, tells the other "tabs" (listeners) about each write. */
class FakeStorage implements StorageLike {
  readonly items = new Map<string, string>();
  readonly #events: EventTarget | undefined;
  constructor(events?: EventTarget) {
    this.#events = events;
  }
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
    this.#tell(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
    this.#tell(key, null);
  }
  #tell(key: string, newValue: string | null): void {
    this.#events?.dispatchEvent(Object.assign(new Event('storage'), { key, newValue, storageArea: this }));
  }
}

type Globals = { open?: unknown; localStorage?: unknown; addEventListener?: unknown; removeEventListener?: unknown };
const globals = globalThis as Globals;

/** The page's window, for the events the SDK listens to (`message`, `storage`). */
let pageWindow: EventTarget | undefined;

/** Installs a window-like event target as the global `addEventListener`; returns it. */
function installWindow(): EventTarget {
  const target = new EventTarget();
  pageWindow = target;
  globals.addEventListener = target.addEventListener.bind(target);
  globals.removeEventListener = target.removeEventListener.bind(target);
  return target;
}

/** What the hosted "done" page does: posts the sign-in code to its opener, from `origin`. */
function handBack(popup: FakePopup, requestId: string, code: string, origin: string, data?: unknown): void {
  pageWindow!.dispatchEvent(
    Object.assign(new Event('message'), { source: popup, origin, data: data ?? { type: 'diamonds:signin', request: requestId, code } }),
  );
}

/** Installs a fake `window.open`; returns the popups it opened. */
function fakeWindowOpen(result: 'popup' | 'blocked' = 'popup'): FakePopup[] {
  if (!pageWindow) installWindow();
  const popups: FakePopup[] = [];
  globals.open = () => {
    if (result === 'blocked') return null;
    const popup = new FakePopup();
    popups.push(popup);
    return popup;
  };
  return popups;
}

/** Waits until `condition` holds (the SDK works through a few awaits before the popup moves). */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** The sign-in request id the popup was sent to. */
async function requestIdOf(popup: FakePopup): Promise<string> {
  await until(() => popup.location.href.includes('request='), 'the popup to reach the consent page');
  const id = new URL(popup.location.href).searchParams.get('request');
  assert.ok(id?.startsWith('sir_'), popup.location.href);
  return id!;
}

const execFileAsync = promisify(execFile);

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`sign-in and tokens on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let fan: TestFan;
    /** Every request the clients sent, as `METHOD /path`. */
    let sent: string[] = [];

    /** The page's fetch: the browser would add Origin by itself; here we add it and count. */
    const pageFetch: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      sent.push(`${request.method} ${new URL(request.url).pathname}`);
      const headers = new Headers(request.headers);
      headers.set('Origin', TEST_PAGE_ORIGIN);
      return fetch(new Request(request, { headers }));
    };

    const client = (options: Partial<DiamondsOptions> = {}): DiamondsClient =>
      createDiamonds({ publishableKey: h.site.publishableKey, apiBase: h.server.url, fetch: pageFetch, pollWaitMs: 100, ...options });

    /** The fan connects in `popup`, whose "done" page then hands the code back to the page. */
    async function approve(popup: FakePopup, allowance = 50): Promise<string> {
      const requestId = await requestIdOf(popup);
      const { code } = await decideSignInRequest(h.t.db, { requestId, userId: fan.id, approve: true, allowancePerDay: allowance });
      handBack(popup, requestId, code!, new URL(h.server.url).origin);
      return requestId;
    }

    /** Signs `fan` in on `diamonds` through a fake popup, approving with `allowance`. */
    async function signIn(diamonds: DiamondsClient, allowance = 50): Promise<void> {
      const popups = fakeWindowOpen();
      const pending = diamonds.signIn();
      await approve(popups[0]!, allowance);
      await pending;
    }

    const count = (what: string) => sent.filter((line) => line === what).length;

    before(async () => {
      h = await startMoneyHarness(kind);
      fan = await h.fan({ name: 'Grace' });
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });
    afterEach(() => {
      delete globals.open;
      delete globals.localStorage;
      delete globals.addEventListener;
      delete globals.removeEventListener;
      pageWindow = undefined;
      sent = [];
    });

    it('opens the popup synchronously, then resolves with the fan once approved; the token works on /v1/me', async () => {
      const diamonds = client();
      const statuses: Session['status'][] = [];
      diamonds.session.subscribe((session) => statuses.push(session.status));
      const popups = fakeWindowOpen();
      const pending = diamonds.signIn();
      assert.equal(popups.length, 1, 'window.open ran before signIn() returned: inside the click');
      assert.equal(popups[0]!.location.href, 'about:blank');
      assert.equal(diamonds.session.get().status, 'signing_in');
      await requestIdOf(popups[0]!);
      assert.match(popups[0]!.location.href, /\/signin\/authorize\?request=sir_/);
      await approve(popups[0]!, 50);
      const signedIn = await pending;
      assert.deepEqual(signedIn, { id: fan.id, displayName: 'Grace' });
      assert.deepEqual(diamonds.session.get(), { status: 'signed_in', fan: signedIn, site: { id: h.site.id, name: 'Ada’s page' } });
      assert.deepEqual(diamonds.allowance.get(), { perDay: 50, remaining: 50, recipients: [h.creator.id] });
      assert.deepEqual(statuses, ['signed_out', 'signing_in', 'signed_in', 'signed_in']);
      assert.equal(popups[0]!.closeCalls, 1, 'the SDK closes the popup when done');
      const me = await diamonds.me();
      assert.equal(me.fan.id, fan.id);
      assert.equal(count('POST /v1/tokens/refresh'), 0, 'a fresh access token needs no refresh');
    });

    it('a second signIn() while one runs shares it and opens no second popup', async () => {
      const diamonds = client();
      const popups = fakeWindowOpen();
      const first = diamonds.signIn();
      const second = diamonds.signIn();
      assert.equal(first, second);
      assert.equal(popups.length, 1);
      await decideSignInRequest(h.t.db, { requestId: await requestIdOf(popups[0]!), userId: fan.id, approve: false });
      await assert.rejects(first, SignInDeniedError);
    });

    it('rejects with signin_denied when the fan declines, and the session goes back to signed out', async () => {
      const diamonds = client();
      const popups = fakeWindowOpen();
      const pending = diamonds.signIn();
      await decideSignInRequest(h.t.db, { requestId: await requestIdOf(popups[0]!), userId: fan.id, approve: false });
      await assert.rejects(pending, (error: unknown) => {
        assert.ok(error instanceof SignInDeniedError);
        assert.equal(error.code, 'signin_denied');
        return true;
      });
      assert.deepEqual(diamonds.session.get(), { status: 'signed_out' });
      assert.equal(diamonds.allowance.get(), null);
    });

    it('rejects with signin_expired when the request runs out of time', async () => {
      const diamonds = client();
      const popups = fakeWindowOpen();
      const pending = diamonds.signIn();
      const requestId = await requestIdOf(popups[0]!);
      await h.t.db.run('UPDATE signin_requests SET expires_at = 1 WHERE id = ?', [requestId]);
      await assert.rejects(pending, (error: unknown) => error instanceof SignInExpiredError && error.code === 'signin_expired');
      assert.equal(diamonds.session.get().status, 'signed_out');
    });

    it('rejects with popup_closed after one last poll when the fan closes the popup', async () => {
      const diamonds = client();
      const popups = fakeWindowOpen();
      const pending = diamonds.signIn();
      await requestIdOf(popups[0]!);
      const pollsBefore = sent.filter((line) => line.endsWith('/poll')).length;
      popups[0]!.closed = true;
      await assert.rejects(pending, (error: unknown) => error instanceof PopupClosedError && error.code === 'popup_closed');
      assert.ok(sent.filter((line) => line.endsWith('/poll')).length > pollsBefore, 'it looked once more after the close');
      assert.equal(diamonds.session.get().status, 'signed_out');
    });

    it('still signs in when the fan approved just before closing the popup', async () => {
      const diamonds = client();
      const popups = fakeWindowOpen();
      const pending = diamonds.signIn();
      await approve(popups[0]!, 10);
      popups[0]!.closed = true;
      assert.equal((await pending).id, fan.id);
      assert.equal(diamonds.session.get().status, 'signed_in');
    });

    it('takes the code only from its own popup and the platform’s origin; a lost code ends in popup_closed, and a retry works', async () => {
      const diamonds = client();
      const popups = fakeWindowOpen();
      const pending = diamonds.signIn();
      const requestId = await requestIdOf(popups[0]!);
      const { code } = await decideSignInRequest(h.t.db, { requestId, userId: fan.id, approve: true, allowancePerDay: 5 });
      const platform = new URL(h.server.url).origin;
      // Forged or stray messages: another window, another origin, another request, another shape.
      handBack(new FakePopup(), requestId, code!, platform);
      handBack(popups[0]!, requestId, code!, 'http://127.0.0.1:6666');
      handBack(popups[0]!, 'sir_00000000000000000000000000', code!, platform);
      handBack(popups[0]!, requestId, code!, platform, { type: 'diamonds:signin', request: requestId, code: 42 });
      handBack(popups[0]!, requestId, code!, platform, 'diamonds:signin');
      // The popup closes (or an opener policy cut it off) before the real message came.
      popups[0]!.closed = true;
      await assert.rejects(pending, (error: unknown) => {
        assert.ok(error instanceof PopupClosedError, String(error));
        assert.equal(error.code, 'popup_closed');
        assert.match(error.message, /call signIn\(\) again/);
        return true;
      });
      assert.equal(count('POST /v1/signin-requests/' + requestId + '/exchange'), 0, 'no exchange without the code');
      assert.equal(diamonds.session.get().status, 'signed_out');
      // The retry path: a new click, a new request, and it works.
      await signIn(diamonds);
      assert.equal(diamonds.session.get().status, 'signed_in');
    });

    it('sends a DPoP proof with the exchange, every refresh and every call with a token, a new one each time', async () => {
      const proofs: Array<{ line: string; proof: string | null }> = [];
      const diamonds = client({
        fetch: (input, init) => {
          const request = input instanceof Request ? input : new Request(input, init);
          proofs.push({ line: `${request.method} ${new URL(request.url).pathname}`, proof: request.headers.get('DPoP') });
          return pageFetch(input, init);
        },
      });
      await signIn(diamonds);
      await diamonds.me();
      await h.t.db.run("UPDATE tokens SET expires_at = 1 WHERE kind = 'access' AND user_id = ?", [fan.id]);
      await diamonds.me();
      const withProof = proofs.filter((p) => p.proof !== null).map((p) => p.line);
      assert.ok(withProof.some((line) => line.endsWith('/exchange')));
      assert.ok(withProof.includes('POST /v1/tokens/refresh'));
      assert.ok(withProof.filter((line) => line === 'GET /v1/me').length >= 3);
      assert.equal(
        proofs.filter((p) => p.line === 'POST /v1/signin-requests' || p.line.endsWith('/poll')).every((p) => p.proof === null),
        true,
        'no proof where no token is involved',
      );
      const all = proofs.flatMap((p) => (p.proof ? [p.proof] : []));
      assert.equal(new Set(all).size, all.length, 'never the same proof twice');
      const [header, claims] = all[0]!
        .split('.')
        .slice(0, 2)
        .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>);
      assert.equal(header!.typ, 'dpop+jwt');
      assert.equal(header!.alg, 'ES256');
      const jwk = header!.jwk as Record<string, unknown>;
      assert.deepEqual([jwk.kty, jwk.crv, 'd' in jwk], ['EC', 'P-256', false], 'the public key only');
      assert.deepEqual(Object.keys(claims!).sort(), ['htm', 'htu', 'iat', 'jti']);
    });

    it('rejects with popup_blocked, sending nothing, when window.open returns null or does not exist', async () => {
      const diamonds = client();
      fakeWindowOpen('blocked');
      await assert.rejects(diamonds.signIn(), (error: unknown) => error instanceof PopupBlockedError && error.code === 'popup_blocked');
      delete globals.open;
      await assert.rejects(diamonds.signIn(), (error: unknown) => isPopupBlockedError(error) && /window\.open/.test(error.message));
      assert.deepEqual(sent, []);
      assert.equal(diamonds.session.get().status, 'signed_out');
    });

    it('refreshes once for ten concurrent calls when the server refuses the access token (401 invalid_token)', async () => {
      const diamonds = client();
      await signIn(diamonds);
      sent = [];
      await h.t.db.run("UPDATE tokens SET expires_at = 1 WHERE kind = 'access' AND user_id = ?", [fan.id]);
      const answers = await Promise.all(Array.from({ length: 10 }, () => diamonds.me()));
      assert.ok(answers.every((me) => me.fan.id === fan.id));
      assert.equal(count('POST /v1/tokens/refresh'), 1, sent.join('\n'));
      assert.equal(count('GET /v1/me'), 20, 'each call: refused once, then through');
    });

    it('refreshes once, ahead of expiry, for ten concurrent calls when the access token is near its end', async () => {
      let now = Date.now();
      const diamonds = client({ clock: () => now });
      await signIn(diamonds);
      sent = [];
      now += 14.5 * 60_000; // 30 s before the 15-minute token ends: inside the 60 s margin
      await Promise.all(Array.from({ length: 10 }, () => diamonds.me()));
      assert.equal(count('POST /v1/tokens/refresh'), 1, sent.join('\n'));
      assert.equal(count('GET /v1/me'), 10, 'no call was refused first');
    });

    it('a refresh token stolen from storage is refused without the key; a reused one ends the sign-in', async () => {
      const storage = new FakeStorage();
      let now = Date.now();
      const diamonds = client({ storage, clock: () => now });
      await signIn(diamonds);
      const [key] = [...storage.items.keys()];
      const stolen = (JSON.parse(storage.items.get(key!)!) as { refreshToken: string }).refreshToken;
      // A thief with the token but not the browser's key gets nothing, and spends nothing.
      await h.refused(await h.call('/tokens/refresh', { body: { refreshToken: stolen } }), 401, 'invalid_dpop_proof');
      now += 15 * 60_000;
      assert.equal((await diamonds.me()).fan.id, fan.id, 'the SDK’s own refresh still works');
      // A reuse (here: the stored token rotated twice by someone holding the key) revokes the family.
      const rotated = (JSON.parse(storage.items.get(key!)!) as { refreshToken: string }).refreshToken;
      assert.notEqual(rotated, stolen);
      await h.t.db.run("UPDATE tokens SET used_at = 1 WHERE kind = 'refresh' AND user_id = ? AND used_at IS NULL", [fan.id]);
      now += 15 * 60_000;
      sent = [];
      await assert.rejects(diamonds.me(), (error: unknown) => error instanceof SignInRequiredError && error.code === 'signin_required');
      assert.deepEqual(diamonds.session.get(), { status: 'expired', fan: { id: fan.id, displayName: 'Grace' } });
      assert.equal(diamonds.allowance.get(), null);
      assert.equal(storage.items.size, 0, 'the dead refresh token is forgotten');
      await assert.rejects(diamonds.me(), SignInRequiredError);
      assert.equal(count('POST /v1/tokens/refresh'), 1, 'no second try with a dead token');
    });

    it('retries a refresh whose answer was lost, and stays signed in', async () => {
      let now = Date.now();
      let dropNextRefresh = true;
      // The platform exchanges the token, but the answer never reaches the page (a dropped connection).
      const lossy: typeof fetch = async (input, init) => {
        const request = new Request(input, init);
        const headers = new Headers(request.headers);
        headers.set('Origin', TEST_PAGE_ORIGIN);
        sent.push(`${request.method} ${new URL(request.url).pathname}`);
        const response = await fetch(new Request(request, { headers }));
        if (dropNextRefresh && new URL(request.url).pathname === '/v1/tokens/refresh') {
          dropNextRefresh = false;
          await response.body?.cancel();
          throw new TypeError('fetch failed');
        }
        return response;
      };
      const diamonds = client({ fetch: lossy, clock: () => now });
      await signIn(diamonds);
      sent = [];
      now += 15 * 60_000;
      assert.equal((await diamonds.me()).fan.id, fan.id, 'signed in still, with the retried refresh');
      assert.equal(count('POST /v1/tokens/refresh'), 2, sent.join('\n'));
      assert.equal(diamonds.session.get().status, 'signed_in');
      now += 15 * 60_000;
      assert.equal((await diamonds.me()).fan.id, fan.id, 'and the retried pair rotates as usual');
      // Nothing of this sign-in outlives the test (the next one counts the fan's live tokens).
      await diamonds.signOut();
    });

    it('signOut() revokes the refresh token (refused afterwards) and clears the state', async () => {
      const storage = new FakeStorage();
      const diamonds = client({ storage });
      await signIn(diamonds);
      const stored = JSON.parse([...storage.items.values()][0]!) as { refreshToken: string };
      await diamonds.signOut();
      assert.equal(count('POST /v1/tokens/revoke'), 1);
      assert.deepEqual(diamonds.session.get(), { status: 'signed_out' });
      assert.equal(diamonds.allowance.get(), null);
      assert.equal(storage.items.size, 0);
      const [live] = await h.t.db.query<{ n: number }>(
        "SELECT count(*) AS n FROM tokens WHERE kind = 'refresh' AND user_id = ? AND revoked_at IS NULL AND used_at IS NULL",
        [fan.id],
      );
      assert.equal(Number(live?.n), 0, `the kept refresh token ${stored.refreshToken.slice(0, 8)}… is revoked`);
      await assert.rejects(diamonds.me(), SignInRequiredError);
    });

    it('signOut() clears the state even when the platform cannot be reached', async () => {
      let offline = false;
      const diamonds = client({
        maxRetries: 0,
        fetch: (input, init) => (offline ? Promise.reject(new TypeError('fetch failed')) : pageFetch(input, init)),
      });
      await signIn(diamonds);
      offline = true;
      await diamonds.signOut();
      assert.deepEqual(diamonds.session.get(), { status: 'signed_out' });
      await assert.rejects(diamonds.me(), SignInRequiredError);
    });

    it("storage 'local' keeps only the refresh token, and a reload (a new client) is still signed in", async () => {
      const storage = new FakeStorage();
      globals.localStorage = storage;
      const diamonds = client({ storage: 'local' });
      await signIn(diamonds);
      assert.equal(storage.items.size, 1);
      const [[key, raw]] = [...storage.items.entries()] as [[string, string]];
      assert.equal(key, `diamonds:session:${h.site.publishableKey}`);
      assert.doesNotMatch(raw, /dat_/, 'never the access token');
      const kept = JSON.parse(raw) as { refreshToken: string; fan: { id: string } };
      assert.match(kept.refreshToken, /^drt_/);
      assert.equal(kept.fan.id, fan.id);

      let reads = 0;
      const getItem = storage.getItem.bind(storage);
      storage.getItem = (name) => (reads++, getItem(name));
      const reloaded = client({ storage: 'local' });
      assert.equal(reads, 0, 'creating a client reads nothing');
      const seen: Session[] = [];
      reloaded.session.subscribe((session) => seen.push(session));
      assert.equal(reloaded.session.get().status, 'signed_in');
      assert.equal(reloaded.session.get().fan?.id, fan.id);
      sent = [];
      assert.equal((await reloaded.me()).fan.id, fan.id);
      assert.equal(count('POST /v1/tokens/refresh'), 1, 'one refresh turns the kept token into an access token');
      assert.notEqual(JSON.parse(storage.items.get(key)!).refreshToken, kept.refreshToken, 'the rotated token is kept');
      assert.doesNotMatch(storage.items.get(key)!, /dat_/);
    });

    it('the default storage keeps nothing, even where localStorage exists', async () => {
      const storage = new FakeStorage();
      globals.localStorage = storage;
      await signIn(client());
      assert.equal(storage.items.size, 0);
    });

    it("with storage 'local', a sign-in, refresh and sign-out in one tab reach the other tabs", async () => {
      const window = installWindow();
      const storage = new FakeStorage(window);
      globals.localStorage = storage;
      const tabA = client({ storage: 'local' });
      const tabB = client({ storage: 'local' });
      tabB.session.subscribe(() => undefined); // a mounted store follows the other tabs
      assert.equal(tabB.session.get().status, 'signed_out');

      await signIn(tabA);
      assert.equal(tabB.session.get().status, 'signed_in');
      assert.equal(tabB.session.get().fan?.id, fan.id);
      assert.equal((await tabB.me()).fan.id, fan.id, 'tab B refreshes with the token tab A kept');

      // Tab A refreshes after tab B did: it must use B's rotated token, not reuse its own.
      sent = [];
      await h.t.db.run("UPDATE tokens SET expires_at = 1 WHERE kind = 'access' AND user_id = ?", [fan.id]);
      assert.equal((await tabA.me()).fan.id, fan.id);
      assert.equal(tabA.session.get().status, 'signed_in', 'no reuse, so the sign-in lives on');

      await tabA.signOut();
      assert.deepEqual(tabB.session.get(), { status: 'signed_out' });
      await assert.rejects(tabB.me(), SignInRequiredError);
    });
  });
}

describe('importing and creating in plain Node', () => {
  it('touches no browser global: a child node process with no DOM imports, creates and reads the stores', async () => {
    const script = `
      const sdk = await import('@diamonds/sdk');
      for (const name of ['window', 'document', 'localStorage', 'sessionStorage']) {
        Object.defineProperty(globalThis, name, { get() { throw new Error('touched ' + name); }, configurable: true });
      }
      const client = sdk.createDiamonds({ publishableKey: 'pk_test_node', storage: 'local' });
      const seen = [];
      client.session.subscribe((session) => seen.push(session.status));
      console.log(JSON.stringify({ seen, allowance: client.allowance.get(), wallet: client.wallet.get() }));
    `;
    const cwd = fileURLToPath(new URL('../../..', import.meta.url));
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', '--input-type=module', '--eval', script],
      { cwd },
    );
    assert.deepEqual(JSON.parse(stdout), { seen: ['signed_out'], allowance: null, wallet: { status: 'idle' } });
  });
});
