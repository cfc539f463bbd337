import { lookup } from 'node:dns/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import os from 'node:os';
import { loadConfig } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import { writeOutcomes } from '../../src/core/pipeline/chunk-store';
import { listDeliveries } from '../../src/core/webhooks/delivery-store';
import type { DeliveryWithAttempts } from '../../src/core/webhooks/delivery-store';
import { blockedReason } from '../../src/core/webhooks/ip-ranges';
import type { HostResolver } from '../../src/core/webhooks/url-policy';
import { WebhookWorker } from '../../src/workers/webhook-worker';
import { startApi } from './api-harness';
import type { ApiHarness } from './api-harness';
import { TestReceiver } from './webhooks-receiver';
import { waitFor } from '../support/wait-for';

/**
 * SSRF protection as a client meets it: POST /v1/batches refuses hostile webhook URLs with 400
 * INVALID_WEBHOOK_URL and stores nothing; the sender checks again at connect time, connects to
 * the address it checked (pinned), and refuses a name that now resolves to a private address.
 */

let h: ApiHarness;
let receiver: TestReceiver;
let worker: WebhookWorker;
const resolverCalls: string[] = [];

/** Names the worker's resolver answers (everything else goes to the system resolver). */
const FAKE_DNS: Record<string, string[]> = {
  'hooks.pinned.test': ['127.0.0.1'],
  'rebind.test': ['10.0.0.5'],
  'mixed.test': ['127.0.0.1', '192.168.7.7'],
  'hooks.tls.test': ['127.0.0.1'],
  'mismatch.tls.test': ['127.0.0.1'],
};

/** A self-signed certificate for hooks.tls.test (valid until 2126), trusted by the test worker. */
const TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBpDCCAUqgAwIBAgIUFFQ1H1asqnrVmi6o2S6qsyiyhvkwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOaG9va3MudGxzLnRlc3QwIBcNMjYxMTIzMTEyMDQ1WhgPMjEy
NjEwMzAxMTIwNDVaMBkxFzAVBgNVBAMMDmhvb2tzLnRscy50ZXN0MFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEsGeEd09Q/SwMyG/9pbFqrhrNK3egu41x++iclElX
SxHbncK9c8ijnUcF00+ifxkqW1ErdIriSCunWgxuXXxKKKNuMGwwHQYDVR0OBBYE
FJMHi9Ceb/vdejIuP1vZoIW3ezcTMB8GA1UdIwQYMBaAFJMHi9Ceb/vdejIuP1vZ
oIW3ezcTMA8GA1UdEwEB/wQFMAMBAf8wGQYDVR0RBBIwEIIOaG9va3MudGxzLnRl
c3QwCgYIKoZIzj0EAwIDSAAwRQIhAKMbuiMZb1G/0ZVv7uSXA8EEexveci7T7DN/
Ecz36nuhAiBvjxmeDWmZID4yfFP3EHEBdr5czAjC14ke+h0iVi8xsA==
-----END CERTIFICATE-----`;
const TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgt0VyVi5BaU6ADT5t
DN28JzKbqvO8xvckLtUd9AH6MCahRANCAASwZ4R3T1D9LAzIb/2lsWquGs0rd6C7
jXH76JyUSVdLEdudwr1zyKOdRwXTT6J/GSpbUSt0iuJIK6daDG5dfEoo
-----END PRIVATE KEY-----`;

const resolve: HostResolver = async (host) => {
  resolverCalls.push(host);
  const fake = FAKE_DNS[host];
  if (fake) return fake.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  return lookup(host, { all: true, verbatim: true });
};

beforeAll(async () => {
  receiver = new TestReceiver();
  await receiver.start();
  // The API allow-lists nothing: every hostile URL must be refused at submit.
  h = await startApi({ WEBHOOK_ALLOWLIST: '', RATE_LIMIT_PER_MINUTE: '10000' });
  worker = new WebhookWorker({
    pool: h.db.pool,
    config: loadConfig('worker', {
      ...h.env.env,
      WEBHOOK_ALLOWLIST: '127.0.0.1/32',
      WEBHOOK_RETRY_SCHEDULE: '0.2',
      WEBHOOK_TIMEOUT_MS: '3000',
      WEBHOOK_RELAY_INTERVAL_MS: '50',
    }),
    logger: createLogger('silent'),
    sender: { resolve, tls: { ca: TLS_CERT } },
  });
  await worker.start();
});

afterAll(async () => {
  await worker?.stop();
  await receiver?.stop();
  await h?.stop();
});

function submit(webhookUrl: string): Promise<Response> {
  return h.request('/v1/batches', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ task: 'classification', documents: [{ text: 'hello' }], webhook_url: webhookUrl }),
  });
}

