/**
 * Submission latency benchmark: how long `POST /v1/batches` takes for small batches (5 to 24
 * documents) while N SDK clients of one tenant submit, poll and read results at once (the
 * reliability suite's 50-clients scenario without the inference), against the same submissions
 * from 1 client back to back (the baseline), in the same run. Also times a raw transaction from
 * the benchmark process (batch row INSERT + COPY of the same rows + COMMIT, one connection, one
 * at a time) as the database floor.
 *
 *   node scripts/run-ts.js bench/submit-latency.ts [--clients 50] [--submit-ms 15000]
 *
 * Each client loops until the time is up: `createBatch` (JSON form, with an Idempotency-Key and a
 * webhook_url on 127.0.0.1, as the SDK sends it), `waitForBatch` (polls 200 ms to 1 s apart), the
 * results iterator, and one `listBatchesPage`. Only the `createBatch` calls are timed. No worker
 * runs: a stand-in in this process completes the documents of every batch queued for 300 ms or
 * more in one UPDATE each 100 ms and finalizes those batches, so the figure is about the API and
 * Postgres, not inference. SDK retries are off, so a failed request is an error, not a slow one;
 * the run fails if there is any.
 */
import os from 'node:os';
import { Client } from 'pg';
import type { Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { copyEscape, finalizeBatchIfDone } from '../src/core/batches';
import { newId } from '../src/core/ids';
import { createTenantWithKey } from '../src/core/tenants';
import { DocBatchClient } from '@docbatch/sdk';
import type { DocumentInput } from '@docbatch/sdk';
import { figure, flag, isMain, runMain, scratch, spawnDocbatch } from './scratch';
import type { Figure } from './scratch';

export interface SubmitLatencyOptions {
  /** Concurrent clients of the measured phase. */
  clients: number;
  /** Length of each client phase, ms (the 1-client baseline runs a third of it, at least 3 s). */
  submitMs: number;
}

/** Latency figures of one phase, ms. */
interface Phase {
  submissions: number;
  p50: number;
  p95: number;
  max: number;
  perSecond: number;
  requests: number;
}

const percentile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

function summarize(ms: number[], wallMs: number, requests: number): Phase {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    submissions: sorted.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    max: sorted[sorted.length - 1] ?? 0,
    perSecond: Math.round((sorted.length / wallMs) * 1000 * 10) / 10,
    requests,
  };
}

/** 5 to 24 short documents, as in the reliability suite's 50-clients scenario. */
function documentsFor(client: number, k: number): DocumentInput[] {
  const n = 5 + ((client * 7 + k) % 20);
  return Array.from({ length: n }, (_, i) => ({
    id: `c${client}-${k}-${i}`,
    text: `Subject: offer ${client}-${k}-${i}\n\nHello, this is message ${i} of batch ${k} from client ${client}.`,
  }));
}

/**
 * `clients` SDK clients running the loop for `durationMs` (`follow`: wait for each batch, read its
 * results, list; else submissions back to back); returns the createBatch latencies.
 */
async function clientPhase(
  baseUrl: string,
  apiKey: string,
  webhookUrl: string,
  clients: number,
  durationMs: number,
  follow: boolean,
): Promise<Phase> {
  const latencies: number[] = [];
  const errors: string[] = [];
  let requests = 0;
  const t0 = performance.now();
  const deadline = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const client = new DocBatchClient({ baseUrl, apiKey, retries: 0 });
      for (let k = 0; Date.now() < deadline; k++) {
        try {
          const s0 = performance.now();
          const batch = await client.createBatch({
            task: 'classification',
            documents: documentsFor(c, k),
            webhook_url: webhookUrl,
          });
          latencies.push(performance.now() - s0);
          if (!follow) continue;
          const done = await client.waitForBatch(batch.id, {
            minIntervalMs: 200,
            maxIntervalMs: 1_000,
            timeoutMs: 60_000,
            onProgress: () => requests++,
          });
          if (done.status !== 'completed') throw new Error(`${batch.id} ended ${done.status}`);
          let lines = 0;
          for await (const line of client.results(batch.id)) if (line.status === 'completed') lines++;
          if (lines !== done.counts.total)
            throw new Error(`${batch.id}: ${lines} results of ${done.counts.total}`);
          await client.listBatchesPage({ limit: 5 });
          requests += 2;
        } catch (err) {
          errors.push(String(err));
          if (errors.length > 20) throw new Error(`too many errors: ${errors.slice(0, 3).join('; ')}`);
        }
      }
    }),
  );
  if (errors.length > 0) throw new Error(`${errors.length} client errors, first: ${errors[0]}`);
  return summarize(latencies, performance.now() - t0, requests);
}

