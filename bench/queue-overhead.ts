/**
 * Queue benchmark: the platform's chunk enqueue (`enqueueChunks`: zod-checked payloads, priorities,
 * deterministic job ids, addBulk in slices) against raw BullMQ `addBulk` of plain jobs, and the
 * rate at which BullMQ hands chunk jobs to a no-op Worker (the ceiling the queue puts on the
 * pipeline, in chunk jobs/s and, times CHUNK_SIZE, documents/s).
 *
 *   node scripts/run-ts.js bench/queue-overhead.ts [--jobs 20000]
 *
 * Uses its own queue prefix on REDIS_URL, deleted at the end.
 */
import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { chunkQueueName } from '../src/core/queue/catalog';
import { chunkRanges, enqueueChunks } from '../src/core/queue/enqueue-chunks';
import { QueueSet } from '../src/core/queue/queues';
import { createRedis } from '../src/core/redis';
import { figure, flag, isMain, runMain } from './scratch';
import type { Figure } from './scratch';

async function drainWith(
  name: string,
  prefix: string,
  url: string,
  n: number,
  concurrency: number,
): Promise<number> {
  let done = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const worker = new Worker(
      name,
      async () => {
        if (++done === n) setImmediate(() => void worker.close().then(() => resolve()));
      },
      { connection: createRedis(url, 'worker'), prefix, concurrency },
    );
  });
  return n / ((performance.now() - t0) / 1000);
}

export async function runQueueOverhead(jobs: number, chunkSize = 512): Promise<Figure[]> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const conn = createRedis(url, 'client');
  const raw = new Queue('raw', { connection: conn, prefix });
  const queues = new QueueSet(createRedis(url, 'client'), prefix);
  try {
    // Raw: addBulk of plain jobs, 1,000 per call.
    let t0 = performance.now();
    for (let i = 0; i < jobs; i += 1_000)
      await raw.addBulk(
        Array.from({ length: Math.min(1_000, jobs - i) }, (_, j) => ({
          name: 'chunk',
          data: {
            batchId: 'bat_raw',
            chunk: i + j,
            seqFrom: (i + j) * chunkSize + 1,
            seqTo: (i + j + 1) * chunkSize,
          },
        })),
      );
    const rawAdd = jobs / ((performance.now() - t0) / 1000);
    // Platform: the API's enqueue of the chunk jobs of one batch of jobs x chunkSize documents.
    t0 = performance.now();
    await enqueueChunks(queues, chunkRanges(jobs * chunkSize, chunkSize), {
      batchId: 'bat_platform',
      task: 'classification',
      priority: 5,
      attempts: 5,
    });
    const platformAdd = jobs / ((performance.now() - t0) / 1000);
    const rawProcess = await drainWith('raw', prefix, url, jobs, 4);
    const platformProcess = await drainWith(chunkQueueName('classification'), prefix, url, jobs, 4);
    const add = { name: 'raw BullMQ addBulk', value: rawAdd };
    const proc = { name: 'raw BullMQ no-op Worker (plain jobs)', value: rawProcess };
    return [
      figure('queue', 'raw BullMQ addBulk (baseline)', rawAdd, 'jobs/s'),
      figure('queue', 'platform enqueueChunks', platformAdd, 'jobs/s', add, `${jobs} chunk jobs`),
      figure('queue', 'raw BullMQ no-op Worker, concurrency 4 (baseline)', rawProcess, 'jobs/s'),
      figure(
        'queue',
        'chunk jobs through a no-op Worker (priorities, job ids)',
        platformProcess,
        'jobs/s',
        proc,
        `ceiling of ${Math.round(platformProcess * chunkSize).toLocaleString('en-US')} docs/s at CHUNK_SIZE ${chunkSize}`,
      ),
    ];
  } finally {
    await raw.close();
    await queues.close();
    conn.disconnect();
    const redis = new Redis(url);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
}

if (isMain(__filename)) {
  runMain(async () => {
    for (const f of await runQueueOverhead(flag('jobs', 20_000)))
      console.log(`${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? ` (ratio ${f.ratio})` : ''}`);
  });
}
