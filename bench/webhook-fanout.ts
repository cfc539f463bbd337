/**
 * Webhook fan-out benchmark: how fast the platform delivers batch end events when many batches end
 * at once, against a raw HTTP POST loop to the same receiver (the baseline), in the same run.
 *
 *   node scripts/run-ts.js bench/webhook-fanout.ts [--webhooks 1000] [--webhook-concurrency 8]
 *
 * Set-up: the API (child process) accepts `--webhooks` one-document batches, each with a
 * `webhook_url` on a local receiver (allow-listed), and they are cancelled over HTTP, so each one
 * ends and gets its `batch.cancelled` delivery in the outbox. Then the platform's WebhookWorker
 * (outbox relay + BullMQ sender, `WEBHOOK_CONCURRENCY` attempts at once, default settings
 * otherwise) is started and timed until the receiver has every event, each exactly once with a
 * valid signature. The baseline POSTs the same number of signed bodies with the same concurrency.
 */
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/core/config';
import { createLogger } from '../src/core/logger';
import { createTenantWithKey } from '../src/core/tenants';
import { DocBatchClient, verifyWebhook } from '@docbatch/sdk';
import { WebhookWorker } from '../src/workers/webhook-worker';
import { figure, flag, isMain, runMain, scratch, spawnDocbatch } from './scratch';
import type { Figure } from './scratch';

class Receiver {
  readonly ids = new Map<string, number>();
  bad = 0;
  received = 0;
  private server?: http.Server;
  port = 0;
  waiter?: { n: number; resolve: () => void };

  constructor(private readonly secret: string | null) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const id = String(req.headers['webhook-id'] ?? '');
        if (this.secret) {
          try {
            verifyWebhook(this.secret, req.headers, body);
          } catch {
            this.bad++;
          }
        }
        this.ids.set(id, (this.ids.get(id) ?? 0) + 1);
        this.received++;
        res.writeHead(200).end('ok');
        if (this.waiter && this.received >= this.waiter.n) this.waiter.resolve();
      });
    });
    this.server.keepAliveTimeout = 5_000;
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  until(n: number): Promise<void> {
    if (this.received >= n) return Promise.resolve();
    return new Promise((resolve) => (this.waiter = { n, resolve }));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** Baseline: `n` signed POSTs, `concurrency` at a time, fresh connection each (as the sender pins each connect). */
async function rawPostLoop(port: number, n: number, concurrency: number): Promise<number> {
  const secret = randomBytes(24);
  const t0 = performance.now();
  let next = 0;
  const one = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({
        type: 'batch.completed',
        timestamp: new Date().toISOString(),
        data: { id: `b${i}` },
      });
      const id = `msg_${i}`;
      const ts = Math.floor(Date.now() / 1000);
      const sig = createHmac('sha256', secret).update(`${id}.${ts}.${body}`).digest('base64');
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/raw',
          agent: false,
          headers: {
            'content-type': 'application/json',
            'webhook-id': id,
            'webhook-timestamp': String(ts),
            'webhook-signature': `v1,${sig}`,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve());
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await one(next++);
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

export async function runWebhookFanout(n: number, concurrency: number): Promise<Figure[]> {
  const s = await scratch();
  let api: Awaited<ReturnType<typeof spawnDocbatch>> | undefined;
  let worker: WebhookWorker | undefined;
  const { api_key, webhook_secret } = await createTenantWithKey(s.db, 'bench');
  const receiver = new Receiver(webhook_secret);
  const rawReceiver = new Receiver(null);
  try {
    await receiver.start();
    await rawReceiver.start();
    const env = {
      DATABASE_URL: s.url,
      REDIS_URL: s.redisUrl,
      QUEUE_PREFIX: s.prefix,
      WEBHOOK_ALLOWLIST: '127.0.0.1/32',
      WEBHOOK_CONCURRENCY: String(concurrency),
    };
    api = await spawnDocbatch('api', env);
    const client = new DocBatchClient({ baseUrl: api.url, apiKey: api_key });
    // n batches that end (cancelled) with their deliveries waiting in the outbox.
    let made = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (made < n) {
          const i = made++;
          const b = await client.createBatch({
            task: 'classification',
            documents: [{ id: 'a', text: `webhook fan-out document ${i}` }],
            webhook_url: `http://127.0.0.1:${receiver.port}/hook`,
          });
          await client.cancelBatch(b.id);
        }
      }),
    );
    const setupSeconds = (performance.now() - t0) / 1000;
    const pending = await s.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM webhook_deliveries WHERE status::text = 'pending'`,
    );
    if (pending.rows[0]!.n !== n)
      throw new Error(`expected ${n} pending deliveries, found ${pending.rows[0]!.n}`);
    await api.stop();
    api = undefined;

    const baseline = await rawPostLoop(rawReceiver.port, n, concurrency);

    worker = new WebhookWorker({
      pool: s.db.pool,
      config: loadConfig('worker', env),
      logger: createLogger('warn'),
    });
    const t1 = performance.now();
    await worker.start();
    await receiver.until(n);
    const seconds = (performance.now() - t1) / 1000;
    await worker.stop();
    worker = undefined;
    const dupes = [...receiver.ids.values()].filter((c) => c > 1).length;
    if (receiver.ids.size !== n || dupes > 0 || receiver.bad > 0)
      throw new Error(
        `receiver: ${receiver.ids.size} distinct ids of ${n}, ${dupes} duplicated, ${receiver.bad} bad signatures`,
      );
    const base = { name: `raw HTTP POST loop (${concurrency} at a time)`, value: baseline };
    return [
      figure(
        'webhook-fanout',
        `raw HTTP POST loop, ${concurrency} at a time (baseline)`,
        baseline,
        'posts/s',
      ),
      figure(
        'webhook-fanout',
        'platform deliveries (outbox relay + sender)',
        n / seconds,
        'deliveries/s',
        base,
        `${n} batch.cancelled events, each delivered once with a valid signature; set-up (create + cancel over HTTP) ${setupSeconds.toFixed(1)} s`,
      ),
    ];
  } finally {
    await worker?.stop();
    await api?.stop();
    await receiver.stop();
    await rawReceiver.stop();
    await s.close();
  }
}

if (isMain(__filename)) {
  runMain(async () => {
    const out = await runWebhookFanout(flag('webhooks', 1_000), flag('webhook-concurrency', 8));
    for (const f of out)
      console.log(
        `${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? ` (ratio ${f.ratio})` : ''}${f.note ? ` - ${f.note}` : ''}`,
      );
  });
}
