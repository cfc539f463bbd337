import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { makeDocuments, rng, flushPrefix } from '../integration/pipeline-fixtures';
import type { WorkerChild } from '../integration/pipeline-fixtures';
import { DocBatchClient } from '@docbatch/sdk';
import { loadUciSentences } from '../support/uci-sentences';
import { waitFor } from '../support/wait-for';
import {
  CHAOS_MODE,
  WORKER_ENV,
  createChaosHarness,
  finishedCount,
  freePort,
  report,
  size,
  waitForEnd,
} from './chaos-harness';
import type { ChaosHarness } from './chaos-harness';

/**
 * Reliability suite: each scenario breaks something mid-batch, then checks that every document
 * finished exactly once, the counts equal the rows, no chunk job is left for the finished batch and
 * the webhook was delivered once. Processes run as children behind TCP proxies (see chaos-harness).
 * Results are printed at the end and recorded in docs/reliability.md.
 *
 * Run: `npm run test:chaos` (full sizes) or `npm run test:chaos -- --ci` (small form, ~1 min idle);
 * one scenario: `npm run test:chaos -- -t "kill -9"`.
 */

jest.setTimeout(CHAOS_MODE === 'full' ? 600_000 : 240_000);

const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
const random = rng(SEED);
let h: ChaosHarness;

beforeAll(async () => {
  h = await createChaosHarness();
  await Promise.all([h.startApi(), h.startWorker(), h.startWorker()]);
  report.push(`mode ${CHAOS_MODE}, seed ${SEED}`);
}, 180_000);

afterAll(async () => {
  if (process.env.CHAOS_VERBOSE)
    for (const w of h?.workers ?? []) console.log(`worker ${w.child.pid} output:\n${w.output.slice(-4000)}`);
  await h?.close();
  console.log(`chaos report:\n  ${report.join('\n  ')}`);
});

function ms(t0: number): number {
  return Date.now() - t0;
}

async function submit(n: number, seed: number, path: string): Promise<string> {
  const batch = await h.client().createBatch({
    task: 'classification',
    documents: makeDocuments('classification', n, seed),
    webhook_url: h.receiver.url(path),
  });
  return batch.id;
}

it('kill -9 of a worker at 3 random points of one batch', async () => {
  const total = size('CHAOS_KILL_DOCS', 5_000, 30_000);
  const t0 = Date.now();
  const ready = new Set(h.workers);
  const id = await submit(total, 31, '/kill');
  // Three kill points, one in each third of the batch, at random.
  const points = [0, 1, 2].map((k) => Math.floor(total * (0.08 + k * 0.28 + random() * 0.2)));
  const killedAt: number[] = [];
  const starting: Promise<void>[] = [];
  for (const p of points) {
    await waitFor(async () => (await finishedCount(h, id)) >= p, `${p} finished`, 180_000, 20);
    // Victims are started workers (a worker still loading its models has no jobs to lose).
    const alive = (await waitFor(
      () => {
        const xs = [...ready].filter((w) => w.child.exitCode === null && w.child.signalCode === null);
        return xs.length > 0 ? xs : null;
      },
      'a started worker',
      90_000,
    )) as WorkerChild[];
    const victim = alive[Math.floor(random() * alive.length)]!;
    killedAt.push(await finishedCount(h, id));
    await victim.kill9();
    ready.delete(victim);
    h.workers.splice(h.workers.indexOf(victim), 1);
    // A replacement starts in the background; the survivor keeps going meanwhile.
    const replacement = h.spawnWorker();
    starting.push(replacement.ready(90_000).then(() => void ready.add(replacement)));
  }
  const end = await waitForEnd(h, id, 300_000);
  await Promise.all(starting);
  expect(end.status).toBe('completed');
  // Every kill happened while the batch was running.
  for (const k of killedAt) expect(k).toBeLessThan(total);
  const r = await h.assertSound(id, '/kill');
  expect(r.state.rows.completed).toBe(total);
  report.push(
    `kill -9 x3: ${total} docs, killed at ${killedAt.join('/')} finished, ${r.state.rows.completed} completed once, ` +
      `webhook ${r.webhooks}x, ${ms(t0)} ms`,
  );
});

