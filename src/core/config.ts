import { z } from 'zod';
import { ConfigError } from './errors';
import { defaultIngestThreads } from './threads';
import { allowlistProblems } from './webhooks/url-policy';

/**
 * Configuration, parsed once per process from the environment. Every variable, its default and
 * unit is listed here and in the README's configuration table. Parsing fails with a message that
 * names the bad variable.
 */

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');
const csv = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

/** Variables every process reads. */
const common = {
  /** Postgres connection string. Default `postgresql://postgres@127.0.0.1:5432/docbatch`. */
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/docbatch'),
  /** Redis connection string. Default `redis://127.0.0.1:6379`. */
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** BullMQ key prefix. Default `docbatch`. */
  QUEUE_PREFIX: z.string().min(1).default('docbatch'),
  /** pino log level. Default `info`. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** A user model repository beside the bundled `models/` directory. Default: none. */
  MODELS_DIR: z.string().optional(),
  /**
   * Largest tenant model (POST /v1/models, a training job's result): total bytes of its files.
   * Default 268435456 (256 MiB).
   */
  MODEL_UPLOAD_MAX_BYTES: int(256 * 1024 ** 2, 1),
  /** Most files in one tenant model. Default 1000. */
  MODEL_UPLOAD_MAX_FILES: int(1_000, 1, 100_000),
  /** TensorFlow.js backend: auto tries tensorflow-gpu, tensorflow, wasm, cpu. Default `auto`. */
  TF_BACKEND: z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).default('auto'),
  /** Size of the Postgres connection pool per process. Default 10. */
  DB_POOL_SIZE: int(10, 1, 500),
  /** Documents per chunk job. Default 512. */
  CHUNK_SIZE: int(512, 1, 100_000),
  /** Attempts per chunk job before its documents are marked failed (set on the job by the API). Default 5. */
  CHUNK_ATTEMPTS: int(5, 1),
  /** Hosts or CIDRs webhooks may reach despite the SSRF rules (comma-separated). Default: none. */
  WEBHOOK_ALLOWLIST: csv.superRefine((entries, ctx) => {
    for (const message of allowlistProblems(entries)) ctx.addIssue({ code: 'custom', message });
  }),
  /** Webhook retry delays in seconds (comma-separated). Default `5,300,1800,7200,18000,36000,36000`. */
  WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .default('5,300,1800,7200,18000,36000,36000')
    .transform((v, ctx) => {
      const out = v.split(',').map((s) => Number(s.trim()));
      if (out.some((n) => !Number.isFinite(n) || n < 0)) {
        ctx.addIssue({ code: 'custom', message: 'must be comma-separated non-negative seconds' });
        return z.NEVER;
      }
      return out;
    }),
  /** Webhook request timeout, ms. Default 15000. */
  WEBHOOK_TIMEOUT_MS: int(15_000, 1),
  /**
   * Days a finished batch (completed, failed, cancelled, expired) is kept after it finished; the
   * workers' maintenance loop then deletes it with its documents and results (usage figures stay).
   * Decimals allowed (0.5 = 12 hours); 0 keeps batches forever. The API reports the resulting
   * `data_expires_at`, so give the API and the workers the same value. Default 29 (as Anthropic's
   * Message Batches results).
   */
  RETENTION_DAYS: z.coerce.number().min(0).max(36_500).default(29),
  /**
   * Tenants a process gives their own `tenant` label on the per-tenant metrics; further tenants are
   * counted as `_other` (bounds the series count). 0: every tenant is `_other`. Default 100.
   */
  METRICS_TENANT_LIMIT: int(100, 0, 100_000),
};

