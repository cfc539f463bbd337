/**
 * Memory benchmark: resident set size (RSS, from /proc) of the real processes, sampled over time.
 *
 *   node scripts/run-ts.js bench/memory.ts [--ingest-docs 1000000] [--stream-docs 1000000]
 *                                          [--worker-docs 100000] [--doc-chars 200] [--no-ids]
 *
 * 1. API RSS while it ingests one `--ingest-docs` NDJSON upload (streamed by a client with backpressure);
 * 2. API RSS while it streams `--stream-docs` results of a finished batch in one GET;
 * 3. worker RSS over a `--worker-docs` classification batch, sampled every second, and whether it
 *    plateaus: run the same batch a second time, its peak is within 10% of the first batch's peak.
 * The baseline of each figure is the same process's RSS at rest just before. Set a size to 0 to skip a part.
 */
import http from 'node:http';
import { createTenantWithKey } from '../src/core/tenants';
import { seedFinishedBatch } from './results-streaming';
import { figure, flag, isMain, mb, rssOf, rssSampler, runMain, scratch, spawnDocbatch } from './scratch';
import type { Figure } from './scratch';

const WORDS = (
  'meeting report budget offer prize click free money team review thanks lunch order today ' +
  'please update calendar win claim reward cheap office draft comments monday weekly account'
).split(' ');

function textFor(i: number, chars: number): string {
  let x = (i * 2654435761) >>> 0;
  let s = '';
  while (s.length < chars) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += WORDS[x % WORDS.length] + (x % 13 === 0 ? '. ' : ' ');
  }
  return s.slice(0, chars);
}

