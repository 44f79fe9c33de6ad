// PKCE (RFC 7636, S256): the SDK keeps a random verifier and sends only its hash, so the tokens
// of a sign-in go to whoever opened the request, not to whoever sees the request id.

/** base64url without padding, as PKCE wants it. */
export function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/** A fresh verifier (32 random bytes, 43 characters) and its S256 challenge. */
export async function newPkcePair(): Promise<{ verifier: string; challenge: string }> {
  if (globalThis.crypto?.subtle === undefined) {
    // Browsers hide crypto.subtle outside secure contexts; say what to do instead of a TypeError.
    throw new TypeError('signIn() needs a secure context: serve the page over https (or from localhost).');
  }
  const verifier = base64url(globalThis.crypto.getRandomValues(new Uint8Array(32)));
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return { verifier, challenge: base64url(new Uint8Array(digest)) };
}