it('kill -9 of the worker that trains a training job, mid-training: it ends succeeded with one model version', async () => {
  const perLabel = size('CHAOS_TRAIN_PER_LABEL', 150, 600);
  const epochs = size('CHAOS_TRAIN_EPOCHS', 6, 12);
  const t0 = Date.now();
  const sentences = loadUciSentences();
  const pos = sentences.filter((s) => s.label === 'positive').slice(0, perLabel);
  const neg = sentences.filter((s) => s.label === 'negative').slice(0, perLabel);
  const body = pos
    .flatMap((p, i) => [p, neg[i]!])
    .map((s) => JSON.stringify({ text: s.text, label: s.label }));
  const api = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${h.api!.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${h.apiKey}`, ...(init.headers as Record<string, string>) },
    });
  const hp = encodeURIComponent(JSON.stringify({ epochs, seed: 5, pretrained_words: 2000 }));
  const res = await api(
    `/v1/training_jobs?model=chaos-sentiment&hyperparameters=${hp}&webhook_url=${encodeURIComponent(h.receiver.url('/train'))}`,
    { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: body.join('\n') + '\n' },
  );
  expect(res.status).toBe(201);
  const jobId = ((await res.json()) as { id: string }).id;
  type Row = {
    status: string;
    attempts: number;
    worker: string | null;
    progress: { epoch: number } | null;
    result_model: string | null;
    checkpoint_epoch: number | null;
    metrics: { resumed_from_epoch?: number } | null;
  };
  const row = async (id = jobId): Promise<Row> =>
    (
      await h.db.pool.query<Row>(
        `SELECT status, attempts, worker, progress, result_model, checkpoint_epoch, metrics
           FROM training_jobs WHERE id = $1`,
        [id],
      )
    ).rows[0]!;
  // Mid-training: once it has a checkpoint (after its first epoch), the worker running it (its id
  // holds its pid) is killed.
  const running = (await waitFor(
    async () => {
      const r = await row();
      return r.status === 'running' && r.checkpoint_epoch !== null && r.progress && r.progress.epoch < epochs
        ? r
        : null;
    },
    'the training job to store a checkpoint',
    180_000,
    50,
  )) as Row;
  const victim = h.workers.find((w) => running.worker?.includes(`-${w.child.pid}-`));
  expect(victim).toBeDefined();
  const killedAtEpoch = running.progress!.epoch;
  const checkpointEpoch = running.checkpoint_epoch!;
  await victim!.kill9();
  h.workers.splice(h.workers.indexOf(victim!), 1);
  const replacement = h.spawnWorker();
  const replaced = replacement.ready(90_000);
  const end = (await waitFor(
    async () => {
      const r = await row();
      return ['succeeded', 'failed', 'cancelled'].includes(r.status) ? r : null;
    },
    'the training job to end',
    300_000,
    100,
  )) as Row;
  await replaced;
  expect(end.status).toBe('succeeded');
  expect(end.attempts).toBe(2);
  expect(end.result_model).toBe('chaos-sentiment@1');
  // The second worker resumed from the checkpoint (the latest one stored before the kill).
  expect(end.metrics?.resumed_from_epoch).toBeGreaterThanOrEqual(checkpointEpoch);
  expect(end.checkpoint_epoch).toBeNull();
  // Exactly one model version, made by this job.
  const versions = await h.db.pool.query<{ version: number; training_job_id: string }>(
    `SELECT version, training_job_id FROM tenant_models WHERE tenant_id = $1 AND name = 'chaos-sentiment'`,
    [h.tenantId],
  );
  expect(versions.rows).toEqual([{ version: 1, training_job_id: jobId }]);
  // The end webhook was delivered once.
  await waitFor(
    async () =>
      (
        await h.db.pool.query(
          `SELECT 1 FROM webhook_deliveries WHERE training_job_id = $1 AND status::text = 'succeeded'`,
          [jobId],
        )
      ).rowCount === 1,
    'the training webhook delivered',
    60_000,
    100,
  );
  const got = h.receiver.at('/train').filter((r) => r.body.includes(jobId));
  expect(got).toHaveLength(1);
  expect((JSON.parse(got[0]!.body) as { type: string }).type).toBe('training_job.succeeded');
  // The resumed run made the same model as an uninterrupted one: the same upload and seed again
  // (version 2 of the name) gives byte-identical files (card.md records times).
  const again = await api(`/v1/training_jobs?model=chaos-sentiment&hyperparameters=${hp}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: body.join('\n') + '\n',
  });
  const againId = ((await again.json()) as { id: string }).id;
  const second = (await waitFor(
    async () => {
      const r = await row(againId);
      return ['succeeded', 'failed', 'cancelled'].includes(r.status) ? r : null;
    },
    'the uninterrupted job to end',
    300_000,
    100,
  )) as Row;
  expect(second).toMatchObject({ status: 'succeeded', result_model: 'chaos-sentiment@2', attempts: 1 });
  const files = await h.db.pool.query<{ version: number; path: string; hash: string }>(
    `SELECT m.version, f.path, md5(f.data) AS hash FROM tenant_model_files f JOIN tenant_models m ON m.id = f.model_id
      WHERE m.tenant_id = $1 AND m.name = 'chaos-sentiment' AND f.path <> 'card.md' ORDER BY f.path, m.version`,
    [h.tenantId],
  );
  const byPath = new Map<string, string[]>();
  for (const f of files.rows) byPath.set(f.path, [...(byPath.get(f.path) ?? []), f.hash]);
  expect(byPath.size).toBeGreaterThanOrEqual(3);
  for (const [path, hashes] of byPath)
    expect({ path, same: hashes.length === 2 && hashes[0] === hashes[1] }).toEqual({ path, same: true });
  report.push(
    `kill -9 mid-training: ${perLabel * 2} examples, ${epochs} epochs, worker killed after epoch ${killedAtEpoch} ` +
      `(checkpoint of epoch ${checkpointEpoch}); job succeeded on attempt ${end.attempts}, resumed from epoch ` +
      `${end.metrics?.resumed_from_epoch}, 1 model version, files identical to an uninterrupted run's, webhook 1x, ${ms(t0)} ms`,
  );
});

