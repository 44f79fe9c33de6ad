// DPoP (RFC 9449): the fan's tokens are bound to a key pair made here with WebCrypto,
// `extractable: false`, so the private key never leaves this browser: not to the page's
// scripts, not to storage. Every call that uses a token carries a fresh proof signed with it;
// a token copied out of the page is useless elsewhere. No JOSE library: a compact JWS by hand
// (WebCrypto's ECDSA signature is already the raw r||s that ES256 wants).
import { base64url, randomId, sha256, utf8 } from './pkce.js';

/** Makes a proof for `method` `url` (and `accessToken`'s hash as `ath`, when given). @internal */
export type Prover = (method: string, url: string, accessToken?: string) => Promise<string>;

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

const encode = (value: unknown): string => base64url(JSON.stringify(value));

/** Runs one request on the `keys` store of the `diamonds` IndexedDB database. */
const idb = <T>(run: (store: IDBObjectStore) => IDBRequest): Promise<T> =>
  new Promise((resolve, reject) => {
    const open = indexedDB.open('diamonds');
    open.onupgradeneeded = () => open.result.createObjectStore('keys');
    open.onsuccess = () => {
      const request = run(open.result.transaction('keys', 'readwrite').objectStore('keys'));
      request.onsuccess = () => resolve(request.result as T);
      request.onerror = reject;
    };
    open.onerror = reject;
  });

/**
 * The key pair kept under `id` (the publishable key), made on first use. In IndexedDB where
 * there is one (browsers), so every tab of the site and every reload shares it, as they share
 * a refresh token kept in localStorage; only in memory elsewhere (Node, or storage refused).
 */
async function keyPair(id: string): Promise<CryptoKeyPair> {
  const made = (await crypto.subtle.generateKey(ALGORITHM, false, ['sign'])) as CryptoKeyPair;
  // `add`, not `put`: if one is kept already (another tab's, or an earlier load's), this fails
  // and that one is used; the new pair is used only where nothing can be kept.
  return idb((store) => store.add(made, id)).then(
    () => made,
    () =>
      idb<CryptoKeyPair | undefined>((store) => store.get(id)).then(
        (kept) => kept ?? made,
        () => made,
      ),
  );
}

/** The key pairs of this page (or Node process) by publishable key, with their JWS header. */
const keys = new Map<string, Promise<[CryptoKey, string]>>();

/** A {@link Prover} with the key pair kept under `id`, loaded (or made) on first use. @internal */
export const prover =
  (id: string): Prover =>
  async (method, url, accessToken) => {
    if (!keys.has(id)) {
      keys.set(
        id,
        // The public half is always exportable (as `kty`, `crv`, `x`, `y`, `ext`, `key_ops`).
        keyPair(id).then(async ({ privateKey, publicKey }) => [
          privateKey,
          encode({ typ: 'dpop+jwt', alg: 'ES256', jwk: await crypto.subtle.exportKey('jwk', publicKey) }),
        ]),
      );
    }
    const [privateKey, header] = await keys.get(id)!;
    const input = `${header}.${encode({
      htm: method.toUpperCase(),
      htu: url.replace(/[?#].*/, ''),
      iat: Math.floor(Date.now() / 1000),
      jti: randomId(),
      ath: accessToken && (await sha256(accessToken)),
    })}`;
    return `${input}.${base64url(await crypto.subtle.sign(ALGORITHM, privateKey, utf8(input)))}`;
  };
