import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rejectsWith } from '../testing/assertions.js';
import { newDpopKey } from '../testing/dpop.js';
import { DPOP_WINDOW_SECONDS, ReplayCache, accessTokenHash, jwkThumbprint, verifyDpopProof } from './dpop.js';

const URL_ = 'https://diamonds.example/v1/gifts';
const TOKEN = `dat_${'a'.repeat(43)}`;

/** `verifyDpopProof` as a promise, for `rejectsWith`. */
const verify = async (
  proof: string | undefined,
  target = { method: 'POST', url: URL_, accessToken: TOKEN as string | undefined },
  nowMs?: number,
) => verifyDpopProof(proof, target, nowMs);

describe('DPoP proofs (RFC 9449)', () => {
  it('accept a fresh ES256 proof for the method, URL (query ignored) and token, and name its key', async () => {
    const key = newDpopKey();
    const { jkt } = await verify(key.proof('POST', `${URL_}?ignored=1`, TOKEN), {
      method: 'post',
      url: `${URL_}?other=2`,
      accessToken: TOKEN,
    });
    assert.equal(jkt, key.jkt);
    // RFC 7638's own example thumbprint input order: crv, kty, x, y.
    assert.equal(jkwOrder(key.jwk), key.jkt);
    assert.equal(accessTokenHash(TOKEN), createHash('sha256').update(TOKEN).digest('base64url'));
    // No token: no ath needed (the exchange and the refresh).
    await verify(key.proof('POST', URL_), { method: 'POST', url: URL_, accessToken: undefined });
  });

  it('refuse each thing that is wrong, with invalid_dpop_proof', async () => {
    const key = newDpopKey();
    const other = newDpopKey();
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[string, string | undefined]> = [
      ['no proof', undefined],
      ['an empty proof', ''],
      ['not a JWS', 'abc'],
      ['four parts', `${key.proof('POST', URL_, TOKEN)}.x`],
      ['typ jwt', key.proof('POST', URL_, TOKEN, { typ: 'JWT' })],
      ['alg none', key.proof('POST', URL_, TOKEN, { alg: 'none' })],
      ['alg HS256', key.proof('POST', URL_, TOKEN, { alg: 'HS256' })],
      ['another key in the header', key.proof('POST', URL_, TOKEN, { jwk: other.jwk })],
      ['a private key in the header', key.proof('POST', URL_, TOKEN, { jwk: { ...key.jwk, d: 'secret' } as never })],
      ['another method', key.proof('GET', URL_, TOKEN)],
      ['another path', key.proof('POST', 'https://diamonds.example/v1/me', TOKEN)],
      ['another origin', key.proof('POST', 'https://evil.example/v1/gifts', TOKEN)],
      ['no htu', key.proof('POST', URL_, TOKEN, { htu: undefined })],
      ['too old', key.proof('POST', URL_, TOKEN, { iat: now - DPOP_WINDOW_SECONDS - 5 })],
      ['from the future', key.proof('POST', URL_, TOKEN, { iat: now + DPOP_WINDOW_SECONDS + 5 })],
      ['iat as a string', key.proof('POST', URL_, TOKEN, { iat: String(now) as never })],
      ['no ath', key.proof('POST', URL_, undefined)],
      ['another token’s ath', key.proof('POST', URL_, `dat_${'b'.repeat(43)}`)],
      ['no jti', key.proof('POST', URL_, TOKEN, { jti: undefined })],
      ['a short jti', key.proof('POST', URL_, TOKEN, { jti: 'x' })],
      ['a tampered signature', `${key.proof('POST', URL_, TOKEN).slice(0, -4)}AAAA`],
    ];
    for (const [what, proof] of cases) {
      await assert.rejects(verify(proof), (error: { code?: string; message?: string }) => {
        assert.equal(error.code, 'invalid_dpop_proof', what);
        return true;
      });
    }
  });

  it('check the signature and claims of every proof, even when its header was checked before', async () => {
    const key = newDpopKey();
    const other = newDpopKey();
    const first = key.proof('POST', URL_, TOKEN);
    await verify(first);
    const header = first.split('.')[0]!;
    // The same header (so the same checked key), signed by someone without the key.
    const forged = other.proof('POST', URL_, TOKEN, { jwk: key.jwk });
    assert.equal(forged.split('.')[0], header, 'the forgery carries the very header already checked');
    await rejectsWith(verify(forged), 'invalid_dpop_proof');
    // A genuine header and claims, with the signature of another proof by the same key.
    const [, payload] = key.proof('POST', URL_, TOKEN).split('.');
    await rejectsWith(verify(`${header}.${payload}.${first.split('.')[2]}`), 'invalid_dpop_proof');
    // Claims are checked whatever the header: a genuine proof for another URL.
    await rejectsWith(verify(key.proof('POST', 'https://diamonds.example/v1/me', TOKEN)), 'invalid_dpop_proof');
    assert.equal((await verify(key.proof('POST', URL_, TOKEN))).jkt, key.jkt);
  });

  it('accept a proof once: a replay, even within the window, is refused', async () => {
    const key = newDpopKey();
    const proof = key.proof('POST', URL_, TOKEN);
    await verify(proof);
    await rejectsWith(verify(proof), 'invalid_dpop_proof');
  });

  it('keep the replay cache bounded, dropping expired ids first', () => {
    const cache = new ReplayCache(3);
    assert.equal(cache.remember('a', 1_000, 0), true);
    assert.equal(cache.remember('a', 1_000, 10), false, 'a replay');
    assert.equal(cache.remember('b', 1_000, 10), true);
    assert.equal(cache.remember('c', 1_000, 10), true);
    assert.equal(cache.remember('d', 1_000, 10), true);
    assert.equal(cache.size, 3, 'the oldest went');
    assert.equal(cache.remember('e', 5_000, 2_000), true);
    assert.equal(cache.size, 1, 'expired ids are swept');
    assert.equal(cache.remember('a', 5_000, 2_000), true, 'an id may come back once it expired');
  });
});

/** The thumbprint computed by hand, members in the order RFC 7638 fixes. */
function jkwOrder(jwk: { kty: string; crv: string; x: string; y: string }): string {
  assert.equal(
    jwkThumbprint(jwk),
    createHash('sha256').update(`{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`).digest('base64url'),
  );
  return jwkThumbprint(jwk);
}