/** Streams `n` NDJSON documents to POST /v1/batches with backpressure; resolves with the status and body. */
export function uploadNdjson(
  url: string,
  key: string,
  n: number,
  chars: number,
  task = 'classification',
  ids = true,
): Promise<{ status: number; body: string; seconds: number }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({
      host: u.hostname,
      port: u.port,
      path: `/v1/batches?task=${task}`,
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' },
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body, seconds: (performance.now() - t0) / 1000 }),
      );
    });
    req.on('error', reject);
    let i = 1;
    const pump = (): void => {
      while (i <= n) {
        let buf = '';
        for (let j = 0; j < 256 && i <= n; j++, i++)
          buf += `{${ids ? `"id":"d${i}",` : ''}"text":${JSON.stringify(textFor(i, chars))}}\n`;
        if (!req.write(buf)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

/** Downsamples (ms, bytes) pairs to at most `max` points, in MB. */
function series(samples: [number, number][], max = 60): [number, number][] {
  const step = Math.max(1, Math.ceil(samples.length / max));
  return samples.filter((_, i) => i % step === 0).map(([t, v]) => [Math.round(t / 100) / 10, mb(v)]);
}

export interface MemoryOutcome {
  figures: Figure[];
  series: Record<string, [number, number][]>;
  plateau?: boolean;
}

export async function runMemory(opts: {
  ingestDocs: number;
  streamDocs: number;
  workerDocs: number;
  docChars: number;
  /** Client ids on the ingested documents (duplicate-id tracking keeps them). Default true. */
  ids?: boolean;
}): Promise<MemoryOutcome> {
  const s = await scratch();
  const figures: Figure[] = [];
  const out: Record<string, [number, number][]> = {};
  let plateau: boolean | undefined;
  const env = { DATABASE_URL: s.url, REDIS_URL: s.redisUrl, QUEUE_PREFIX: s.prefix };
  let api: Awaited<ReturnType<typeof spawnDocbatch>> | undefined;
  let worker: Awaited<ReturnType<typeof spawnDocbatch>> | undefined;
  try {
    const { tenant, api_key } = await createTenantWithKey(s.db, 'bench');
    api = await spawnDocbatch('api', env);
    const apiPid = api.child.pid as number;

    if (opts.ingestDocs > 0) {
      const idle = rssOf(apiPid);
      const sampler = rssSampler(apiPid, 250);
      const up = await uploadNdjson(
        api.url,
        api_key,
        opts.ingestDocs,
        opts.docChars,
        'classification',
        opts.ids ?? true,
      );
      const samples = sampler.stop();
      if (up.status !== 201) throw new Error(`ingest: HTTP ${up.status} ${up.body.slice(0, 300)}`);
      const peak = Math.max(...samples.map(([, v]) => v));
      figures.push(
        figure(
          'memory',
          `API RSS peak, ingesting ${opts.ingestDocs} docs`,
          mb(peak),
          'MB',
          { name: 'API RSS at rest', value: mb(idle) },
          `upload ${up.seconds.toFixed(1)} s, ${Math.round(opts.ingestDocs / up.seconds)} docs/s`,
        ),
      );
      out.api_ingest = series(samples);
      // Free the space for what follows: the ingested batch is not processed here.
      await s.db.pool.query('TRUNCATE documents, batches CASCADE');
      await s.db.pool.query('VACUUM documents');
    }

    if (opts.streamDocs > 0) {
      const batchId = await seedFinishedBatch(s, tenant.id, opts.streamDocs);
      const idle = rssOf(apiPid);
      const sampler = rssSampler(apiPid, 250);
      const t0 = performance.now();
      const res = await fetch(`${api.url}/v1/batches/${batchId}/results`, {
        headers: { authorization: `Bearer ${api_key}` },
      });
      let lines = 0;
      for await (const chunk of res.body as AsyncIterable<Uint8Array>)
        for (let i = 0; i < chunk.length; i++) if (chunk[i] === 0x0a) lines++;
      const seconds = (performance.now() - t0) / 1000;
      const samples = sampler.stop();
      if (lines !== opts.streamDocs) throw new Error(`stream: ${lines} lines of ${opts.streamDocs}`);
      const peak = Math.max(...samples.map(([, v]) => v));
      figures.push(
        figure(
          'memory',
          `API RSS peak, streaming ${opts.streamDocs} results`,
          mb(peak),
          'MB',
          { name: 'API RSS at rest', value: mb(idle) },
          `stream ${seconds.toFixed(1)} s, ${Math.round(lines / seconds)} rows/s`,
        ),
      );
      out.api_stream = series(samples);
      await s.db.pool.query('TRUNCATE documents, batches CASCADE');
    }

    if (opts.workerDocs > 0) {
      worker = await spawnDocbatch('worker', { ...env, WORKER_TASKS: 'classification', TF_BACKEND: 'wasm' });
      const wPid = worker.child.pid as number;
      const idle = rssOf(wPid);
      const sampledFrom = Date.now(); // the sampler's clock: ms since about now
      const sampler = rssSampler(wPid, 1_000);
      // The same batch three times, one after the other: memory a batch leaves behind shows as a
      // higher peak in the next one. The first round also holds the warm-up (heaps growing to their
      // working size), so the third round is compared with the second (a run of a few seconds is
      // too short to judge within itself).
      const rounds: { seconds: number; from: number; to: number }[] = [];
      for (let round = 0; round < 3; round++) {
        const from = Date.now() - sampledFrom;
        const up = await uploadNdjson(api.url, api_key, opts.workerDocs, opts.docChars);
        if (up.status !== 201) throw new Error(`worker batch: HTTP ${up.status} ${up.body.slice(0, 300)}`);
        const batchId = (JSON.parse(up.body) as { id: string }).id;
        const t0 = performance.now();
        for (;;) {
          const r = await s.db.pool.query(`SELECT finished_at, completed_count FROM batches WHERE id = $1`, [
            batchId,
          ]);
          if (r.rows[0]?.finished_at) break;
          await new Promise((res) => setTimeout(res, 500));
        }
        rounds.push({ seconds: (performance.now() - t0) / 1000, from, to: Date.now() - sampledFrom });
      }
      const samples = sampler.stop();
      const inRound = (r: { from: number; to: number }): [number, number][] =>
        samples.filter(([t]) => t >= r.from && t <= r.to);
      const peakOf = (xs: [number, number][]): number => Math.max(...xs.map(([, v]) => v));
      const [first, second, third] = rounds.map((r) => peakOf(inRound(r))) as [number, number, number];
      plateau = third <= second * 1.1;
      const seconds = rounds[0]!.seconds;
      figures.push(
        figure(
          'memory',
          `worker RSS peak over a ${opts.workerDocs}-doc batch`,
          mb(first),
          'MB',
          { name: 'worker RSS at rest (models loaded)', value: mb(idle) },
          `${seconds.toFixed(0)} s, ${Math.round(opts.workerDocs / seconds)} docs/s; the same batch twice more: peaks ${mb(second)} and ${mb(third)} MB: ${plateau ? 'plateaus' : 'still growing'}`,
        ),
      );
      out.worker = series(samples);
    }
    return { figures, series: out, ...(plateau !== undefined ? { plateau } : {}) };
  } finally {
    await worker?.stop();
    await api?.stop();
    await s.close();
  }
}

if (isMain(__filename)) {
  runMain(async () => {
    const out = await runMemory({
      ingestDocs: flag('ingest-docs', 1_000_000),
      streamDocs: flag('stream-docs', 1_000_000),
      workerDocs: flag('worker-docs', 100_000),
      docChars: flag('doc-chars', 200),
      ids: !process.argv.includes('--no-ids'),
    });
    for (const f of out.figures)
      console.log(
        `${f.name}: ${f.value} ${f.unit} (at rest ${f.baseline?.value} ${f.unit})${f.note ? ` - ${f.note}` : ''}`,
      );
    console.log(JSON.stringify(out.series));
  });
}
