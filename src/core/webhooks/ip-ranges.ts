import { BlockList, isIP } from 'node:net';

/**
 * IP address classification for the webhook SSRF rules: every address range a webhook must not
 * reach (loopback, RFC 1918 private, link-local, CGNAT, unique-local IPv6, multicast, broadcast,
 * documentation/benchmark and otherwise reserved ranges), and IPv6 forms that embed an IPv4
 * address (IPv4-mapped, IPv4-compatible, NAT64, 6to4), which are judged by the embedded address.
 */

/** Blocked IPv4 ranges (IANA special-purpose registry plus multicast/reserved/broadcast). */
const BLOCKED_V4: ReadonlyArray<readonly [string, number, string]> = [
  ['0.0.0.0', 8, 'unspecified/"this network"'],
  ['10.0.0.0', 8, 'private (RFC 1918)'],
  ['100.64.0.0', 10, 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local / cloud metadata'],
  ['172.16.0.0', 12, 'private (RFC 1918)'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay anycast'],
  ['192.168.0.0', 16, 'private (RFC 1918)'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved / broadcast'],
];

/** Blocked IPv6 ranges. IPv4-embedding prefixes are handled separately (see `embeddedIPv4`). */
const BLOCKED_V6: ReadonlyArray<readonly [string, number, string]> = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['100::', 64, 'discard-only'],
  ['2001::', 23, 'IETF protocol assignments (incl. Teredo)'],
  ['2001:db8::', 32, 'documentation'],
  ['3fff::', 20, 'documentation'],
  ['5f00::', 16, 'segment routing'],
  ['fc00::', 7, 'unique-local'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local (deprecated)'],
  ['ff00::', 8, 'multicast'],
];

const blockedV4 = new Map<string, BlockList>();
const blockedV6 = new Map<string, BlockList>();
for (const [net, prefix, reason] of BLOCKED_V4) {
  const list = blockedV4.get(reason) ?? new BlockList();
  list.addSubnet(net, prefix, 'ipv4');
  blockedV4.set(reason, list);
}
for (const [net, prefix, reason] of BLOCKED_V6) {
  const list = blockedV6.get(reason) ?? new BlockList();
  list.addSubnet(net, prefix, 'ipv6');
  blockedV6.set(reason, list);
}

/** Expands an IPv6 address (no brackets, no zone) to 8 16-bit groups, or null when invalid. */
export function ipv6Groups(address: string): number[] | null {
  if (isIP(address) !== 6) return null;
  let addr = address;
  // Trailing dotted IPv4 (e.g. ::ffff:1.2.3.4) -> two hex groups.
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (m) {
    const o = (m[2] as string).split('.').map(Number);
    addr = `${m[1]}${(((o[0] ?? 0) << 8) | (o[1] ?? 0)).toString(16)}:${(((o[2] ?? 0) << 8) | (o[3] ?? 0)).toString(16)}`;
  }
  const [head, tail] = addr.includes('::') ? (addr.split('::') as [string, string]) : [addr, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const groups = [...h, ...Array<string>(fill).fill('0'), ...t].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff)
    ? groups
    : null;
}

/**
 * The IPv4 address embedded in an IPv6 address, when the IPv6 form is a wrapper that routes to
 * it: IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`
 * (and the local-use `64:ff9b:1::/48`), 6to4 `2002:AABB:CCDD::`. Null otherwise.
 */
export function embeddedIPv4(address: string): string | null {
  const g = ipv6Groups(address);
  if (!g) return null;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zero(0, 5) && g[5] === 0xffff) return v4(g[6] as number, g[7] as number);
  // IPv4-translated (SIIT, RFC 2765: ::ffff:0:a.b.c.d, i.e. ::ffff:0:0/96).
  if (zero(0, 4) && g[4] === 0xffff && g[5] === 0) return v4(g[6] as number, g[7] as number);
  // IPv4-compatible (deprecated); `::` and `::1` are not wrappers.
  if (zero(0, 6) && ((g[6] as number) !== 0 || (g[7] as number) > 1))
    return v4(g[6] as number, g[7] as number);
  if (g[0] === 0x64 && g[1] === 0xff9b && (zero(2, 6) || g[2] === 1))
    return v4(g[6] as number, g[7] as number);
  if (g[0] === 0x2002) return v4(g[1] as number, g[2] as number);
  return null;
}

/**
 * Why `address` (a literal IPv4 or IPv6 address, without brackets) must not be reached by a
 * webhook, or null when it is a public unicast address. IPv6 wrappers of IPv4 addresses are
 * judged by the embedded IPv4 address.
 */
export function blockedReason(address: string): string | null {
  const family = isIP(address);
  if (family === 4) {
    for (const [reason, list] of blockedV4) if (list.check(address, 'ipv4')) return reason;
    return null;
  }
  if (family === 6) {
    const v4 = embeddedIPv4(address);
    if (v4) {
      const inner = blockedReason(v4);
      return inner ? `${inner} (IPv4 embedded in IPv6)` : null;
    }
    for (const [reason, list] of blockedV6) if (list.check(address, 'ipv6')) return reason;
    return null;
  }
  return 'not an IP address';
}