it('Redis outage mid-batch (proxy cut, then restored): /readyz 503 meanwhile, batch completes', async () => {
  const total = size('CHAOS_REDIS_DOCS', 3_000, 10_000);
  const outageMs = size('CHAOS_OUTAGE_MS', 3_000, 8_000);
  const t0 = Date.now();
  const id = await submit(total, 32, '/redis');
  await waitFor(async () => (await finishedCount(h, id)) >= total * 0.2, '20% finished', 180_000, 20);
  const cutAt = Date.now();
  await h.redisProxy.stop();
  await waitFor(async () => (await fetch(`${h.api!.url}/readyz`)).status === 503, '/readyz 503', 15_000, 100);
  const outageStatus = await fetch(`${h.api!.url}/v1/batches/${id}`, {
    headers: { authorization: `Bearer ${h.apiKey}` },
  });
  // Reads come from Postgres: they keep working while Redis is down.
  expect(outageStatus.status).toBe(200);
  await new Promise((r) => setTimeout(r, Math.max(0, outageMs - ms(cutAt)))); // the outage itself
  await h.redisProxy.start();
  await waitFor(async () => (await fetch(`${h.api!.url}/readyz`)).status === 200, '/readyz 200', 30_000, 100);
  const recoveredMs = ms(cutAt);
  await waitForEnd(h, id, 300_000);
  const r = await h.assertSound(id, '/redis');
  expect(r.state.rows.completed).toBe(total);
  report.push(
    `Redis outage ${outageMs} ms: ready again ${recoveredMs} ms after the cut, ${r.state.rows.completed}/${total} completed once, webhook ${r.webhooks}x, ${ms(t0)} ms`,
  );
});

