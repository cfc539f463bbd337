import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { AppError } from '../errors';
import { blockedReason, embeddedIPv4 } from './ip-ranges';

/**
 * The webhook SSRF policy. A webhook URL must be `http:` or `https:` and must not reach loopback,
 * private, link-local, CGNAT, unique-local, multicast, reserved or cloud-metadata addresses,
 * unless the operator allow-lists the host or the address in `WEBHOOK_ALLOWLIST`. The check runs
 * at submit time (`assertWebhookUrlAllowed`) and again right before every connection
 * (`resolveWebhookTarget`, whose pinned address is the one connected to, so a DNS answer that
 * changes between the check and the connect cannot redirect the request).
 */

/** One DNS answer. */
export interface LookupAddress {
  address: string;
  family: number;
}

/** Resolves a host name to all its addresses (`dns.lookup` with `all: true` by default). */
export type HostResolver = (hostname: string) => Promise<LookupAddress[]>;

export interface UrlPolicyOptions {
  /** Resolver used for host names. Default: `dns.lookup(host, {all: true, verbatim: true})`. */
  resolve?: HostResolver;
  /** Maximum URL length, characters. Default 2048. */
  maxLength?: number;
  /**
   * Refuse a host name that does not resolve. Default false at submit time (DNS may be briefly
   * unavailable, and every connection is checked again); `resolveWebhookTarget` always requires it.
   */
  requireResolvable?: boolean;
  /** Give up resolving after this many ms. Default 5000. */
  resolveTimeoutMs?: number;
}

/** Host names refused whatever they resolve to (cloud metadata services and local names). */
const BLOCKED_HOSTNAMES = new Set([
  'localhost',
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'metadata.azure.internal',
  'instance-data',
  'instance-data.ec2.internal',
]);
const BLOCKED_SUFFIXES = ['.localhost', '.internal', '.local', '.localdomain', '.home.arpa'];

export const defaultResolver: HostResolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => {
      if (err) reject(err);
      else resolve(addresses);
    });
  });

/** One parsed `WEBHOOK_ALLOWLIST` entry. */
type AllowlistEntry =
  | { kind: 'net'; address: string; prefix: number; family: 'ipv4' | 'ipv6' }
  | { kind: 'host'; host: string }
  | { kind: 'suffix'; suffix: string };

const HOST_RE = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$/;

/** Parses one allow-list entry; returns a message saying what is wrong with a bad one. */
export function parseAllowlistEntry(raw: string): AllowlistEntry | string {
  const entry = raw.trim().toLowerCase().replace(/\.$/, '');
  const slash = entry.indexOf('/');
  const addr = unbracket(slash >= 0 ? entry.slice(0, slash) : entry);
  const family = isIP(addr);
  if (family) {
    const max = family === 4 ? 32 : 128;
    const bits = slash >= 0 ? entry.slice(slash + 1) : String(max);
    const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    if (!(prefix >= 0 && prefix <= max)) return `invalid CIDR prefix in ${JSON.stringify(raw)} (0-${max})`;
    return { kind: 'net', address: addr, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
  }
  if (slash >= 0) return `${JSON.stringify(raw)} is not an IP address or CIDR`;
  const wildcard = entry.startsWith('*.') ? entry.slice(2) : entry.startsWith('.') ? entry.slice(1) : null;
  const host = wildcard ?? entry;
  if (!HOST_RE.test(host)) return `${JSON.stringify(raw)} is not a host name, IP address or CIDR`;
  return wildcard !== null ? { kind: 'suffix', suffix: `.${host}` } : { kind: 'host', host };
}

/** Problems of a `WEBHOOK_ALLOWLIST` (empty when every entry is valid); config parsing uses it. */
export function allowlistProblems(entries: readonly string[]): string[] {
  return entries
    .filter((e) => e.trim() !== '')
    .map(parseAllowlistEntry)
    .filter((r): r is string => typeof r === 'string');
}

/**
 * The operator's allow-list (`WEBHOOK_ALLOWLIST`): host names (exact, case-insensitive; a leading
 * `*.` or `.` matches every subdomain), IP addresses and CIDRs (IPv4 and IPv6). Throws on an
 * invalid entry.
 */
export class WebhookAllowlist {
  private readonly hosts = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly nets = new BlockList();
  private netCount = 0;

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      if (raw.trim() === '') continue;
      const e = parseAllowlistEntry(raw);
      if (typeof e === 'string') throw new Error(`WEBHOOK_ALLOWLIST: ${e}`);
      if (e.kind === 'net') {
        this.nets.addSubnet(e.address, e.prefix, e.family);
        this.netCount++;
      } else if (e.kind === 'suffix') this.suffixes.push(e.suffix);
      else this.hosts.add(e.host);
    }
  }

  /** True when the host name (lower-case, no trailing dot) is allow-listed. */
  allowsHost(hostname: string): boolean {
    return this.hosts.has(hostname) || this.suffixes.some((s) => hostname.endsWith(s));
  }

  /** True when the address (or, for an IPv4-embedding IPv6 address, its IPv4 part) is allow-listed. */
  allowsAddress(address: string): boolean {
    if (this.netCount === 0) return false;
    const family = isIP(address);
    if (family === 4) return this.nets.check(address, 'ipv4');
    if (family === 6) {
      if (this.nets.check(address, 'ipv6')) return true;
      const v4 = embeddedIPv4(address);
      return v4 !== null && this.nets.check(v4, 'ipv4');
    }
    return false;
  }
}

