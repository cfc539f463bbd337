import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Database } from '../../src/core/db/database';
import { TASKS } from '../../src/core/models/types';
import { chunkQueueName } from '../../src/core/queue/catalog';
import { createRedis } from '../../src/core/redis';
import { createTenantWithKey } from '../../src/core/tenants';
import { DocBatchClient } from '@docbatch/sdk';
import { TcpProxy } from '../support/tcp-proxy';
import { createTestEnvironment } from '../support/test-db';
import type { TestEnvironment } from '../support/test-db';
import { waitFor } from '../support/wait-for';
import { auditBatch, batchState, installFinishAudit, WorkerChild } from '../integration/pipeline-fixtures';
import type { BatchState } from '../integration/pipeline-fixtures';
import { TestReceiver } from '../integration/webhooks-receiver';

/**
 * The reliability ("chaos") suite's set-up: one isolated database and queue prefix, TCP proxies in
 * front of the real Postgres and Redis (cutting a proxy is an outage for the processes behind it,
 * without touching the servers other tests share), the API and workers as real child processes
 * (so they can be killed with SIGKILL), a webhook receiver on 127.0.0.1, and the end-of-scenario
 * soundness check.
 *
 * Sizes: `DOCBATCH_CHAOS=ci` (set by jest.config.js for `--ci`) is the small form; `full` the
 * documented one. Individual sizes can be overridden with CHAOS_* variables (see `size()`).
 */

export const CHAOS_MODE = process.env.DOCBATCH_CHAOS === 'full' ? 'full' : 'ci';

/** A size for the current mode, overridable by the environment variable `name`. */
export function size(name: string, ci: number, full: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : CHAOS_MODE === 'full' ? full : ci;
}

const ROOT = path.resolve(__dirname, '../..');