it("Redis flush mid-batch (this prefix's keys deleted): the reconciler re-enqueues, batch completes", async () => {
  const total = size('CHAOS_FLUSH_DOCS', 3_000, 10_000);
  const t0 = Date.now();
  const id = await submit(total, 33, '/flush');
  await waitFor(async () => (await finishedCount(h, id)) >= total * 0.2, '20% finished', 180_000, 20);
  const deleted = await flushPrefix(h.env.redisUrl, h.env.queuePrefix);
  expect(deleted).toBeGreaterThan(0);
  await waitForEnd(h, id, 300_000);
  const r = await h.assertSound(id, '/flush');
  expect(r.state.rows.completed).toBe(total);
  report.push(
    `Redis flush: ${deleted} keys deleted, ${r.state.rows.completed}/${total} completed once, webhook ${r.webhooks}x, ${ms(t0)} ms`,
  );
});

it('Postgres outage mid-batch: the API answers 503 UNAVAILABLE, recovers without restart; workers retry', async () => {
  const total = size('CHAOS_PG_DOCS', 3_000, 10_000);
  const outageMs = size('CHAOS_OUTAGE_MS', 3_000, 8_000);
  const t0 = Date.now();
  const id = await submit(total, 34, '/pg');
  await waitFor(async () => (await finishedCount(h, id)) >= total * 0.2, '20% finished', 180_000, 20);
  const apiPid = h.api!.child.pid;
  const cutAt = Date.now();
  await Promise.all([h.pgProxy.stop(), h.workerPgProxy.stop()]);
  const get = (): Promise<Response> =>
    fetch(`${h.api!.url}/v1/batches/${id}`, { headers: { authorization: `Bearer ${h.apiKey}` } });
  const during = await waitFor(
    async () => {
      const res = await get();
      return res.status === 503 ? ((await res.json()) as { error: { code: string; message: string } }) : null;
    },
    'a 503 from the API',
    15_000,
    100,
  );
  expect(during?.error.code).toBe('UNAVAILABLE');
  expect(during?.error.message).not.toMatch(/ECONN|connect|pg|postgres|127\.0\.0\.1/i);
  const submitDuring = await fetch(`${h.api!.url}/v1/batches?task=classification`, {
    method: 'POST',
    headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/x-ndjson' },
    body: '{"text":"during the outage"}\n',
  });
  expect(submitDuring.status).toBe(503);
  expect(((await submitDuring.json()) as { error: { code: string } }).error.code).toBe('UNAVAILABLE');
  await new Promise((r) => setTimeout(r, Math.max(0, outageMs - ms(cutAt)))); // the outage itself
  await Promise.all([h.pgProxy.start(), h.workerPgProxy.start()]);
  await waitFor(async () => (await get()).status === 200, 'the API to answer 200 again', 30_000, 100);
  const recoveredMs = ms(cutAt);
  // Same process: recovered without a restart.
  expect(h.api!.child.pid).toBe(apiPid);
  expect(h.api!.child.exitCode).toBeNull();
  await waitForEnd(h, id, 300_000);
  // No worker died of the outage (the suite does not restart crashed workers).
  for (const w of h.workers)
    expect({ pid: w.child.pid, exit: w.child.exitCode }).toEqual({ pid: w.child.pid, exit: null });
  const r = await h.assertSound(id, '/pg');
  expect(r.state.rows.completed + r.state.rows.failed).toBe(total);
  expect(r.state.rows.completed).toBe(total);
  const none = await h.db.pool.query(
    `SELECT count(*)::int AS n FROM documents WHERE text = 'during the outage'`,
  );
  expect(none.rows[0].n).toBe(0);
  report.push(
    `Postgres outage ${outageMs} ms: 503 UNAVAILABLE during it, API 200 again ${recoveredMs} ms after the cut (same pid), ` +
      `${r.state.rows.completed}/${total} completed once, webhook ${r.webhooks}x, ${ms(t0)} ms`,
  );
});

