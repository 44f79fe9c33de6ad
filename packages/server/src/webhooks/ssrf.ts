import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/*
 * Where a webhook may not go in production: the platform's own network. A site names the URL,
 * so without this it could make the platform call its loopback services, the private network
 * behind it or the cloud's metadata service (169.254.169.254) and read the answer back in the
 * delivery log. The check is made on the address the connection goes to, at delivery time (a
 * hostname may resolve elsewhere tomorrow, or differently at each lookup: DNS rebinding), and
 * the connection is then made to that very address (see `deliver.ts`).
 */

const BLOCKED = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  BLOCKED.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::', 96], // IPv4-compatible (deprecated)
  ['64:ff9b::', 96], // NAT64 to IPv4
  ['64:ff9b:1::', 48], // local NAT64
  ['100::', 64], // discard
  ['2001::', 32], // Teredo
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4 (embeds an IPv4 address)
  ['fc00::', 7], // unique local (fd00:ec2::254 is a metadata address)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  BLOCKED.addSubnet(network, prefix, 'ipv6');
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, `::ffff:7f00:1`), if it is one. */
function mappedIpv4(address: string): string | undefined {
  const match = /^(?:0{0,4}:){0,5}:?ffff:(.+)$/i.exec(address) ?? /^::ffff:(.+)$/i.exec(address);
  if (!match?.[1]) return undefined;
  const rest = match[1];
  if (isIP(rest) === 4) return rest;
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(rest);
  if (!hex?.[1] || !hex[2]) return undefined;
  const high = parseInt(hex[1], 16);
  const low = parseInt(hex[2], 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/**
 * Whether a webhook may connect to `address` (an IP literal, without brackets) in production:
 * false for loopback, private, link-local, CGNAT, multicast, unspecified, reserved and metadata
 * addresses, IPv4 and IPv6 (IPv4-mapped IPv6 addresses are judged as their IPv4 address), and
 * for anything that is not an IP address.
 */
export function isPublicAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return !BLOCKED.check(bare, 'ipv4');
  if (family !== 6) return false;
  const v4 = mappedIpv4(bare);
  if (v4 !== undefined) return !BLOCKED.check(v4, 'ipv4');
  return !BLOCKED.check(bare, 'ipv6');
}

/** Names that always mean this machine, whatever DNS says. */
const LOCAL_NAMES = /^(localhost|localhost\.localdomain|ip6-localhost|ip6-loopback)\.?$|\.localhost\.?$/i;

/**
 * Whether `hostname` (from a URL) is plainly local: `localhost`, `*.localhost`, or an IP literal
 * that {@link isPublicAddress} refuses. What endpoint creation refuses early in production; the
 * delivery-time check on the resolved address is the one that counts.
 */
export function isObviouslyLocal(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, '');
  if (LOCAL_NAMES.test(bare)) return true;
  return isIP(bare) !== 0 && !isPublicAddress(bare);
}

/** One resolved address. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a hostname to every address (what `dns.lookup` with `all: true` does); injectable for tests. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** The system resolver (`dns.lookup`, as `http.request` itself would use). */
export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => {
      if (error) reject(error);
      else resolve(addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })));
    });
  });

/** Why a delivery was refused before any connection: the address it would have gone to. */
export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError';
}

/**
 * The address to connect to for `hostname`: an IP literal as it is, a name resolved. With
 * `production`, every address the name resolves to must be public (one private answer among
 * public ones is how rebinding is tried), else {@link BlockedAddressError}.
 *
 * @throws {@link BlockedAddressError}, or the resolver's error (`ENOTFOUND`…)
 */
export async function resolveTarget(hostname: string, production: boolean, resolver: Resolver = systemResolver): Promise<ResolvedAddress> {
  const bare = hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(bare);
  if (production && LOCAL_NAMES.test(bare)) throw new BlockedAddressError(`${bare} is this machine; webhooks may not call it.`);
  const addresses: ResolvedAddress[] = literal !== 0 ? [{ address: bare, family: literal === 6 ? 6 : 4 }] : await resolver(bare);
  const first = addresses[0];
  if (!first) throw new BlockedAddressError(`${bare} resolves to no address.`);
  if (production) {
    const blocked = addresses.find((a) => !isPublicAddress(a.address));
    if (blocked) {
      throw new BlockedAddressError(
        `${bare} resolves to ${blocked.address}, a loopback, private, link-local or reserved address; webhooks may not call it.`,
      );
    }
  }
  return first;
}