const api = z.object({
  ...common,
  /** HTTP port. Default 3000. */
  PORT: int(3000, 0, 65535),
  /** HTTP bind address. Default `0.0.0.0`. */
  HOST: z.string().default('0.0.0.0'),
  /** Admin dashboard token; without it the dashboard is disabled. Default: none. */
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Make bull-board read-only. Default false. */
  BULL_BOARD_READ_ONLY: bool(false),
  /** Maximum documents per batch. Default 1,000,000. */
  MAX_DOCS_PER_BATCH: int(1_000_000, 1),
  /** Maximum characters per document text. Default 100,000. */
  MAX_DOC_CHARS: int(100_000, 1),
  /** Maximum request body, bytes, for the NDJSON form. Default 4 GiB. */
  MAX_BODY_BYTES: int(4 * 1024 ** 3, 1),
  /**
   * Largest inflation of a gzip NDJSON body: decompressed bytes may be at most this many times the
   * compressed bytes read so far (past GZIP_RATIO_FLOOR_BYTES). Ordinary NDJSON text compresses 3-20x.
   * Default 100.
   */
  GZIP_MAX_RATIO: int(100, 1),
  /** Decompressed bytes a gzip body may always reach before GZIP_MAX_RATIO applies. Default 16 MiB. */
  GZIP_RATIO_FLOOR_BYTES: int(16 * 1024 ** 2, 0),
  /**
   * Uploads one tenant may ingest at once in one API process (its further uploads wait for a slot, then
   * 429). Default: half of the process's upload slots (DB_POOL_SIZE - 2), at least 1.
   */
  UPLOAD_SLOTS_PER_TENANT: int(0, 0),
  /**
   * Threads that parse and check the documents of streamed uploads, so the API's event loop stays free
   * for other requests during upload bursts (issue 16). 0: the event loop does it. Default: cores - 1,
   * from 1 to 4.
   */
  INGEST_THREADS: int(defaultIngestThreads(), 0, 64),
  /**
   * Linux nice value of the ingest threads (per thread; the rest of the process stays at its own): when
   * the cores are busy, the event loop's reads come before the parsing of uploads. 0 keeps the process's.
   * Default 10.
   */
  INGEST_THREAD_NICE: int(10, 0, 19),
  /** An upload whose body sends nothing for this long is cut off with 408 REQUEST_TIMEOUT. Default 30 s. */
  UPLOAD_IDLE_TIMEOUT_MS: int(30_000, 1),
  /**
   * An upload whose body has averaged fewer bytes per second than this (over the time spent waiting for
   * the client, once UPLOAD_RATE_GRACE_MS have been waited) is cut off with 408. 0 disables. Default 10 KiB/s.
   */
  UPLOAD_MIN_BYTES_PER_SECOND: int(10_240, 0),
  /** Waiting time before UPLOAD_MIN_BYTES_PER_SECOND applies. Default 10 s. */
  UPLOAD_RATE_GRACE_MS: int(10_000, 0),
  /**
   * JSON-form body bytes one API process holds in memory at once; further bodies wait to be read (then
   * 429). Default 128 MiB. Streamed NDJSON uploads are not counted: they never sit in memory.
   */
  JSON_BODY_MEMORY_BYTES: int(128 * 1024 ** 2, 1),
  /** Maximum request body, bytes, for the JSON form (it is parsed in memory). Default 64 MiB. */
  MAX_JSON_BODY_BYTES: int(64 * 1024 ** 2, 1),
  /** Model uploads (POST /v1/models) one API process reads and checks at once; more get 429. Default 2. */
  MODEL_UPLOADS_AT_ONCE: int(2, 1, 64),
  /** Submissions (batches and training jobs) allowed per tenant per minute. Default 60. */
  RATE_LIMIT_PER_MINUTE: int(60, 1),
  /** Batches a tenant may have queued or running at once. Default 100. */
  MAX_ACTIVE_BATCHES: int(100, 1),
  /** How long an Idempotency-Key is remembered, hours. Default 24. */
  IDEMPOTENCY_TTL_HOURS: int(24, 1),
  /** Labelled examples one training upload may have (the worker holds them in memory to train). Default 200,000. */
  MAX_TRAINING_EXAMPLES: int(200_000, 1),
  /** Request body limit of a training upload, bytes (streamed into Postgres, never whole in memory). Default 256 MiB. */
  MAX_TRAINING_BODY_BYTES: int(256 * 1024 ** 2, 1),
  /** Every label of a training upload needs at least this many examples (else 400 INSUFFICIENT_TRAINING_DATA). Default 5. */
  TRAINING_MIN_EXAMPLES_PER_LABEL: int(5, 1),
  /** Training jobs a tenant may have queued or running at once (else 429 TOO_MANY_ACTIVE_TRAINING_JOBS). Default 2. */
  MAX_ACTIVE_TRAINING_JOBS: int(2, 1),
});

