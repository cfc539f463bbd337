/**
 * Results-streaming benchmark: `GET /v1/batches/{id}/results` (NDJSON, whole set, one request) and
 * the SDK's paged iterator, against a raw keyset `SELECT ... WHERE seq > $last ORDER BY seq LIMIT n`
 * loop over the same rows that serializes the same lines (the baseline), in the same run. A second
 * baseline is the read the API does, in this process without HTTP: the same keyset loop with the
 * jsonb columns as text, encoded by the API's own encoder (so the ratio to it is the cost of HTTP,
 * auth and backpressure alone). Also samples the API process's RSS while it streams.
 *
 *   node scripts/run-ts.js bench/results-streaming.ts [--results-docs 200000]
 *
 * The finished batch is seeded with a raw COPY (documents already `completed`, with a
 * classification result) in a scratch database, so the figure is about reading, not inference.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { copyEscape } from '../src/core/batches';
import { encodeResultLines } from '../src/core/batches/result-line-encoder';
import type { ResultTextRow } from '../src/core/batches/result-line-encoder';
import { createTenantWithKey } from '../src/core/tenants';
import { DocBatchClient } from '@docbatch/sdk';
import { figure, flag, isMain, mb, rssSampler, runMain, scratch, spawnDocbatch } from './scratch';
import type { Figure, Scratch } from './scratch';

/** Inserts a finished classification batch of `n` completed documents; returns its id. */
export async function seedFinishedBatch(s: Scratch, tenantId: string, n: number): Promise<string> {
  const id = `bat_seed${randomBytes(6).toString('hex')}`;
  const client = new Client({ connectionString: s.url });
  await client.connect();
  try {
    await client.query('BEGIN');
    // A seeded batch is inserted already finished (its counts set at insert, as for any new batch).
    await client.query(
      `INSERT INTO batches (id, tenant_id, task, model, completion_window, expires_at, status, total,
                            completed_count, started_at, finished_at)
       VALUES ($1, $2, 'classification', 'spam-classifier@1', '24h', now() + interval '1 day', 'completed', $3, $3,
               now(), now())`,
      [id, tenantId, n],
    );
    const copy = client.query(
      copyFrom(
        'COPY documents (batch_id, seq, client_id, text, metadata, status, result, finished_at) FROM STDIN',
      ),
    );
    const done = new Promise<void>((resolve, reject) => {
      copy.on('finish', resolve);
      copy.on('error', reject);
    });
    let buf = '';
    for (let i = 1; i <= n; i++) {
      const spam = i % 3 === 0;
      const score = 0.5 + ((i * 7919) % 500) / 1000;
      const result = JSON.stringify({
        label: spam ? 'spam' : 'ham',
        score,
        scores: spam ? { spam: score, ham: 1 - score } : { ham: score, spam: 1 - score },
      });
      buf += `${id}\t${i}\tdoc-${i}\t${copyEscape(`document ${i} text`)}\t{"n":${i}}\tcompleted\t${copyEscape(result)}\t2026-01-01 00:00:00+00\n`;
      if (buf.length > 256 * 1024 || i === n) {
        if (!copy.write(buf)) await new Promise((r) => copy.once('drain', r));
        buf = '';
      }
    }
    copy.end();
    await done;
    await client.query('COMMIT');
    await client.query('ANALYZE documents');
  } finally {
    await client.end();
  }
  return id;
}

/** Baseline: keyset pages straight from Postgres, serialized to the same NDJSON lines. */
async function rawKeyset(
  url: string,
  batchId: string,
  page: number,
): Promise<{ rows: number; seconds: number }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  const t0 = performance.now();
  let last = 0;
  let rows = 0;
  let bytes = 0;
  try {
    for (;;) {
      const r = await client.query(
        `SELECT seq, client_id, status::text AS status, result, error, metadata FROM documents
          WHERE batch_id = $1 AND seq > $2 AND status IN ('completed', 'failed', 'cancelled', 'expired')
          ORDER BY seq LIMIT $3`,
        [batchId, last, page],
      );
      for (const row of r.rows) {
        bytes += JSON.stringify({
          id: row.client_id,
          status: row.status,
          result: row.result,
          error: row.error,
          metadata: row.metadata ?? {},
        }).length;
      }
      rows += r.rows.length;
      if (r.rows.length < page) break;
      last = r.rows[r.rows.length - 1].seq;
    }
  } finally {
    await client.end();
  }
  if (bytes === 0 && rows > 0) throw new Error('unreachable');
  return { rows, seconds: (performance.now() - t0) / 1000 };
}