it("Postgres blackhole mid-batch (the workers' connections go silent, nothing is closed): workers give them up; that batch and a later one complete", async () => {
  const total = size('CHAOS_HOLE_DOCS', 3_000, 10_000);
  const outageMs = size('CHAOS_OUTAGE_MS', 3_000, 8_000);
  const t0 = Date.now();
  const id = await submit(total, 35, '/hole');
  await waitFor(async () => (await finishedCount(h, id)) >= total * 0.2, '20% finished', 180_000, 20);
  const holeAt = Date.now();
  // A partition between the workers and Postgres: no byte passes, no connection closes, and the
  // connections open now stay silent for good (their flows are gone).
  h.workerPgProxy.blackhole();
  await new Promise((r) => setTimeout(r, outageMs)); // the outage itself
  h.workerPgProxy.heal();
  const later = await submit(200, 36, '/hole');
  await waitForEnd(h, id, 300_000);
  const recoveredMs = ms(holeAt);
  await waitForEnd(h, later, 120_000);
  const r = await h.assertSound(id, '/hole');
  expect(r.state.rows.completed).toBe(total);
  const r2 = await h.assertSound(later, '/hole');
  expect(r2.state.rows.completed).toBe(200);
  // The workers did hold connections that went silent, and survived them.
  const silent = h.workerPgProxy.silentConnections;
  expect(silent).toBeGreaterThan(0);
  for (const w of h.workers)
    expect({ pid: w.child.pid, exit: w.child.exitCode }).toEqual({ pid: w.child.pid, exit: null });
  report.push(
    `Postgres blackhole ${outageMs} ms (workers' path, ${silent} connections left silent): batch ended ${recoveredMs} ms after the blackhole began, ` +
      `${r.state.rows.completed}/${total} completed once, later batch 200/200, webhooks ${r.webhooks + r2.webhooks}x, ${ms(t0)} ms`,
  );
});

it('API killed (kill -9) mid-upload: nothing half-stored; the same Idempotency-Key then creates the batch', async () => {
  const docs = size('CHAOS_UPLOAD_DOCS', 300_000, 1_000_000);
  const t0 = Date.now();
  const count = async (sql: string): Promise<number> =>
    (await h.db.pool.query<{ n: number }>(sql)).rows[0]!.n;
  const before = {
    batches: await count('SELECT count(*)::int AS n FROM batches'),
    documents: await count('SELECT count(*)::int AS n FROM documents'),
    keys: await count('SELECT count(*)::int AS n FROM idempotency_keys'),
  };
  const api = h.api!;
  let sent = 0;
  const req = http.request({
    host: '127.0.0.1',
    port: api.port,
    path: '/v1/batches?task=classification',
    method: 'POST',
    headers: {
      authorization: `Bearer ${h.apiKey}`,
      'content-type': 'application/x-ndjson',
      'idempotency-key': 'chaos-upload-1',
    },
  });
  const outcome = new Promise<string>((resolve) => {
    req.on('response', (res) => resolve(`response ${res.statusCode}`));
    req.on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
  });
  const pump = (): void => {
    while (sent < docs) {
      let buf = '';
      for (let j = 0; j < 256 && sent < docs; j++)
        buf += `{"id":"u${++sent}","text":"upload document ${sent}"}\n`;
      if (!req.write(buf)) {
        req.once('drain', pump);
        return;
      }
    }
    req.end();
  };
  pump();
  // Kill once the COPY into Postgres is under way (rows are being written in the transaction).
  const dbName = new URL(h.env.databaseUrl).pathname.slice(1);
  await waitFor(
    async () =>
      sent > docs * 0.3 &&
      (await count(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${dbName}' AND query LIKE 'COPY documents%'`,
      )) > 0,
    'the upload COPY to run',
    120_000,
    20,
  );
  const sentAtKill = sent;
  await api.kill9();
  expect(await outcome).toMatch(/^error/);
  // The killed process's transaction is rolled back once Postgres sees its connection close.
  await waitFor(
    async () =>
      (await count(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${dbName}' AND (query LIKE 'COPY documents%' OR state LIKE 'idle in transaction%')`,
      )) === 0,
    'the aborted COPY transaction to end',
    30_000,
    50,
  );
  expect({
    batches: await count('SELECT count(*)::int AS n FROM batches'),
    documents: await count('SELECT count(*)::int AS n FROM documents'),
    keys: await count('SELECT count(*)::int AS n FROM idempotency_keys'),
  }).toEqual(before);
  // Restart the API; retrying with the same key creates the batch (the key was not half-stored).
  await h.startApi();
  const hook = encodeURIComponent(h.receiver.url('/upload'));
  const retry = await fetch(`${h.api!.url}/v1/batches?task=classification&webhook_url=${hook}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${h.apiKey}`,
      'content-type': 'application/x-ndjson',
      'idempotency-key': 'chaos-upload-1',
    },
    body: Array.from({ length: 500 }, (_, i) => JSON.stringify({ id: `u${i + 1}`, text: `hello ${i}` })).join(
      '\n',
    ),
  });
  expect(retry.status).toBe(201);
  const batch = (await retry.json()) as { id: string };
  await waitForEnd(h, batch.id, 120_000);
  await h.assertSound(batch.id, '/upload');
  report.push(
    `API kill -9 mid-upload: killed after ${sentAtKill} of ${docs} lines sent during COPY; 0 rows, 0 batches, 0 keys left; ` +
      `same key then 201; ${ms(t0)} ms`,
  );
});