const worker = z.object({
  ...common,
  /** Chunk jobs a worker processes at once (their documents are batched together). Default 8. */
  WORKER_CONCURRENCY: int(8, 1, 256),
  /** Token budget of one tensor batch (documents x padded length). Default 16384. */
  TENSOR_BATCH_MAX_TOKENS: int(16_384, 1),
  /** Maximum documents in one tensor batch. Default 256. */
  TENSOR_BATCH_MAX_SIZE: int(256, 1),
  /** How long a partial tensor batch may wait for more documents, ms. Default 20. */
  MAX_QUEUE_DELAY_MS: int(20, 0),
  /** Encoded documents in the batching pool at most; documents of further claimed jobs wait their turn. Default 2048. */
  TENSOR_POOL_MAX_DOCS: int(2_048, 1),
  /**
   * Where a worker keeps the files of tenant models it runs (one directory per model version and
   * content hash). Default `<os temp dir>/docbatch-model-cache`.
   */
  MODEL_CACHE_DIR: z.string().default(''),
  /** Tokenize in a thread of its own per task, beside the inference thread. Default true. */
  TOKENIZER_THREAD: bool(true),
  /** How often the reconciler looks for documents no job covers and for expired batches, ms. Default 30000. */
  RECONCILE_INTERVAL_MS: int(30_000, 100),
  /** Webhook attempts a worker sends at once. Default 8. */
  WEBHOOK_CONCURRENCY: int(8, 1, 256),
  /** How often the webhook relay looks for due deliveries in Postgres, ms. Default 1000. */
  WEBHOOK_RELAY_INTERVAL_MS: int(1_000, 10),
  /** Longest receiver `Retry-After` honoured before a webhook retry, seconds. Default 3600. */
  WEBHOOK_RETRY_AFTER_MAX_S: int(3_600, 0),
  /** Port for the worker's own /metrics and /healthz (0 = no server). Default 0. */
  WORKER_METRICS_PORT: int(0, 0, 65535),
  /** BullMQ lock of an active chunk job, ms; renewed every half of it. A killed worker's jobs are retried after it. Default 30000. */
  WORKER_LOCK_DURATION_MS: int(30_000, 500),
  /** How often a worker checks for stalled jobs (locks of killed workers that expired), ms. Default 15000. */
  WORKER_STALLED_INTERVAL_MS: int(15_000, 200),
  /** Tasks whose chunk queues this worker pulls (comma-separated). Default: every task. */
  WORKER_TASKS: csv,
  /** Pull training jobs (one at a time, in a thread of its own). Default true. */
  WORKER_TRAINING: bool(true),
  /**
   * Nice value of the training thread (Linux: per thread; 0-19, higher yields the CPU to the
   * inference threads of the same and other processes). Default 10.
   */
  TRAINING_NICE: int(10, 0, 19),
  /**
   * Least time between two checkpoints a training job writes to Postgres (the training state after an
   * epoch, a few MB), ms; a job taken over after its worker died resumes from the latest. 0: after
   * every epoch. Default 10000.
   */
  TRAINING_CHECKPOINT_INTERVAL_MS: int(10_000, 0),
  /**
   * Worker's Postgres queries: one without an answer after this is abandoned and its connection
   * discarded (a silent connection: partition, dropped NAT flow), ms; 0 = wait forever. Keep it
   * above DB_STATEMENT_TIMEOUT_MS. Default 125000.
   */
  DB_QUERY_TIMEOUT_MS: int(125_000, 0),
  /** Worker's Postgres `statement_timeout` (the server cancels a longer statement), ms; 0 = none. Default 120000. */
  DB_STATEMENT_TIMEOUT_MS: int(120_000, 0),
  /**
   * Worker's Postgres `idle_in_transaction_session_timeout`: the server ends a session left in a
   * transaction by a worker it no longer hears from, releasing its row locks, ms; 0 = never. Default 30000.
   */
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: int(30_000, 0),
});

export const configSchemas = { api, worker } as const;
export type ApiConfig = z.infer<typeof api>;
export type WorkerConfig = z.infer<typeof worker>;
export type ProcessKind = keyof typeof configSchemas;

/** Parse the environment for a process kind; throws ConfigError naming each bad variable. */
export function loadConfig<K extends ProcessKind>(
  kind: K,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<(typeof configSchemas)[K]> {
  const schema = configSchemas[kind];
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const res = schema.safeParse(input);
  if (!res.success) {
    const lines = res.error.issues.map((i) => {
      const name = String(i.path[0] ?? '?');
      return `${name}=${JSON.stringify(env[name] ?? '')}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  return res.data as z.infer<(typeof configSchemas)[K]>;
}
