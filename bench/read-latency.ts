/**
 * Read latency during upload bursts (issue 16): `GET /v1/batches/{id}` p50/p95 at rest, then while
 * N clients (default 30) each stream a D-document NDJSON upload (default 5,000) at once, in one run
 * against one API child process. Target: p95 during the burst under 5x the p95 at rest.
 *
 *   node scripts/run-ts.js bench/read-latency.ts [--uploads 30] [--docs 5000] [--rest-ms 5000]
 *
 * One reader polls one batch back to back (a new request as soon as the previous answer is in) for
 * `--rest-ms` with nothing else running, then again for as long as the uploads take, beside a second reader
 * polling `/healthz` (no database: its latency is the API's event-loop delay). No worker runs.
 */
import { createTenantWithKey } from '../src/core/tenants';
import { figure, flag, isMain, runMain, scratch, spawnDocbatch } from './scratch';
import type { Figure } from './scratch';

export interface ReadLatencyOptions {
  uploads: number;
  docs: number;
  restMs: number;
}

const percentile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

async function poll(url: string, key: string, until: () => boolean): Promise<number[]> {
  const ms: number[] = [];
  while (!until()) {
    const t = performance.now();
    const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
    ms.push(performance.now() - t);
  }
  return ms;
}

export async function runReadLatency(opts: ReadLatencyOptions): Promise<Figure[]> {
  const s = await scratch();
  const api = await spawnDocbatch('api', {
    DATABASE_URL: s.url,
    REDIS_URL: s.redisUrl,
    QUEUE_PREFIX: s.prefix,
    MAX_ACTIVE_BATCHES: '100000',
  });
  try {
    const { api_key: key } = await createTenantWithKey(s.db, 'reader');
    const uploaders = await Promise.all(
      Array.from({ length: opts.uploads }, (_, i) => createTenantWithKey(s.db, `uploader-${i}`)),
    );
    const created = await fetch(`${api.url}/v1/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ task: 'classification', documents: [{ text: 'hello' }] }),
    });
    const batchUrl = `${api.url}/v1/batches/${((await created.json()) as { id: string }).id}`;
    // Warm-up, then at rest.
    let stop = Date.now() + 500;
    await poll(batchUrl, key, () => Date.now() > stop);
    stop = Date.now() + opts.restMs;
    const rest = (await poll(batchUrl, key, () => Date.now() > stop)).sort((a, b) => a - b);

    const body = (k: number): string =>
      Array.from({ length: opts.docs }, (_, i) =>
        JSON.stringify({ id: `u${k}-${i}`, text: `upload ${k} document ${i} ${'lorem ipsum '.repeat(20)}` }),
      ).join('\n') + '\n';
    const bodies = Array.from({ length: opts.uploads }, (_, k) => body(k));
    let done = false;
    const t0 = Date.now();
    const uploads = Promise.all(
      bodies.map((b, k) =>
        fetch(`${api.url}/v1/batches?task=classification`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${uploaders[k]!.api_key}`,
            'content-type': 'application/x-ndjson',
          },
          body: b,
        }).then(async (r) => {
          await r.arrayBuffer();
          return r.status;
        }),
      ),
    ).finally(() => {
      done = true;
    });
    // A second reader polls /healthz (no database): its latency is the API's event-loop delay alone. A
    // third runs the batch's row lookup straight on Postgres (from this process): the database's part.
    const batchId = batchUrl.slice(batchUrl.lastIndexOf('/') + 1);
    const pgOnly = async (): Promise<number[]> => {
      const ms: number[] = [];
      while (!done) {
        const t = performance.now();
        await s.db.pool.query('SELECT * FROM batches WHERE id = $1', [batchId]);
        ms.push(performance.now() - t);
      }
      return ms;
    };
    const [burstReads, healthz, pg] = await Promise.all([
      poll(batchUrl, key, () => done),
      poll(`${api.url}/healthz`, key, () => done),
      pgOnly(),
    ]);
    pg.sort((a, b) => a - b);
    const burst = burstReads.sort((a, b) => a - b);
    healthz.sort((a, b) => a - b);
    const statuses = await uploads;
    const burstMs = Date.now() - t0;
    const ok = statuses.filter((x) => x === 201).length;
    const restP95 = percentile(rest, 0.95);
    const burstP95 = percentile(burst, 0.95);
    const note = `${opts.uploads} uploads of ${opts.docs} documents (${ok} answered 201, others ${[...new Set(statuses.filter((x) => x !== 201))].join('/') || 'none'}) in ${(burstMs / 1000).toFixed(1)} s; ${rest.length} reads at rest, ${burst.length} during`;
    return [
      figure('read-latency', 'GET /v1/batches/{id} p50 at rest', percentile(rest, 0.5), 'ms'),
      figure('read-latency', 'GET /v1/batches/{id} p95 at rest', restP95, 'ms'),
      figure('read-latency', 'GET /v1/batches/{id} p50 during uploads', percentile(burst, 0.5), 'ms', {
        name: 'p50 at rest',
        value: percentile(rest, 0.5),
      }),
      figure(
        'read-latency',
        'GET /v1/batches/{id} p95 during uploads (target < 5x rest)',
        burstP95,
        'ms',
        { name: 'p95 at rest', value: restP95 },
        note,
      ),
      figure(
        'read-latency',
        'GET /healthz p95 during uploads (no database: event-loop delay)',
        percentile(healthz, 0.95),
        'ms',
      ),
      figure(
        'read-latency',
        "the batch's row read straight from Postgres, p95 during uploads (the database's part)",
        percentile(pg, 0.95),
        'ms',
      ),
    ];
  } finally {
    await api.stop();
    await s.close();
  }
}

if (isMain(__filename)) {
  runMain(async () => {
    const out = await runReadLatency({
      uploads: flag('uploads', 30),
      docs: flag('docs', 5000),
      restMs: flag('rest-ms', 5000),
    });
    for (const f of out)
      console.log(
        `${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? ` (ratio ${f.ratio} vs ${f.baseline?.name} ${f.baseline?.value} ${f.unit})` : ''}${f.note ? ` [${f.note}]` : ''}`,
      );
  });
}