/** Second baseline: the API's read (jsonb as text) and encoder, in this process, without HTTP. */
async function rawTextKeyset(
  url: string,
  batchId: string,
  page: number,
): Promise<{ rows: number; seconds: number }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  const t0 = performance.now();
  let last = 0;
  let rows = 0;
  let bytes = 0;
  try {
    for (;;) {
      const r = await client.query<ResultTextRow>(
        `SELECT seq, client_id, status, result::text AS result, error::text AS error, metadata::text AS metadata
           FROM documents
          WHERE batch_id = $1 AND seq > $2 AND status IN ('completed', 'failed', 'cancelled', 'expired')
          ORDER BY seq LIMIT $3`,
        [batchId, last, page],
      );
      bytes += encodeResultLines(r.rows).length;
      rows += r.rows.length;
      if (r.rows.length < page) break;
      last = (r.rows[r.rows.length - 1] as ResultTextRow).seq;
    }
  } finally {
    await client.end();
  }
  if (bytes === 0 && rows > 0) throw new Error('unreachable');
  return { rows, seconds: (performance.now() - t0) / 1000 };
}

/** One streamed GET of the whole result set; counts lines. */
async function apiStream(
  url: string,
  key: string,
  batchId: string,
): Promise<{ rows: number; seconds: number; bytes: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/batches/${batchId}/results`, {
    headers: { authorization: `Bearer ${key}` },
  });
  if (res.status !== 200 || !res.body) throw new Error(`results: HTTP ${res.status}`);
  let rows = 0;
  let bytes = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === 0x0a) rows++;
  }
  return { rows, seconds: (performance.now() - t0) / 1000, bytes };
}

export interface StreamingOutcome {
  figures: Figure[];
  rss: { idle: number; peak: number; samples: [number, number][] };
}

/** Runs the benchmark in its own scratch database. */
export async function runResultsStreaming(docs: number): Promise<StreamingOutcome> {
  const s = await scratch();
  let api: Awaited<ReturnType<typeof spawnDocbatch>> | undefined;
  try {
    const { tenant, api_key } = await createTenantWithKey(s.db, 'bench');
    const batchId = await seedFinishedBatch(s, tenant.id, docs);
    api = await spawnDocbatch('api', { DATABASE_URL: s.url, REDIS_URL: s.redisUrl, QUEUE_PREFIX: s.prefix });
    // Warm both paths (plans, JIT) on a small prefix of the set.
    await rawKeyset(s.url, batchId, 5_000);
    const raw = await rawKeyset(s.url, batchId, 5_000);
    if (raw.rows !== docs) throw new Error(`raw keyset read ${raw.rows} rows, expected ${docs}`);
    await rawTextKeyset(s.url, batchId, 5_000);
    const rawText = await rawTextKeyset(s.url, batchId, 5_000);
    if (rawText.rows !== docs) throw new Error(`raw text keyset read ${rawText.rows} rows, expected ${docs}`);
    const pid = api.child.pid as number;
    const sampler = rssSampler(pid, 100);
    const idle = sampler.samples[0]?.[1] ?? 0;
    const stream = await apiStream(api.url, api_key, batchId);
    const samples = sampler.stop();
    if (stream.rows !== docs) throw new Error(`results stream had ${stream.rows} lines, expected ${docs}`);
    const client = new DocBatchClient({ baseUrl: api.url, apiKey: api_key });
    const t0 = performance.now();
    let sdkRows = 0;
    for await (const line of client.resultLines(batchId, { pageSize: 5_000 })) if (line) sdkRows++;
    const sdkSeconds = (performance.now() - t0) / 1000;
    if (sdkRows !== docs) throw new Error(`SDK iterator read ${sdkRows} lines, expected ${docs}`);
    const base = { name: 'raw keyset SELECT + serialize', value: raw.rows / raw.seconds };
    const textBase = { name: 'raw keyset SELECT ::text + encode', value: rawText.rows / rawText.seconds };
    const peak = Math.max(...samples.map(([, v]) => v));
    return {
      figures: [
        figure('results-streaming', 'raw keyset SELECT (baseline)', base.value, 'rows/s'),
        figure(
          'results-streaming',
          'raw keyset SELECT ::text + encode (API read, no HTTP)',
          textBase.value,
          'rows/s',
        ),
        figure(
          'results-streaming',
          'GET /results NDJSON stream',
          stream.rows / stream.seconds,
          'rows/s',
          base,
          `${docs} rows, ${mb(stream.bytes)} MB`,
        ),
        figure(
          'results-streaming',
          'GET /results NDJSON stream, to the API read without HTTP',
          stream.rows / stream.seconds,
          'rows/s',
          textBase,
        ),
        figure(
          'results-streaming',
          'SDK results iterator (pages of 5000)',
          sdkRows / sdkSeconds,
          'rows/s',
          base,
        ),
        figure('results-streaming', 'API RSS peak while streaming', mb(peak), 'MB', {
          name: 'API RSS before',
          value: mb(idle),
        }),
      ],
      rss: { idle, peak, samples },
    };
  } finally {
    await api?.stop();
    await s.close();
  }
}

if (isMain(__filename)) {
  runMain(async () => {
    const docs = flag('results-docs', 200_000);
    const out = await runResultsStreaming(docs);
    for (const f of out.figures)
      console.log(
        `${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? ` (ratio ${f.ratio} to ${f.baseline?.name})` : ''}`,
      );
  });
}
