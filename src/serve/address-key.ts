// What the per-address limits of `glassdome serve` count as one host: an IPv4 address (also one
// an IPv6 socket reports IPv4-mapped, ::ffff:a.b.c.d), or an IPv6 address's /64 prefix, the
// smallest block a host is given (one host with a /64 has 2^64 addresses, so keying on the
// exact address would let it count as that many hosts).

import net from 'node:net';

/** The prefix length an IPv6 host is keyed by. */
export const IPV6_HOST_PREFIX_BITS = 64;

/** The key of `address` (a socket's remoteAddress) for per-address limits: `a.b.c.d`, or `x:x:x:x::/64`. */
export function hostKey(address: string): string {
  if (net.isIPv4(address)) return address;
  const groups = ipv6Groups(address.split('%')[0]!);
  if (!groups) return address;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return `${groups.slice(0, IPV6_HOST_PREFIX_BITS / 16).map((g) => g.toString(16)).join(':')}::/${IPV6_HOST_PREFIX_BITS}`;
}

/** The eight 16-bit groups of an IPv6 address (`::` and a dotted IPv4 tail expanded), or null when it is not one. */
function ipv6Groups(text: string): number[] | null {
  if (!net.isIPv6(text)) return null;
  const hex = text.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a: string, b: string, c: string, d: string) =>
    `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`);
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const [left, right] = hex.split('::') as [string, string | undefined];
  const l = parse(left);
  if (right === undefined) return l;
  const r = parse(right);
  return [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
}
