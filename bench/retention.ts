/**
 * Deletion and retention under load (issue 17): the throughput of a classification batch while a
 * `DELETE` of a large finished batch and a retention sweep over many old documents run, against the
 * same batch's throughput without them, in one run on the same machine.
 *
 *   node scripts/run-ts.js bench/retention.ts [--delete-docs 100000] [--retention-docs 1000000]
 *       [--batch-docs 30000] [--budget-ms 15000] [--pause-ms 15000]
 *
 * The deleted batch and the retention-due batches (`finished_at` 40 days ago, RETENTION_DAYS 29) are
 * written straight into Postgres (completed documents with results). A worker (classification, wasm)
 * runs in this process. Baseline: a batch of `--batch-docs` alone. Then a second identical batch; once
 * it is 10% done, `deleteBatch` (the API's path: mark, then up to 10 s of purge) and retention sweeps
 * as the maintenance loop runs them (`--budget-ms` of work, `--pause-ms` between, until nothing is
 * left) start. Throughput = documents finished per second between 10% and 90% of each batch (the
 * second batch's window is cut at the sweep's end if that comes first). Prints the ratio (target >= 0.8).
 * Uses a scratch database and queue prefix, removed at the end.
 */
import { loadConfig } from '../src/core/config';
import { createLogger } from '../src/core/logger';
import { deleteBatch, retentionSweep } from '../src/core/batches';
import type { BatchDeps } from '../src/core/batches';
import { createTenantWithKey } from '../src/core/tenants';
import { WorkerProcess } from '../src/workers/worker-process';
import { QueueSet } from '../src/core/queue/queues';
import { createRedis } from '../src/core/redis';
import { ModelRegistry } from '../src/core/models/registry';
import { arraySource, createBatch } from '../src/core/batches';
import { figure, flag, isMain, runMain, scratch } from './scratch';
import type { Figure, Scratch } from './scratch';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const TEXTS = [
  'WIN a FREE prize now!!! Click here to claim your cash reward before midnight',
  'Hi Bob, the meeting moved to 3pm, see you in the small room with the slides.',
  'Cheap meds online, no prescription needed, order today and save 90 percent',
  'Can you send me the quarterly report before Friday? Thanks a lot, Anna',
];

/** Writes finished batches of `docs` completed documents each, finished `ageDays` ago. */
async function seedFinished(
  s: Scratch,
  tenantId: string,
  batches: number,
  docs: number,
  ageDays: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let b = 0; b < batches; b++) {
    const id = `bat_seed${ageDays}x${b}`;
    ids.push(id);
    await s.db.pool.query(
      `INSERT INTO batches (id, tenant_id, task, model, completion_window, status, total, completed_count,
         created_at, started_at, finished_at, expires_at)
       VALUES ($1, $2, 'classification', 'spam-classifier@2', '24h', 'completed', $3, $3,
         now() - make_interval(days => $4) - interval '1 hour', now() - make_interval(days => $4) - interval '1 hour',
         now() - make_interval(days => $4), now() - make_interval(days => $4) + interval '23 hours')`,
      [id, tenantId, docs, ageDays],
    );
    // In slices, so that seeding a million rows never sits in one statement's memory.
    for (let from = 1; from <= docs; from += 50_000) {
      const to = Math.min(docs, from + 49_999);
      await s.db.pool.query(
        `INSERT INTO documents (batch_id, seq, client_id, text, status, result, attempts, finished_at)
         SELECT $1, g, g::text, $2 || ' #' || g, 'completed',
                '{"label": "ham", "score": 0.93, "scores": {"ham": 0.93, "spam": 0.07}}'::jsonb, 1, now()
           FROM generate_series($3::int, $4::int) g`,
        [id, TEXTS[b % TEXTS.length], from, to],
      );
    }
  }
  await s.db.pool.query('ANALYZE documents');
  return ids;
}

interface Progress {
  at: number;
  done: number;
}

/** Polls a batch's finished count every 200 ms until it completes. */
async function follow(
  s: Scratch,
  id: string,
  total: number,
  onProgress?: (done: number) => void,
): Promise<Progress[]> {
  const samples: Progress[] = [];
  for (;;) {
    const r = await s.db.pool.query<{ n: number; status: string }>(
      'SELECT completed_count + failed_count AS n, status::text AS status FROM batches WHERE id = $1',
      [id],
    );
    const done = r.rows[0]?.n ?? 0;
    samples.push({ at: performance.now(), done });
    onProgress?.(done);
    if (r.rows[0]?.status === 'completed' || done >= total) return samples;
    await sleep(200);
  }
}

/** Documents per second between the first sample at or past `from` and the last at or before `to` (done counts). */
function rate(samples: Progress[], from: number, to: number, untilMs = Infinity): number {
  const a = samples.find((p) => p.done >= from);
  const inside = samples.filter((p) => p.done <= to && p.at <= untilMs);
  const b = inside[inside.length - 1];
  if (!a || !b || b.at <= a.at) return NaN;
  return ((b.done - a.done) / (b.at - a.at)) * 1000;
}