/** Fast failure detection, as in the pipeline recovery tests. */
export const WORKER_ENV: Record<string, string> = {
  WORKER_TASKS: 'classification',
  WORKER_CONCURRENCY: '2',
  WORKER_LOCK_DURATION_MS: '2000',
  WORKER_STALLED_INTERVAL_MS: '500',
  RECONCILE_INTERVAL_MS: '1000',
  TF_BACKEND: 'wasm',
  CHUNK_SIZE: '256',
  WEBHOOK_ALLOWLIST: '127.0.0.1/32',
  WEBHOOK_RETRY_SCHEDULE: '0.2,0.5,1,2,2,2,2',
  WEBHOOK_RELAY_INTERVAL_MS: '100',
  DB_POOL_SIZE: '4',
  // A silent connection is given up after 5 s; Postgres ends a transaction left idle for 2 s.
  DB_QUERY_TIMEOUT_MS: '5000',
  DB_STATEMENT_TIMEOUT_MS: '4000',
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '2000',
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** `docbatch api` as a child process (TypeScript sources through scripts/run-ts.js). */
export class ApiChild {
  readonly child: ChildProcess;
  readonly url: string;
  private readonly exited: Promise<void>;
  output = '';

  constructor(
    readonly port: number,
    env: Record<string, string>,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.child = spawn(
      process.execPath,
      [path.join(ROOT, 'scripts/run-ts.js'), path.join(ROOT, 'src/main.ts'), 'api'],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          LOG_LEVEL: 'warn',
          PORT: String(port),
          HOST: '127.0.0.1',
          TF_BACKEND: 'cpu',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const keep = (b: Buffer): void => {
      this.output = (this.output + b.toString()).slice(-20_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  async ready(timeoutMs = 60_000): Promise<void> {
    await waitFor(
      async () => {
        if (this.child.exitCode !== null) throw new Error(`api exited: ${this.output}`);
        return (await fetch(`${this.url}/healthz`)).ok;
      },
      'the API child to listen',
      timeoutMs,
      100,
    );
  }

  async kill9(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  async stop(graceMs = 20_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface ChaosHarness {
  env: TestEnvironment;
  /** Direct connection (not through the proxy): the test's view of the truth. */
  db: Database;
  /** The API's path to Postgres. */
  pgProxy: TcpProxy;
  /** The workers' path to Postgres (a partition can separate them from Postgres alone). */
  workerPgProxy: TcpProxy;
  redisProxy: TcpProxy;
  /** Environment of a process behind the proxies (workers get `workerPgProxy` as DATABASE_URL). */
  procEnv: Record<string, string>;
  apiKey: string;
  tenantId: string;
  webhookSecret: string;
  receiver: TestReceiver;
  api?: ApiChild;
  workers: WorkerChild[];
  startApi(extra?: Record<string, string>): Promise<ApiChild>;
  /** Starts a worker child; call `ready()` on it at once to learn when it has started. */
  spawnWorker(extra?: Record<string, string>): WorkerChild;
  startWorker(extra?: Record<string, string>): Promise<WorkerChild>;
  client(opts?: { retries?: number }): DocBatchClient;
  /** Chunk jobs of a batch still waiting, delayed, prioritized or active (orphans once it finished). */
  pendingJobs(batchId: string): Promise<number>;
  /** The end-of-scenario check; returns the final state. */
  assertSound(batchId: string, webhookPath?: string): Promise<SoundReport>;
  close(): Promise<void>;
}

export interface SoundReport {
  state: BatchState;
  webhooks: number;
}

/** A URL through a proxy port, keeping the rest of the URL. */
function withPort(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

export async function createChaosHarness(): Promise<ChaosHarness> {
  const env = await createTestEnvironment();
  const db = new Database(env.databaseUrl, 4);
  await installFinishAudit(db);
  const pg = new URL(env.databaseUrl);
  const rd = new URL(env.redisUrl);
  const pgProxy = new TcpProxy(pg.hostname, Number(pg.port || 5432));
  const workerPgProxy = new TcpProxy(pg.hostname, Number(pg.port || 5432));
  const redisProxy = new TcpProxy(rd.hostname, Number(rd.port || 6379));
  await pgProxy.start();
  await workerPgProxy.start();
  await redisProxy.start();
  const { tenant, api_key, webhook_secret } = await createTenantWithKey(db, 'chaos');
  const receiver = new TestReceiver();
  await receiver.start();
  const redis = createRedis(env.redisUrl, 'client');
  const queues = TASKS.map(
    (t) => new Queue(chunkQueueName(t), { connection: redis, prefix: env.queuePrefix }),
  );
  const procEnv = {
    DATABASE_URL: withPort(env.databaseUrl, pgProxy.port),
    REDIS_URL: withPort(env.redisUrl, redisProxy.port),
    QUEUE_PREFIX: env.queuePrefix,
  };
  const workerDatabaseUrl = withPort(env.databaseUrl, workerPgProxy.port);

  const h: ChaosHarness = {
    env,
    db,
    pgProxy,
    workerPgProxy,
    redisProxy,
    procEnv,
    apiKey: api_key,
    tenantId: tenant.id,
    webhookSecret: webhook_secret,
    receiver,
    workers: [],
    async startApi(extra = {}) {
      const api = new ApiChild(await freePort(), {
        ...procEnv,
        WEBHOOK_ALLOWLIST: '127.0.0.1/32',
        RATE_LIMIT_PER_MINUTE: '100000',
        MAX_ACTIVE_BATCHES: '1000',
        DB_POOL_SIZE: '8',
        ...extra,
      });
      h.api = api;
      await api.ready();
      return api;
    },
    spawnWorker(extra = {}) {
      const w = new WorkerChild({ ...procEnv, ...WORKER_ENV, DATABASE_URL: workerDatabaseUrl, ...extra });
      h.workers.push(w);
      return w;
    },
    async startWorker(extra = {}) {
      const w = h.spawnWorker(extra);
      await w.ready(90_000);
      return w;
    },
    client(opts = {}) {
      if (!h.api) throw new Error('start the API first');
      return new DocBatchClient({
        baseUrl: h.api.url,
        apiKey: api_key,
        retries: opts.retries ?? 8,
        minRetryDelayMs: 200,
        maxRetryDelayMs: 2_000,
      });
    },
    async pendingJobs(batchId) {
      let n = 0;
      for (const q of queues) {
        const jobs = await q.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'waiting-children']);
        n += jobs.filter((j) => (j?.data as { batchId?: string } | undefined)?.batchId === batchId).length;
      }
      return n;
    },
    async assertSound(batchId, webhookPath) {
      const state = await batchState(db, batchId);
      expect(['completed', 'cancelled', 'expired', 'failed']).toContain(state.status);
      // Counts (maintained by the trigger) equal the rows.
      expect(state.counts).toEqual(state.rows);
      expect(state.rows.queued + state.rows.running).toBe(0);
      expect(Object.values(state.rows).reduce((a, b) => a + b, 0)).toBe(state.total);
      // Every document finished exactly once (audit trigger on documents.status).
      const audit = await auditBatch(db, batchId);
      expect({ twice: audit.twice, never: audit.never }).toEqual({ twice: 0, never: 0 });
      expect(audit.results).toBe(state.rows.completed);
      // No orphan chunk jobs: a job still active when the batch ended (its last write committed
      // the batch's end, then BullMQ completes it; or another job finished its documents and it
      // claims nothing) settles, and nothing is left waiting, delayed or active.
      await waitFor(
        async () => (await h.pendingJobs(batchId)) === 0,
        `the chunk jobs of ${batchId} to settle`,
        30_000,
        50,
      );
      let webhooks = 0;
      if (webhookPath) {
        // Delivered once: the delivery is recorded as delivered and the receiver saw one request.
        await waitFor(
          async () =>
            (
              await db.pool.query(
                `SELECT 1 FROM webhook_deliveries WHERE batch_id = $1 AND status::text = 'succeeded'`,
                [batchId],
              )
            ).rowCount === 1,
          `webhook of ${batchId} delivered`,
          60_000,
          100,
        );
        const deliveries = await db.pool.query(
          `SELECT count(*)::int AS n FROM webhook_deliveries WHERE batch_id = $1`,
          [batchId],
        );
        expect(deliveries.rows[0].n).toBe(1);
        const got = receiver.at(webhookPath).filter((r) => r.body.includes(batchId));
        expect(got).toHaveLength(1);
        const event = JSON.parse(got[0]!.body) as { type: string; data: { counts: Record<string, number> } };
        expect(event.type).toBe(`batch.${state.status}`);
        expect(event.data.counts).toMatchObject({ total: state.total, completed: state.rows.completed });
        webhooks = got.length;
      }
      return { state, webhooks };
    },
    async close() {
      await Promise.all(h.workers.map((w) => w.kill9()));
      await h.api?.kill9();
      await receiver.stop();
      await pgProxy.stop();
      await workerPgProxy.stop();
      await redisProxy.stop();
      for (const q of queues) await q.close();
      redis.disconnect();
      await db.close();
      await env.cleanup();
    },
  };
  return h;
}

/** Waits until the batch (read directly from Postgres) is in an end state. */
export async function waitForEnd(h: ChaosHarness, batchId: string, timeoutMs: number): Promise<BatchState> {
  return waitFor(
    async () => {
      const s = await batchState(h.db, batchId);
      return ['completed', 'failed', 'cancelled', 'expired'].includes(s.status) ? s : null;
    },
    `batch ${batchId} to end`,
    timeoutMs,
    100,
  ) as Promise<BatchState>;
}

/** Finished documents of a batch so far. */
export async function finishedCount(h: ChaosHarness, batchId: string): Promise<number> {
  const r = await h.db.pool.query<{ n: number }>(
    `SELECT (completed_count + failed_count + cancelled_count + expired_count) AS n FROM batches WHERE id = $1`,
    [batchId],
  );
  return r.rows[0]?.n ?? 0;
}

/** One line of the scenario log printed at the end of the suite (copied into docs/reliability.md). */
export const report: string[] = [];
