import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { arraySource, createBatch } from '../../src/core/batches';
import type { BatchDeps, BatchObject } from '../../src/core/batches';
import { loadConfig } from '../../src/core/config';
import type { WorkerConfig } from '../../src/core/config';
import { Database } from '../../src/core/db/database';
import { createLogger } from '../../src/core/logger';
import { ModelRegistry } from '../../src/core/models/registry';
import { QueueSet } from '../../src/core/queue/queues';
import { createRedis } from '../../src/core/redis';
import { createTenantWithKey } from '../../src/core/tenants';
import { createTestEnvironment } from '../support/test-db';
import type { TestEnvironment } from '../support/test-db';
import { waitFor } from '../support/wait-for';

/**
 * Shared set-up of the pipeline integration tests: a per-file database and queue prefix, the API
 * engineer's `createBatch` (the same COPY path as the HTTP API) to submit batches, and helpers to
 * run workers in-process or as child processes.
 */

export interface PipelineHarness {
  env: TestEnvironment;
  db: Database;
  queues: QueueSet;
  deps: BatchDeps;
  tenantId: string;
  submit(fields: Record<string, unknown>, documents: unknown[]): Promise<BatchObject>;
  workerConfig(overrides?: Record<string, string>): WorkerConfig;
  close(): Promise<void>;
}

export async function createHarness(opts: { modelsDir?: string } = {}): Promise<PipelineHarness> {
  const env = await createTestEnvironment();
  const db = new Database(env.databaseUrl, 6);
  const queues = new QueueSet(createRedis(env.redisUrl, 'client'), env.queuePrefix);
  const registry = new ModelRegistry(opts.modelsDir ? { modelsDir: opts.modelsDir } : {});
  const logger = createLogger('silent');
  const deps: BatchDeps = {
    db,
    queues,
    models: registry,
    logger,
    settings: {
      maxDocsPerBatch: 1_000_000,
      maxDocChars: 100_000,
      chunkSize: 256,
      chunkAttempts: 3,
      idempotencyTtlHours: 24,
      webhookAllowlist: [],
    },
  };
  const { tenant } = await createTenantWithKey(db, `pipeline-${env.queuePrefix}`);
  return {
    env,
    db,
    queues,
    deps,
    tenantId: tenant.id,
    async submit(fields, documents) {
      const res = await createBatch(deps, {
        tenantId: tenant.id,
        fields,
        documents: arraySource(documents, `digest-${Math.random()}`),
      });
      return res.batch;
    },
    workerConfig(overrides = {}) {
      return loadConfig('worker', {
        ...env.env,
        TF_BACKEND: 'wasm',
        CHUNK_SIZE: '256',
        CHUNK_ATTEMPTS: '3',
        DB_POOL_SIZE: '6',
        ...(opts.modelsDir ? { MODELS_DIR: opts.modelsDir } : {}),
        ...overrides,
      });
    },
    async close() {
      await queues.close();
      await db.close();
      await env.cleanup();
    },
  };
}
export type StatusCounts = Record<(typeof STATUSES)[number], number>;

export interface BatchState {
  status: string;
  total: number;
  counts: StatusCounts;
  /** Rows per status (what the counts must equal). */
  rows: StatusCounts;
  startedAt: Date | null;
  finishedAt: Date | null;
  error: unknown;
}

const STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled', 'expired'] as const;

export async function batchState(db: Database, batchId: string): Promise<BatchState> {
  const b = await db.pool.query(
    `SELECT status::text AS status, total, queued_count, running_count, completed_count, failed_count,
            cancelled_count, expired_count, started_at, finished_at, error FROM batches WHERE id = $1`,
    [batchId],
  );
  const row = b.rows[0];
  const r = await db.pool.query<{ status: string; n: number }>(
    `SELECT status::text AS status, count(*)::int AS n FROM documents WHERE batch_id = $1 GROUP BY status`,
    [batchId],
  );
  const rows = Object.fromEntries(STATUSES.map((s) => [s, 0])) as StatusCounts;
  for (const x of r.rows) rows[x.status as keyof StatusCounts] = x.n;
  return {
    status: row.status,
    total: row.total,
    counts: Object.fromEntries(STATUSES.map((s) => [s, row[`${s}_count`] as number])) as StatusCounts,
    rows,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    error: row.error,
  };
}

const FINAL = new Set(['completed', 'failed', 'cancelled', 'expired']);

/** Waits until the batch reaches an end state; returns its state. */
export async function waitForBatchEnd(
  db: Database,
  batchId: string,
  timeoutMs = 120_000,
): Promise<BatchState> {
  const end = await waitFor(
    async () => {
      const s = await batchState(db, batchId);
      return FINAL.has(s.status) ? s : null;
    },
    `batch ${batchId} to finish`,
    timeoutMs,
    100,
  );
  return end as BatchState;
}

/**
 * Installs (in this test's own database) a row trigger that records every transition of a document
 * into a finished status, so a test can prove each document was finished exactly once.
 */
export async function installFinishAudit(db: Database): Promise<void> {
  await db.pool.query(`
    CREATE TABLE IF NOT EXISTS finish_audit (batch_id text, seq int, status text, at timestamptz DEFAULT clock_timestamp());
    CREATE OR REPLACE FUNCTION finish_audit_fn() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('completed', 'failed', 'cancelled', 'expired') THEN
        INSERT INTO finish_audit (batch_id, seq, status) VALUES (NEW.batch_id, NEW.seq, NEW.status::text);
      END IF;
      RETURN NULL;
    END $$;
    DROP TRIGGER IF EXISTS finish_audit_trg ON documents;
    CREATE TRIGGER finish_audit_trg AFTER UPDATE ON documents FOR EACH ROW EXECUTE FUNCTION finish_audit_fn();
  `);
}