export async function runRetention(opts: {
  deleteDocs: number;
  retentionDocs: number;
  batchDocs: number;
  budgetMs: number;
  pauseMs: number;
}): Promise<Figure[]> {
  const s = await scratch();
  const logger = createLogger('silent');
  const queues = new QueueSet(createRedis(s.redisUrl, 'client'), s.prefix);
  const worker = new WorkerProcess(
    loadConfig('worker', {
      DATABASE_URL: s.url,
      REDIS_URL: s.redisUrl,
      QUEUE_PREFIX: s.prefix,
      TF_BACKEND: process.env.TF_BACKEND ?? 'wasm',
      WORKER_TASKS: 'classification',
      // The bench runs the sweeps itself, timed; the worker's own maintenance stays out of the way.
      RECONCILE_INTERVAL_MS: '3600000',
      RETENTION_DAYS: '0',
      LOG_LEVEL: 'silent',
    }),
    logger,
  );
  try {
    const { tenant } = await createTenantWithKey(s.db, 'bench');
    const deps: BatchDeps = {
      db: s.db,
      queues,
      models: new ModelRegistry(),
      logger,
      settings: {
        maxDocsPerBatch: 10_000_000,
        maxDocChars: 100_000,
        chunkSize: 512,
        chunkAttempts: 5,
        idempotencyTtlHours: 24,
        webhookAllowlist: [],
      },
    };
    const seedStart = performance.now();
    const [toDelete] = await seedFinished(s, tenant.id, 1, opts.deleteDocs, 1);
    const perBatch = 100_000;
    const oldBatches = Math.max(1, Math.ceil(opts.retentionDocs / perBatch));
    await seedFinished(s, tenant.id, oldBatches, Math.ceil(opts.retentionDocs / oldBatches), 40);
    console.log(
      `seeded ${opts.deleteDocs} + ${opts.retentionDocs} documents in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`,
    );
    await worker.start();
    const docs = Array.from({ length: opts.batchDocs }, (_, i) => ({
      id: `d${i}`,
      text: `${TEXTS[i % TEXTS.length]!} (${i})`,
    }));
    const submit = async (tag: string): Promise<string> =>
      (
        await createBatch(deps, {
          tenantId: tenant.id,
          fields: { task: 'classification' },
          documents: arraySource(docs, tag),
        })
      ).batch.id;

    // A warm-up batch loads the model, then the baseline.
    await follow(s, await submit('warm'), Math.min(2_000, opts.batchDocs));
    const lo = Math.round(opts.batchDocs * 0.1);
    const hi = Math.round(opts.batchDocs * 0.9);
    const baseline = rate(await follow(s, await submit('baseline'), opts.batchDocs), lo, hi);

    // The same batch again, with the deletion and the retention sweeps once it is 10% done.
    let sweep: Promise<{ documents: number; ms: number; ticks: number }> | undefined;
    const start = (): void => {
      sweep = (async () => {
        const t0 = performance.now();
        await deleteBatch(deps, tenant.id, toDelete!);
        let documents = 0;
        let ticks = 0;
        for (;;) {
          const r = await retentionSweep(s.db.pool, { retentionDays: 29, budgetMs: opts.budgetMs });
          documents += r.documents;
          ticks++;
          if (!r.more) break;
          await sleep(opts.pauseMs);
        }
        return { documents, ms: performance.now() - t0, ticks };
      })();
    };
    let sweepEnd = Infinity;
    const loaded = await follow(s, await submit('loaded'), opts.batchDocs, (done) => {
      if (!sweep && done >= lo) {
        start();
        void sweep!.then(() => (sweepEnd = performance.now()));
      }
    });
    const swept = await sweep!;
    // The window ends with the sweep (at least 1 s after it started, so a short sweep still has samples).
    const sweepStart = loaded.find((p) => p.done >= lo)?.at ?? 0;
    const withSweep = rate(loaded, lo, hi, Math.max(sweepEnd, sweepStart + 1_000));
    const left = await s.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM documents WHERE batch_id IN (SELECT id FROM batches WHERE finished_at < now() - interval '2 days') OR batch_id = $1`,
      [toDelete],
    );
    console.log(
      `sweep: ${swept.ticks} ticks, ${(swept.ms / 1000) | 0} s, ${left.rows[0]?.n ?? -1} old documents left; ` +
        `batch overlapped the sweep ${Number.isFinite(sweepEnd) ? 'until the sweep ended' : 'entirely'}`,
    );
    return [
      figure('retention', 'batch throughput alone', baseline, 'docs/s'),
      figure('retention', 'batch throughput during delete + retention sweep', withSweep, 'docs/s', {
        name: 'batch throughput alone',
        value: baseline,
      }),
      figure(
        'retention',
        'documents purged per second (delete + sweep, incl. pauses)',
        swept.documents / (swept.ms / 1000),
        'docs/s',
        undefined,
        `${opts.deleteDocs} deleted + ${opts.retentionDocs} past retention; budget ${opts.budgetMs} ms, pause ${opts.pauseMs} ms`,
      ),
    ];
  } finally {
    await worker.stop();
    await queues.close();
    await s.close();
  }
}

if (isMain(__filename)) {
  runMain(async () => {
    const figures = await runRetention({
      deleteDocs: flag('delete-docs', 100_000),
      retentionDocs: flag('retention-docs', 1_000_000),
      batchDocs: flag('batch-docs', 30_000),
      budgetMs: flag('budget-ms', 15_000),
      pauseMs: flag('pause-ms', 15_000),
    });
    for (const f of figures)
      console.log(
        `${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? ` (ratio ${f.ratio}, target >= 0.8)` : ''}`,
      );
  });
}
