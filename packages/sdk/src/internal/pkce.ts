// PKCE (RFC 7636, S256): the SDK keeps a random verifier and sends only its hash, so the tokens
// of a sign-in go to whoever opened the request, not to whoever sees the request id.

/** base64url without padding, as PKCE and JWS want it; of a string's UTF-8 or of bytes (or a buffer). */
export function base64url(data: string | Uint8Array | ArrayBuffer): string {
  return btoa(String.fromCharCode(...(typeof data === 'string' ? utf8(data) : new Uint8Array(data))))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/**
 * `size` random bytes, base64url: a PKCE verifier, a proof's `jti`, an idempotency key (works
 * outside secure contexts, unlike `randomUUID`).
 */
export const randomId = (size = 16): string => base64url(crypto.getRandomValues(new Uint8Array(size)));

/** The UTF-8 bytes of `text`. */
export const utf8 = (text: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(text);

/** base64url(SHA-256(text)): a PKCE challenge, or a DPoP proof's `ath`. */
export const sha256 = async (text: string): Promise<string> => base64url(await crypto.subtle.digest('SHA-256', utf8(text)));

/** A fresh verifier (32 random bytes, 43 characters) and its S256 challenge. */
export async function newPkcePair(): Promise<{ verifier: string; challenge: string }> {
  if (globalThis.crypto?.subtle === undefined) {
    // Browsers hide crypto.subtle outside secure contexts; say what to do instead of a TypeError.
    throw new TypeError('signIn() needs https (or localhost).');
  }
  const verifier = randomId(32);
  return { verifier, challenge: await sha256(verifier) };
}