/** Audit of a batch: documents finished more than once, never finished, and documents with a result. */
export async function auditBatch(
  db: Database,
  batchId: string,
): Promise<{ twice: number; never: number; results: number }> {
  const q = async (sql: string): Promise<number> =>
    (await db.pool.query<{ n: number }>(sql, [batchId])).rows[0]!.n;
  return {
    twice: await q(
      `SELECT count(*)::int AS n FROM (SELECT seq FROM finish_audit WHERE batch_id = $1 GROUP BY seq HAVING count(*) > 1) x`,
    ),
    never: await q(
      `SELECT count(*)::int AS n FROM documents d WHERE d.batch_id = $1
         AND NOT EXISTS (SELECT 1 FROM finish_audit a WHERE a.batch_id = d.batch_id AND a.seq = d.seq)`,
    ),
    results: await q(`SELECT count(*)::int AS n FROM documents WHERE batch_id = $1 AND result IS NOT NULL`),
  };
}

/** Waits until at least `n` documents of the batch are finished. */
export async function waitForFinished(
  db: Database,
  batchId: string,
  n: number,
  timeoutMs = 60_000,
): Promise<number> {
  return waitFor(
    async () => {
      const r = await db.pool.query<{ n: number }>(
        `SELECT (completed_count + failed_count + cancelled_count + expired_count) AS n FROM batches WHERE id = $1`,
        [batchId],
      );
      const done = r.rows[0]?.n ?? 0;
      return done >= n ? done : 0;
    },
    `${n} finished documents of ${batchId}`,
    timeoutMs,
    20,
  );
}

/** Deletes every Redis key of the prefix (a FLUSHALL limited to this test's keys). */
export async function flushPrefix(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

const ROOT = path.resolve(__dirname, '../..');
const TS_HOOK = `
const fs = require('node:fs');
const Module = require('node:module');
const { transformSync } = require('@swc/core');
Module._extensions['.ts'] = function (module, filename) {
  module._compile(transformSync(fs.readFileSync(filename, 'utf8'), {
    filename, module: { type: 'commonjs' }, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
  }).code, filename);
};
require(${JSON.stringify(path.join(ROOT, 'scripts/workspace-sources.js'))}).register();
process.argv = [process.argv[0], ${JSON.stringify(path.join(ROOT, 'src/main.ts'))}, 'worker'];
require(${JSON.stringify(path.join(ROOT, 'src/main.ts'))});
`;

/** A `docbatch worker` child process, run from the TypeScript sources (swc require hook). */
export class WorkerChild {
  readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  output = '';

  constructor(env: Record<string, string>) {
    this.child = fork('-e', [TS_HOOK], {
      // `fork` runs `node <modulePath> ...args`; with '-e' the module path is the flag itself.
      execArgv: [],
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const keep = (b: Buffer): void => {
      this.output = (this.output + b.toString()).slice(-20_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  /** Resolves when the worker has started (it sends `{ready: 'worker'}`). */
  ready(timeoutMs = 60_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker child not ready in ${timeoutMs} ms: ${this.output}`)),
        timeoutMs,
      );
      this.child.on('message', (m: { ready?: string }) => {
        if (m?.ready === 'worker') {
          clearTimeout(timer);
          resolve();
        }
      });
      this.child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`worker child exited (${code}) before ready: ${this.output}`));
      });
    });
  }

  /** SIGKILL: no shutdown path runs. */
  async kill9(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM and wait for the graceful exit (SIGKILL after `graceMs`). */
  async stop(graceMs = 30_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Deterministic pseudo-random generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPAM = [
  'Win a free iPhone now, click here to claim your prize',
  'Cheap meds online, no prescription needed, order today',
  'You have been selected for a cash reward, reply with your bank details',
  'Limited offer: lose weight fast with this one weird trick',
  'Make money from home, earn thousands every week guaranteed',
];
const HAM = [
  'Hi team, the meeting is moved to Thursday at 10, please update your calendars',
  'Can you review my pull request before the release tomorrow?',
  'Thanks for the notes from yesterday, I added the budget numbers',
  'Lunch on Friday? The new place near the office has good reviews',
  'The quarterly report draft is attached, comments welcome by Monday',
];
const SENTENCES = [
  'The city council approved the new budget for public transport on Monday.',
  'Officials said the plan would add more buses to the busiest routes.',
  'Critics argued that the money should be spent on repairing old roads instead.',
  'The mayor defended the decision at a press conference in the afternoon.',
  'Ridership has grown steadily over the last three years.',
  'Local businesses welcomed the investment and expect more customers.',
  'The first new buses are expected to arrive early next year.',
  'Some residents worry about construction noise near the depots.',
];
const EN = [
  'the house is big',
  'i like the red car',
  'where is the station',
  'we eat bread every morning',
  'she reads a good book',
  'the children play in the park',
  'my brother works in the city',
  'it is cold today',
];

/** Documents for a task: short, varied lengths, deterministic. */
export function makeDocuments(task: string, n: number, seed = 1): { id: string; text: string }[] {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  return Array.from({ length: n }, (_, i) => {
    let text: string;
    if (task === 'classification') {
      const base = r() < 0.5 ? pick(SPAM) : pick(HAM);
      text = Array.from({ length: 1 + Math.floor(r() * 3) }, () => base).join('. ');
    } else if (task === 'summarization') {
      text = Array.from({ length: 3 + Math.floor(r() * 6) }, () => pick(SENTENCES)).join(' ');
    } else {
      text = pick(EN);
    }
    return { id: `d${i + 1}`, text };
  });
}