/** Writes zeros to `file` until its file system is full (ENOSPC), in ever smaller pieces down to 4 KB. */
function fillUp(file: string): void {
  const fd = openSync(file, 'w');
  try {
    for (let piece = 1 << 20; piece >= 4096; piece >>= 1) {
      const zeros = Buffer.alloc(piece);
      for (;;) {
        try {
          writeSync(fd, zeros);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

// Needs root (tmpfs mount) and a local Postgres superuser, as on this project's machines and CI.
const canMount = process.getuid?.() === 0;

(canMount ? it : it.skip)(
  'disk full mid-batch (documents on a tmpfs tablespace, filled up, then freed): uploads 503, workers retry, every document once',
  async () => {
    const total = size('CHAOS_DISK_DOCS', 3_000, 10_000);
    const fullMs = size('CHAOS_DISK_FULL_MS', 3_000, 8_000);
    const t0 = Date.now();
    const suffix = randomBytes(4).toString('hex');
    const dir = `/tmp/docbatch-chaos-disk-${suffix}`;
    const tablespace = `docbatch_chaos_${suffix}`;
    const filler = path.join(dir, 'filler');
    const moveDocuments = async (space: string): Promise<void> => {
      const parts = await h.db.pool.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'documents'::regclass`,
      );
      for (const p of parts.rows) await h.db.pool.query(`ALTER TABLE "${p.name}" SET TABLESPACE ${space}`);
    };
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', dir]);
    try {
      execFileSync('chown', ['postgres:postgres', dir]);
      await h.db.pool.query(`CREATE TABLESPACE ${tablespace} LOCATION '${dir}'`);
      await moveDocuments(tablespace);
      const id = await submit(total, 37, '/disk');
      await waitFor(async () => (await finishedCount(h, id)) >= total * 0.2, '20% finished', 180_000, 20);
      // Fill what is left of the tmpfs: the workers' result updates need new pages and get 53100.
      // Postgres writes to the same tmpfs meanwhile, so write until ENOSPC rather than a size read beforehand.
      fillUp(filler);
      const filledAt = Date.now();
      const atFill = await finishedCount(h, id);
      const upload = (): Promise<Response> =>
        fetch(`${h.api!.url}/v1/batches?task=classification`, {
          method: 'POST',
          headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/x-ndjson' },
          body:
            Array.from({ length: 2_000 }, (_, i) =>
              JSON.stringify({ id: `full-${i}`, text: randomBytes(600).toString('base64') }),
            ).join('\n') + '\n',
        });
      const during = await upload();
      const duringBody = (await during.json()) as { error?: { code: string; message: string } };
      if (during.status !== 503) {
        // What the API logged about it (a 500 names nothing to the client).
        console.log(
          `disk full: upload answered ${during.status} ${JSON.stringify(duringBody)}; API log tail:\n${h.api!.output.slice(-4000)}`,
        );
      }
      expect({ status: during.status, code: duringBody.error?.code }).toEqual({
        status: 503,
        code: 'UNAVAILABLE',
      });
      expect(Number(during.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await fetch(`${h.api!.url}/readyz`)).status).toBe(503);
      await new Promise((r) => setTimeout(r, Math.max(0, fullMs - ms(filledAt))));
      const atFree = await finishedCount(h, id);
      rmSync(filler);
      const freedAt = Date.now();
      const end = await waitForEnd(h, id, 300_000);
      expect(end.status).toBe('completed');
      const r = await h.assertSound(id, '/disk');
      expect(r.state.rows.completed).toBe(total);
      // Nothing of the refused upload was stored; once space is back, uploads are accepted again.
      const none = await h.db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM documents WHERE client_id LIKE 'full-%'`,
      );
      expect(none.rows[0]!.n).toBe(0);
      const after = await upload();
      expect(after.status).toBe(201);
      const later = ((await after.json()) as { id: string }).id;
      await waitForEnd(h, later, 120_000);
      await h.assertSound(later);
      report.push(
        `disk full ${fullMs} ms mid-batch: upload 503 UNAVAILABLE + Retry-After, /readyz 503; ${atFree - atFill} documents finished while full; ` +
          `${r.state.rows.completed}/${total} completed once, ended ${ms(freedAt)} ms after space was freed; webhook ${r.webhooks}x; ` +
          `a 2,000-document upload then 201; ${ms(t0)} ms`,
      );
    } finally {
      rmSync(filler, { force: true });
      await moveDocuments('pg_default').catch(() => undefined);
      await h.db.pool.query(`DROP TABLESPACE IF EXISTS ${tablespace}`).catch(() => undefined);
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

it('npm start supervision: kill -9 of its worker child, then of its API child, mid-batch; Ctrl-C stops it cleanly', async () => {
  const total = size('CHAOS_SUPERVISOR_DOCS', 3_000, 20_000);
  const t0 = Date.now();
  const port = await freePort();
  // What `npm start` runs (`all`), from the sources; its own process group, as a terminal gives it.
  const sup = spawn(
    process.execPath,
    [path.resolve(__dirname, '../../scripts/run-ts.js'), path.resolve(__dirname, '../../src/main.ts'), 'all'],
    {
      env: {
        ...process.env,
        ...h.procEnv,
        ...WORKER_ENV,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        RATE_LIMIT_PER_MINUTE: '100000',
        MAX_ACTIVE_BATCHES: '1000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let out = '';
  sup.stdout.on('data', (b: Buffer) => (out += b.toString()));
  sup.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => sup.once('exit', (code) => r(code)));
  const started = (kind: string): number[] =>
    out
      .split('\n')
      .filter((l) => l.includes('child process started'))
      .map((l) => JSON.parse(l) as { process: string; childPid: number })
      .filter((l) => l.process === kind)
      .map((l) => l.childPid);
  const url = `http://127.0.0.1:${port}`;
  const healthy = async (): Promise<boolean> => {
    try {
      return (await fetch(`${url}/healthz`)).ok;
    } catch {
      return false;
    }
  };
  try {
    await waitFor(healthy, 'the supervised API', 90_000, 200);
    await waitFor(() => started('worker').length === 1, 'the supervised worker to start', 30_000);
    const client = new DocBatchClient({
      baseUrl: url,
      apiKey: h.apiKey,
      retries: 8,
      minRetryDelayMs: 200,
      maxRetryDelayMs: 2_000,
    });
    const batch = await client.createBatch({
      task: 'classification',
      documents: makeDocuments('classification', total, 37),
      webhook_url: h.receiver.url('/supervisor'),
    });
    await waitFor(async () => (await finishedCount(h, batch.id)) >= total * 0.1, '10% finished', 180_000, 20);
    const workerPid = started('worker')[0]!;
    process.kill(workerPid, 'SIGKILL');
    // The API child keeps serving while the worker is restarted.
    for (let i = 0; i < 5; i++) {
      expect(await healthy()).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitFor(() => started('worker').length === 2, 'the worker to be restarted', 30_000);
    const killedWorkerAt = await finishedCount(h, batch.id);
    process.kill(started('api')[0]!, 'SIGKILL');
    await waitFor(() => started('api').length === 2, 'the API to be restarted', 30_000);
    await waitFor(healthy, 'the restarted API', 90_000, 200);
    expect((await client.getBatch(batch.id)).id).toBe(batch.id);
    const end = await waitForEnd(h, batch.id, 300_000);
    expect(end.status).toBe('completed');
    const r = await h.assertSound(batch.id, '/supervisor');
    expect(r.state.rows.completed).toBe(total);
    expect(out).toMatch(/child process exited; restarting it/);
    // Ctrl-C: SIGINT to the process group, as a terminal sends it; one graceful stop, exit 0.
    process.kill(-sup.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    expect(out).not.toMatch(/second signal/);
    report.push(
      `npm start supervision: ${total} docs, worker child killed at ${killedWorkerAt} finished, API child killed, ` +
        `both restarted; ${r.state.rows.completed} completed once, webhook ${r.webhooks}x; Ctrl-C exit 0; ${ms(t0)} ms`,
    );
  } finally {
    if (sup.exitCode === null && sup.signalCode === null) {
      try {
        process.kill(-sup.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
});

it('50 concurrent clients submitting and polling', async () => {
  const clients = size('CHAOS_CLIENTS', 50, 50);
  const durationMs = size('CHAOS_CLIENTS_MS', 15_000, 60_000);
  const t0 = Date.now();
  const ids: string[] = [];
  const submitMs: number[] = [];
  let polls = 0;
  let results = 0;
  const errors: string[] = [];
  const deadline = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const client = h.client();
      for (let k = 0; Date.now() < deadline; k++) {
        try {
          const n = 5 + ((c * 7 + k) % 20);
          const s0 = Date.now();
          const batch = await client.createBatch({
            task: 'classification',
            documents: makeDocuments('classification', n, c * 1000 + k),
            webhook_url: h.receiver.url('/clients'),
          });
          submitMs.push(Date.now() - s0);
          ids.push(batch.id);
          const done = await client.waitForBatch(batch.id, {
            minIntervalMs: 200,
            maxIntervalMs: 1_000,
            timeoutMs: 120_000,
            onProgress: () => polls++,
          });
          if (done.status !== 'completed') errors.push(`${batch.id} ${done.status}`);
          let lines = 0;
          for await (const line of client.results(batch.id)) if (line.status === 'completed') lines++;
          if (lines !== n) errors.push(`${batch.id}: ${lines} results of ${n}`);
          results += lines;
          await client.listBatchesPage({ limit: 5 });
        } catch (err) {
          errors.push(String(err));
        }
      }
    }),
  );
  expect(errors).toEqual([]);
  for (const id of ids) await h.assertSound(id, '/clients');
  expect(h.receiver.at('/clients')).toHaveLength(ids.length);
  submitMs.sort((a, b) => a - b);
  const p = (q: number): number =>
    submitMs[Math.min(submitMs.length - 1, Math.floor(q * submitMs.length))] ?? 0;
  report.push(
    `${clients} clients for ${durationMs} ms: ${ids.length} batches, ${results} results, ${polls} polls, 0 errors; ` +
      `submit p50 ${p(0.5)} ms, p95 ${p(0.95)} ms; every webhook once; ${ms(t0)} ms`,
  );
});