/**
 * Stand-in for the workers: every 100 ms, completes the documents of the tenant's batches queued
 * for at least 300 ms (one UPDATE; the trigger moves the counts) and finalizes those batches, in
 * one transaction on its own connection. Returns a stop function.
 */
async function standInWorker(pool: Pool, tenantId: string): Promise<() => Promise<void>> {
  const pg = await pool.connect();
  let stopped = false;
  const result = JSON.stringify({ label: 'ham', score: 0.9, scores: { ham: 0.9, spam: 0.1 } });
  const loop = (async () => {
    while (!stopped) {
      await pg.query('BEGIN');
      const due = await pg.query<{ id: string }>(
        `SELECT id FROM batches WHERE tenant_id = $1 AND status = 'queued' AND created_at < now() - interval '300 ms'
          ORDER BY created_at LIMIT 500`,
        [tenantId],
      );
      const ids = due.rows.map((r) => r.id);
      if (ids.length > 0) {
        await pg.query(
          `UPDATE documents SET status = 'completed', result = $2::jsonb, finished_at = now()
            WHERE batch_id = ANY($1::text[]) AND status = 'queued'`,
          [ids, result],
        );
        for (const id of ids) await finalizeBatchIfDone(pg, id);
      }
      await pg.query('COMMIT');
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    pg.release();
  };
}

/** Baseline floor: batch row + COPY of the same rows + COMMIT from this process, one at a time. */
async function rawTransactions(url: string, tenantId: string, durationMs: number): Promise<Phase> {
  const pg = new Client({ connectionString: url });
  await pg.connect();
  const latencies: number[] = [];
  const t0 = performance.now();
  const deadline = Date.now() + durationMs;
  try {
    for (let k = 0; Date.now() < deadline; k++) {
      const docs = documentsFor(0, k);
      const s0 = performance.now();
      const id = newId('bat');
      await pg.query('BEGIN');
      await pg.query(
        `INSERT INTO batches (id, tenant_id, task, model, completion_window, expires_at, total, queued_count)
         VALUES ($1, $2, 'classification', 'spam-classifier@1', '24h', now() + interval '1 day', $3, $3)`,
        [id, tenantId, docs.length],
      );
      const copy = pg.query(copyFrom('COPY documents (batch_id, seq, client_id, text, metadata) FROM STDIN'));
      const done = new Promise<void>((resolve, reject) => {
        copy.on('finish', resolve);
        copy.on('error', reject);
      });
      copy.end(
        docs.map((d, i) => `${id}\t${i + 1}\t${copyEscape(d.id!)}\t${copyEscape(d.text)}\t{}\n`).join(''),
      );
      await done;
      await pg.query('COMMIT');
      latencies.push(performance.now() - s0);
    }
    // Leave nothing active behind for the client phases' cap checks and the stand-in worker.
    await pg.query(`UPDATE batches SET status = 'cancelled' WHERE tenant_id = $1`, [tenantId]);
  } finally {
    await pg.end();
  }
  return summarize(latencies, performance.now() - t0, 0);
}

function describe(name: string, p: Phase): string {
  return (
    `${name.padEnd(28)} ${String(p.submissions).padStart(5)} submissions  ${p.perSecond.toFixed(1).padStart(6)}/s  ` +
    `p50 ${p.p50.toFixed(1).padStart(7)} ms  p95 ${p.p95.toFixed(1).padStart(7)} ms  max ${p.max.toFixed(0).padStart(6)} ms`
  );
}

export async function runSubmitLatency(opts: SubmitLatencyOptions): Promise<Figure[]> {
  const s = await scratch();
  const { tenant, api_key } = await createTenantWithKey(s.db, 'bench-submit');
  const api = await spawnDocbatch('api', {
    DATABASE_URL: s.url,
    REDIS_URL: s.redisUrl,
    QUEUE_PREFIX: s.prefix,
    // 127.0.0.1 webhooks are refused unless allow-listed; nothing is delivered (no worker runs).
    WEBHOOK_ALLOWLIST: '127.0.0.1/32',
    MAX_ACTIVE_BATCHES: '1000',
  });
  const webhookUrl = 'http://127.0.0.1:9/hooks/submit-latency';
  try {
    console.log(
      `submit latency: ${opts.clients} clients for ${opts.submitMs} ms; loadavg ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    const raw = await rawTransactions(s.url, tenant.id, Math.max(2_000, opts.submitMs / 5));
    console.log(describe('raw INSERT + COPY + COMMIT', raw));
    const stopWorker = await standInWorker(s.db.pool, tenant.id);
    let one: Phase;
    let many: Phase;
    try {
      // Warm-up (first requests compile routes and open connections), not counted.
      await clientPhase(api.url, api_key, webhookUrl, 1, 1_000, false);
      // The baseline: the same submissions from 1 client, back to back.
      one = await clientPhase(api.url, api_key, webhookUrl, 1, Math.max(3_000, opts.submitMs / 3), false);
      console.log(describe('API, 1 client', one));
      many = await clientPhase(api.url, api_key, webhookUrl, opts.clients, opts.submitMs, true);
      console.log(describe(`API, ${opts.clients} clients`, many));
    } finally {
      await stopWorker();
    }
    console.log(
      `${opts.clients} clients vs 1 client: p50 x${(many.p50 / one.p50).toFixed(2)}, p95 x${(many.p95 / one.p95).toFixed(2)}; ` +
        `vs raw transaction: p50 x${(many.p50 / raw.p50).toFixed(2)}; ${many.requests} poll, results and list ` +
        `requests (${Math.round((many.requests / opts.submitMs) * 1000)}/s) beside the submissions; loadavg ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
    );
    const note = `${opts.clients} clients, ${opts.submitMs / 1000} s, 5-24 docs per batch`;
    const base = { name: '1 client, back to back', value: one.p50 };
    return [
      figure('submit-latency', 'raw INSERT + COPY + COMMIT p50 (floor)', raw.p50, 'ms'),
      figure('submit-latency', 'POST /v1/batches p50, 1 client', one.p50, 'ms', {
        name: 'raw transaction',
        value: raw.p50,
      }),
      figure('submit-latency', `POST /v1/batches p50, ${opts.clients} clients`, many.p50, 'ms', base, note),
      figure(
        'submit-latency',
        `POST /v1/batches p95, ${opts.clients} clients`,
        many.p95,
        'ms',
        { name: '1 client, back to back (p95)', value: one.p95 },
        note,
      ),
      figure('submit-latency', `submissions/s, ${opts.clients} clients`, many.perSecond, '/s', {
        name: '1 client',
        value: one.perSecond,
      }),
    ];
  } finally {
    await api.stop();
    await s.close();
  }
}

if (isMain(__filename)) {
  runMain(async () => {
    const out = await runSubmitLatency({
      clients: flag('clients', 50),
      submitMs: flag('submit-ms', 15_000),
    });
    for (const f of out)
      console.log(
        `${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? ` (ratio ${f.ratio} vs ${f.baseline?.name})` : ''}`,
      );
  });
}
