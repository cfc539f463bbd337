import { AppError } from '../../src/core/errors';
import { blockedReason, embeddedIPv4 } from '../../src/core/webhooks/ip-ranges';
import { loadConfig } from '../../src/core/config';
import {
  allowlistProblems,
  assertWebhookUrlAllowed,
  resolveWebhookTarget,
  WebhookAllowlist,
} from '../../src/core/webhooks/url-policy';
import type { HostResolver } from '../../src/core/webhooks/url-policy';

/** A fake DNS: the names these tests use and what they resolve to. */
const DNS: Record<string, { address: string; family: number }[]> = {
  'hooks.example.com': [{ address: '93.184.215.14', family: 4 }],
  'v6.example.com': [{ address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 }],
  'loopback.attacker.test': [{ address: '127.0.0.1', family: 4 }],
  'private.attacker.test': [{ address: '10.0.0.7', family: 4 }],
  'mixed.attacker.test': [
    { address: '93.184.215.14', family: 4 },
    { address: '192.168.1.10', family: 4 },
  ],
  'ula.attacker.test': [{ address: 'fd12:3456::1', family: 6 }],
  'metadata.attacker.test': [{ address: '169.254.169.254', family: 4 }],
  'mapped.attacker.test': [{ address: '::ffff:10.1.2.3', family: 6 }],
};
const resolve: HostResolver = async (host) => {
  const a = DNS[host];
  if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return a;
};

