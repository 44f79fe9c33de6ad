/**
 * The order n of the P-256 group: an ES256 signature (r, s) verifies exactly as (r, n − s)
 * does, so every signature has a twin, one with s ≤ n/2 ("low S") and one above it.
 */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P256_HALF_ORDER = P256_ORDER >> 1n;

function sOf(signature: Uint8Array): bigint {
  let s = 0n;
  for (let i = 32; i < 64; i++) s = (s << 8n) | BigInt(signature[i]!);
  return s;
}

/**
 * Whether a JOSE ES256 signature (r‖s, 64 bytes) is the canonical one of its pair: 0 < s ≤ n/2.
 *
 * @remarks Both twins verify, so a verifier that accepts both lets anyone mint a second,
 * different receipt string from a genuine one (same claims, same `jti`). A site that
 * deduplicated by the whole token would then count one purchase twice. Receipts are issued in
 * low-S form ({@link toLowS}) and verifiers refuse the other twin.
 * @example
 * ```ts
 * if (!isLowS(signature)) throw new Error('non-canonical signature');
 * ```
 */
export function isLowS(signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const s = sOf(signature);
  return s > 0n && s <= P256_HALF_ORDER;
}

/** The low-S twin of a JOSE ES256 signature (itself when already canonical; see {@link isLowS}). */
export function toLowS(signature: Uint8Array): Uint8Array {
  if (signature.length !== 64) throw new RangeError(`an ES256 signature is 64 bytes, got ${signature.length}`);
  const s = sOf(signature);
  if (s <= P256_HALF_ORDER) return signature;
  let low = P256_ORDER - s;
  const out = signature.slice();
  for (let i = 63; i >= 32; i--) {
    out[i] = Number(low & 0xffn);
    low >>= 8n;
  }
  return out;
}