const HOSTILE = [
  'http://127.0.0.1:9/hook',
  'http://127.1/hook',
  'http://0x7f000001/hook',
  'http://2130706433/hook',
  'http://0177.0.0.1/hook',
  'http://[::1]/hook',
  'http://[::ffff:127.0.0.1]/hook',
  'http://[::ffff:a9fe:a9fe]/latest/meta-data/',
  'http://0.0.0.0/hook',
  'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
  'http://metadata.google.internal/computeMetadata/v1/',
  'http://10.0.0.1/hook',
  'http://172.16.5.4/hook',
  'http://192.168.0.10/hook',
  'http://100.64.0.1/hook',
  'http://[fd00::1]/hook',
  'http://[fe80::1]/hook',
  'http://224.0.0.251/hook',
  'http://localhost:3000/hook',
  'ftp://hooks.example.com/hook',
];

describe('webhook SSRF protection', () => {
  it.each(HOSTILE)('POST /v1/batches refuses webhook_url %s with 400 INVALID_WEBHOOK_URL', async (url) => {
    const res = await submit(url);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('INVALID_WEBHOOK_URL');
    expect(body.error.message).toMatch(/webhook_url/);
  });

  it('refuses a real DNS name that resolves to loopback (the machine host name)', async () => {
    const name = os.hostname();
    const addresses = await lookup(name, { all: true }).catch(() => []);
    // Precondition of this test: the host name resolves (here through /etc/hosts) to a non-public address.
    expect(addresses.length).toBeGreaterThan(0);
    expect(addresses.every((a) => blockedReason(a.address) !== null)).toBe(true);
    const res = await submit(`http://${name}:8080/hook`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /resolves to a disallowed/,
    );
  });

  it('stored nothing for the refused submissions', async () => {
    const n = await h.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM batches');
    expect(n.rows[0]?.n).toBe(0);
  });

  function deliver(path: string, host: string): Promise<DeliveryWithAttempts> {
    return deliverTo(`http://${host}:${receiver.port}${path}`);
  }

  async function deliverTo(url: string): Promise<DeliveryWithAttempts> {
    // The name does not resolve for the API (system DNS): accepted at submit, checked at connect.
    const res = await submit(url);
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    await writeOutcomes(h.db.pool, [
      { batchId: id, seq: 1, result: { label: 'ham', score: 1, scores: { ham: 1 } } },
    ]);
    return waitFor(async () => {
      const [d] = await listDeliveries(h.db.pool, id);
      return d && d.status !== 'pending' ? d : undefined;
    }, `delivery to ${url}`) as Promise<DeliveryWithAttempts>;
  }

  it('connects to the address it checked (pinned): one resolution per attempt, Host header kept', async () => {
    const before = resolverCalls.filter((c) => c === 'hooks.pinned.test').length;
    const d = await deliver('/pinned', 'hooks.pinned.test');
    expect(d.status).toBe('succeeded');
    // The system resolver cannot resolve this name: the connection used the pinned address.
    await expect(lookup('hooks.pinned.test')).rejects.toThrow();
    expect(resolverCalls.filter((c) => c === 'hooks.pinned.test').length - before).toBe(1);
    const [got] = receiver.at('/pinned');
    expect(got?.headers.host).toBe(`hooks.pinned.test:${receiver.port}`);
  });

  it('refuses at connect time a name that now resolves to a private address (DNS rebinding)', async () => {
    const d = await deliver('/rebind', 'rebind.test');
    expect(d.status).toBe('failed');
    expect(d.attempt_log).toHaveLength(1);
    expect(d.attempt_log[0]?.error).toMatch(
      /^refused: webhook_url host resolves to a disallowed address \(private/,
    );
    expect(receiver.at('/rebind')).toHaveLength(0);
  });

  it('speaks TLS to the pinned address with the host name for SNI and certificate checks', async () => {
    const seen: { servername: string | false | null; path: string }[] = [];
    const server = https.createServer({ cert: TLS_CERT, key: TLS_KEY }, (req, res) => {
      seen.push({ servername: (req.socket as TLSSocket).servername, path: req.url ?? '' });
      req.resume();
      res.writeHead(200).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    try {
      const ok = await deliverTo(`https://hooks.tls.test:${port}/tls`);
      expect(ok.status).toBe('succeeded');
      expect(seen).toEqual([{ servername: 'hooks.tls.test', path: '/tls' }]);

      // Same address, but the certificate does not name this host: refused by TLS, retried, failed.
      const bad = await deliverTo(`https://mismatch.tls.test:${port}/tls`);
      expect(bad.status).toBe('failed');
      expect(bad.attempt_log.map((a) => a.error)).toEqual([
        'TLS certificate does not match the host name (ERR_TLS_CERT_ALTNAME_INVALID)',
        'TLS certificate does not match the host name (ERR_TLS_CERT_ALTNAME_INVALID)',
      ]);
      expect(seen).toHaveLength(1);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('refuses a name when any of its addresses is private, even if another is allowed', async () => {
    const d = await deliver('/mixed', 'mixed.test');
    expect(d.status).toBe('failed');
    expect(d.attempt_log[0]?.error).toMatch(/^refused: .*private/);
    expect(receiver.at('/mixed')).toHaveLength(0);
  });
});