async function refusal(url: string, allowlist: string[] = []): Promise<AppError | null> {
  try {
    await assertWebhookUrlAllowed(url, allowlist, { resolve });
    return null;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

/** Hostile URLs and an allow-list entry that lets each through. */
const HOSTILE: [url: string, allow: string][] = [
  ['http://127.0.0.1/hook', '127.0.0.1/32'],
  ['http://127.1/hook', '127.0.0.0/8'],
  ['http://0x7f000001/hook', '127.0.0.1'],
  ['http://2130706433/hook', '127.0.0.1/32'],
  ['http://0177.0.0.1/hook', '127.0.0.1/32'],
  ['http://0x7f.1/hook', '127.0.0.1/32'],
  ['http://[::1]/hook', '::1/128'],
  ['http://[::ffff:127.0.0.1]/hook', '127.0.0.1/32'],
  // IPv4-translated (SIIT, ::ffff:0:0/96), issue 16.
  ['http://[::ffff:0:7f00:1]/hook', '127.0.0.1/32'],
  ['http://[::ffff:0:a00:1]/hook', '10.0.0.0/8'],
  ['http://[0:0:0:0:0:ffff:7f00:1]/hook', '::ffff:7f00:1/128'],
  ['http://[::127.0.0.1]/hook', '127.0.0.1/32'],
  ['http://[64:ff9b::7f00:1]/hook', '127.0.0.1/32'],
  ['http://[2002:7f00:1::1]/hook', '2002::/16'],
  ['http://0.0.0.0/hook', '0.0.0.0/32'],
  ['http://0/hook', '0.0.0.0/8'],
  ['http://[::]/hook', '::/128'],
  ['http://169.254.169.254/latest/meta-data/', '169.254.169.254/32'],
  ['http://metadata.google.internal/computeMetadata/v1/', 'metadata.google.internal'],
  ['http://10.0.0.1/hook', '10.0.0.0/8'],
  ['http://172.16.0.1/hook', '172.16.0.0/12'],
  ['http://172.31.255.254/hook', '172.16.0.0/12'],
  ['http://192.168.1.1/hook', '192.168.0.0/16'],
  ['http://100.64.0.1/hook', '100.64.0.0/10'],
  ['http://[fc00::1]/hook', 'fc00::/7'],
  ['http://[fd00::1]/hook', 'fd00::/8'],
  ['http://[fe80::1]/hook', 'fe80::/10'],
  ['http://224.0.0.1/hook', '224.0.0.0/4'],
  ['http://[ff02::1]/hook', 'ff00::/8'],
  ['http://255.255.255.255/hook', '255.255.255.255/32'],
  ['http://240.0.0.1/hook', '240.0.0.0/4'],
  ['http://198.18.0.1/hook', '198.18.0.0/15'],
  ['http://localhost:3000/hook', 'localhost'],
  ['http://LOCALHOST./hook', 'localhost'],
  ['http://api.localhost/hook', '*.localhost'],
  ['http://loopback.attacker.test/hook', '127.0.0.1/32'],
  ['http://private.attacker.test/hook', 'private.attacker.test'],
  ['http://mixed.attacker.test/hook', '192.168.1.10/32'],
  ['https://ula.attacker.test/hook', 'fd12:3456::/32'],
  ['http://metadata.attacker.test/hook', '169.254.0.0/16'],
  ['http://mapped.attacker.test/hook', '10.0.0.0/8'],
];

describe('webhook URL SSRF policy', () => {
  it.each([
    'http://localhost../hook',
    'http://localhost.../hook',
    'http://a..localhost/hook',
    'http://metadata.google.internal../x',
  ])('refuses %s (trailing dots and empty labels do not dodge the name checks)', async (url) => {
    const err = await refusal(url);
    expect(err?.code).toBe('INVALID_WEBHOOK_URL');
  });

  it('has at least 15 hostile URLs in its table', () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(15);
  });

  it.each(HOSTILE)('refuses %s unless allow-listed (%s)', async (url, allow) => {
    const err = await refusal(url);
    expect(err).not.toBeNull();
    expect(err?.code).toBe('INVALID_WEBHOOK_URL');
    expect(err?.status).toBe(400);
    expect(err?.details?.[0]?.field).toBe('webhook_url');
    expect(await refusal(url, [allow])).toBeNull();
    // An allow-list entry for something else does not help.
    expect(await refusal(url, ['203.0.113.0/24', 'hooks.example.com'])).not.toBeNull();
  });

  it.each([
    'https://hooks.example.com/webhooks/docbatch?x=1',
    'http://hooks.example.com:8080/hook',
    'https://v6.example.com/hook',
    'http://93.184.215.14/hook',
    'http://[2606:4700:4700::1111]/hook',
    'http://[::ffff:8.8.8.8]/hook',
  ])('allows the public URL %s', async (url) => {
    expect(await refusal(url)).toBeNull();
  });

  it.each([
    ['ftp://hooks.example.com/hook', /http or https/],
    ['file:///etc/passwd', /http or https/],
    ['gopher://127.0.0.1:6379/_INFO', /http or https/],
    ['javascript:alert(1)', /http or https/],
    ['not a url', /valid absolute URL/],
    ['', /non-empty/],
    [`https://hooks.example.com/${'a'.repeat(2100)}`, /at most 2048/],
  ])('refuses the malformed URL %s', async (url, message) => {
    const err = await refusal(url);
    expect(err?.code).toBe('INVALID_WEBHOOK_URL');
    expect(err?.message).toMatch(message);
  });

  it('accepts a name that does not resolve at submit time, unless asked to require it', async () => {
    await expect(
      assertWebhookUrlAllowed('https://nowhere.example.net/h', [], { resolve }),
    ).resolves.toBeUndefined();
    await expect(
      assertWebhookUrlAllowed('https://nowhere.example.net/h', [], { resolve, requireResolvable: true }),
    ).rejects.toMatchObject({
      code: 'INVALID_WEBHOOK_URL',
      message: 'webhook_url host name does not resolve',
    });
    // The connect-time check always requires an address.
    await expect(
      resolveWebhookTarget('https://nowhere.example.net/h', [], { resolve }),
    ).rejects.toMatchObject({
      code: 'INVALID_WEBHOOK_URL',
    });
  });

  it('gives up on a resolver that hangs', async () => {
    const hang: HostResolver = () => new Promise(() => undefined);
    await expect(
      resolveWebhookTarget('https://slow.example.net/h', [], { resolve: hang, resolveTimeoutMs: 50 }),
    ).rejects.toMatchObject({ message: 'webhook_url host name does not resolve' });
  });

  it('pins the first resolved address of an allowed name', async () => {
    const t = await resolveWebhookTarget('https://hooks.example.com:8443/x', [], { resolve });
    expect(t).toMatchObject({ hostname: 'hooks.example.com', address: '93.184.215.14', family: 4 });
    expect(t.addresses).toEqual([{ address: '93.184.215.14', family: 4 }]);
    const v6 = await resolveWebhookTarget('http://[2606:4700:4700::1111]/', [], { resolve });
    expect(v6).toMatchObject({
      hostname: '2606:4700:4700::1111',
      address: '2606:4700:4700::1111',
      family: 6,
    });
  });

  it('parses allow-list entries: hosts, wildcard hosts, IPs, IPv4 and IPv6 CIDRs', () => {
    const a = new WebhookAllowlist([
      'Hooks.Internal.',
      '*.corp.example',
      '10.1.0.0/16',
      '::1',
      'fd00::/8',
      ' ',
    ]);
    expect(a.allowsHost('hooks.internal')).toBe(true);
    expect(a.allowsHost('a.b.corp.example')).toBe(true);
    expect(a.allowsHost('corp.example.evil')).toBe(false);
    expect(a.allowsAddress('10.1.200.3')).toBe(true);
    expect(a.allowsAddress('10.2.0.1')).toBe(false);
    expect(a.allowsAddress('::1')).toBe(true);
    expect(a.allowsAddress('fd99::2')).toBe(true);
    expect(a.allowsAddress('::ffff:10.1.0.9')).toBe(true);
    expect(() => new WebhookAllowlist(['10.0.0.0/33'])).toThrow('WEBHOOK_ALLOWLIST');
    expect(() => new WebhookAllowlist(['example.com/8'])).toThrow('WEBHOOK_ALLOWLIST');
  });

  it.each([
    '10.0.0.0/',
    '10.0.0.0/x',
    '::1/129',
    '*',
    '.',
    '*.',
    'http://hooks.internal',
    'a b',
    'hooks..internal',
  ])('rejects the allow-list entry %j (config parsing names WEBHOOK_ALLOWLIST)', (entry) => {
    expect(allowlistProblems([entry])).toHaveLength(1);
    expect(() => loadConfig('worker', { WEBHOOK_ALLOWLIST: `127.0.0.1/32,${entry}` })).toThrow(
      /WEBHOOK_ALLOWLIST=/,
    );
  });

  it('accepts valid allow-list entries in config', () => {
    const c = loadConfig('api', {
      WEBHOOK_ALLOWLIST: '127.0.0.1/32, ::1, fd00::/8, hooks.internal, *.corp.example',
    });
    expect(c.WEBHOOK_ALLOWLIST).toEqual([
      '127.0.0.1/32',
      '::1',
      'fd00::/8',
      'hooks.internal',
      '*.corp.example',
    ]);
    expect(allowlistProblems(c.WEBHOOK_ALLOWLIST)).toEqual([]);
  });
});

describe('IP ranges', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.255.255.255', 'private'],
    ['100.127.255.255', 'carrier-grade'],
    ['169.254.169.254', 'link-local'],
    ['::1', 'loopback'],
    ['fe80::abcd', 'link-local'],
    ['fdff::1', 'unique-local'],
    ['ff05::2', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['::ffff:192.168.0.1', 'private'],
  ])('%s is blocked (%s)', (ip, reason) => {
    expect(blockedReason(ip)).toContain(reason);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '100.128.0.1',
    '172.32.0.1',
    '192.169.0.1',
    '2606:4700::1111',
    '::ffff:8.8.4.4',
  ])('%s is public', (ip) => {
    expect(blockedReason(ip)).toBeNull();
  });

  it('extracts IPv4 addresses embedded in IPv6', () => {
    expect(embeddedIPv4('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(embeddedIPv4('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(embeddedIPv4('::a00:1')).toBe('10.0.0.1');
    expect(embeddedIPv4('64:ff9b::c0a8:101')).toBe('192.168.1.1');
    expect(embeddedIPv4('2002:a9fe:a9fe::1')).toBe('169.254.169.254');
    expect(embeddedIPv4('::1')).toBeNull();
    expect(embeddedIPv4('::')).toBeNull();
    expect(embeddedIPv4('2606:4700::1111')).toBeNull();
  });
});