const allowlistCache = new WeakMap<readonly string[], WebhookAllowlist>();
function toAllowlist(list: readonly string[] | WebhookAllowlist): WebhookAllowlist {
  if (list instanceof WebhookAllowlist) return list;
  let out = allowlistCache.get(list);
  if (!out) {
    out = new WebhookAllowlist(list);
    allowlistCache.set(list, out);
  }
  return out;
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** The host name of a webhook URL did not resolve (DNS error, timeout or no address). */
export class UnresolvableHostError extends AppError {
  constructor(readonly hostname: string) {
    super('INVALID_WEBHOOK_URL', 'webhook_url host name does not resolve', [
      { field: 'webhook_url', message: 'host name does not resolve' },
    ]);
  }
}

async function resolveWithTimeout(
  resolve: HostResolver,
  hostname: string,
  timeoutMs: number,
): Promise<LookupAddress[] | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      resolve(hostname),
      new Promise<null>((r) => {
        timer = setTimeout(() => r(null), timeoutMs);
      }),
    ]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

function refuse(message: string): AppError {
  return new AppError('INVALID_WEBHOOK_URL', message, [{ field: 'webhook_url', message }]);
}

/** A checked webhook target: the parsed URL and the address to connect to. */
export interface WebhookTarget {
  url: URL;
  /** Host name as in the URL (lower-case, without brackets or trailing dot). */
  hostname: string;
  /** The address the connection must use (pinned): the first checked address. */
  address: string;
  family: 4 | 6;
  /** Every checked address (the connection may fall back among these, and only these). */
  addresses: { address: string; family: 4 | 6 }[];
}

/** Parses and checks the syntax of a webhook URL; throws INVALID_WEBHOOK_URL. */
export function parseWebhookUrl(raw: string, maxLength = 2048): URL {
  if (typeof raw !== 'string' || raw.length === 0) throw refuse('webhook_url must be a non-empty string');
  if (raw.length > maxLength) throw refuse(`webhook_url must be at most ${maxLength} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('webhook_url is not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw refuse('webhook_url must use http or https');
  if (!url.hostname) throw refuse('webhook_url must have a host');
  return url;
}

/**
 * Checks `raw` against the SSRF policy and resolves it: every address the host resolves to must
 * be allowed (or the host / address allow-listed). Returns the target with the checked addresses
 * to pin the connection to. Throws AppError('INVALID_WEBHOOK_URL') with a message that says why.
 */
export async function resolveWebhookTarget(
  raw: string,
  allowlist: readonly string[] | WebhookAllowlist,
  opts: UrlPolicyOptions = {},
): Promise<WebhookTarget> {
  const url = parseWebhookUrl(raw, opts.maxLength);
  const allow = toAllowlist(allowlist);
  const hostname = unbracket(url.hostname.toLowerCase()).replace(/\.+$/, '');
  // `localhost..` and `a..b`: empty labels are not a host name (and would dodge the name checks).
  if (!isIP(hostname) && (hostname === '' || hostname.includes('..')))
    throw refuse('webhook_url host is not a valid host name');
  const hostAllowed = allow.allowsHost(hostname);

  const literal = isIP(hostname);
  if (literal) {
    if (!hostAllowed && !allow.allowsAddress(hostname)) {
      const reason = blockedReason(hostname);
      if (reason) throw refuse(`webhook_url points to a disallowed address (${reason})`);
    }
    const family = literal as 4 | 6;
    return { url, hostname, address: hostname, family, addresses: [{ address: hostname, family }] };
  }

  if (!hostAllowed && (BLOCKED_HOSTNAMES.has(hostname) || BLOCKED_SUFFIXES.some((s) => hostname.endsWith(s))))
    throw refuse('webhook_url host is a local or metadata host name');

  const addresses = await resolveWithTimeout(
    opts.resolve ?? defaultResolver,
    hostname,
    opts.resolveTimeoutMs ?? 5000,
  );
  if (!addresses || addresses.length === 0) throw new UnresolvableHostError(hostname);
  if (!hostAllowed) {
    for (const a of addresses) {
      if (allow.allowsAddress(a.address)) continue;
      const reason = blockedReason(a.address);
      if (reason) throw refuse(`webhook_url host resolves to a disallowed address (${reason})`);
    }
  }
  const checked = addresses.map((a) => ({ address: a.address, family: (a.family === 6 ? 6 : 4) as 4 | 6 }));
  const first = checked[0] as { address: string; family: 4 | 6 };
  return { url, hostname, address: first.address, family: first.family, addresses: checked };
}

/**
 * Submit-time check of a batch's `webhook_url`: http(s) only; literal IPs in every spelling and
 * every address a host name resolves to must be public unicast, unless allow-listed
 * (`allowlist` = config `WEBHOOK_ALLOWLIST`). A name that does not resolve is accepted unless
 * `opts.requireResolvable` (the sender checks again before every connection).
 * Throws AppError('INVALID_WEBHOOK_URL') (400) with a message that says why.
 */
export async function assertWebhookUrlAllowed(
  url: string,
  allowlist: readonly string[] | WebhookAllowlist,
  opts: UrlPolicyOptions = {},
): Promise<void> {
  try {
    await resolveWebhookTarget(url, allowlist, opts);
  } catch (err) {
    if (err instanceof UnresolvableHostError && !opts.requireResolvable) return;
    throw err;
  }
}
