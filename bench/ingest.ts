/**
 * Ingest benchmark: the API's streaming NDJSON upload path against a raw Postgres COPY of the same
 * rows into the same table, in the same run, plus the API process's peak RSS during the upload.
 *
 *   node scripts/run-ts.js bench/ingest.ts [--docs 1000000] [--chars 2000] [--keep]
 *
 * Needs Postgres and Redis (DATABASE_URL's server, REDIS_URL). It creates a scratch database
 * `docbatch_bench_<random>` (migrated), runs the API as a child process (`src/main.ts api` through
 * the swc require hook, so the RSS includes the on-the-fly compiler), and drops the database at
 * the end unless `--keep`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { Redis } from 'ioredis';
import { Database } from '../src/core/db/database';
import { migrate } from '../src/core/db/migrator';
import { ensurePostgres } from '../src/core/services';
import { createTenantWithKey } from '../src/core/tenants';
import { copyEscape } from '../src/core/batches';

function flag(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const DOCS = flag('docs', 1_000_000);
const CHARS = flag('chars', 2_000);
const KEEP = process.argv.includes('--keep');
const BASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/docbatch';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const WORDS = (
  'the of and to in is was for on that with as by at from this are be or an it not which have has ' +
  'batch model document inference queue worker tensor result summary translation classifier spam ham ' +
  'throughput latency postgres redis stream chunk priority webhook tenant cursor window expire retry'
).split(' ');

/** Deterministic ~CHARS-character text for document `i`. */
function textFor(i: number): string {
  let x = (i * 2654435761) >>> 0;
  let s = '';
  while (s.length < CHARS) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += WORDS[x % WORDS.length] + (x % 17 === 0 ? '. ' : ' ');
  }
  return s.slice(0, CHARS);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function rssOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
}

const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MB`;

/** Raw COPY of DOCS rows into `documents` for a batch created by hand. */
async function rawCopy(url: string, tenantId: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const batchId = `bat_rawcopy${randomBytes(4).toString('hex')}`;
    const started = process.hrtime.bigint();
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO batches (id, tenant_id, task, model, completion_window, expires_at)
       VALUES ($1, $2, 'summarization', 'extractive-summarizer@1', '24h', now() + interval '1 day')`,
      [batchId, tenantId],
    );
    const copy = client.query(
      copyFrom('COPY documents (batch_id, seq, client_id, text, metadata) FROM STDIN'),
    );
    const done = new Promise<void>((resolve, reject) => {
      copy.on('finish', resolve);
      copy.on('error', reject);
    });
    let buf = '';
    for (let i = 1; i <= DOCS; i++) {
      buf += `${batchId}\t${i}\tdoc-${i}\t${copyEscape(textFor(i))}\t\\N\n`;
      if (buf.length > 256 * 1024 || i === DOCS) {
        if (!copy.write(buf)) await new Promise((r) => copy.once('drain', r));
        buf = '';
      }
    }
    copy.end();
    await done;
    await client.query('UPDATE batches SET total = $2, queued_count = $2 WHERE id = $1', [batchId, DOCS]);
    await client.query('COMMIT');
    return Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    await client.end();
  }
}

/** Streams DOCS NDJSON documents to the API; resolves with seconds and the response. */
function apiUpload(
  port: number,
  key: string,
  onTick: () => void,
): Promise<{ seconds: number; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: '/v1/batches?task=summarization',
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' },
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({
          seconds: Number(process.hrtime.bigint() - started) / 1e9,
          status: res.statusCode ?? 0,
          body,
        }),
      );
    });
    req.on('error', reject);
    let i = 1;
    const pump = (): void => {
      while (i <= DOCS) {
        let buf = '';
        for (let j = 0; j < 64 && i <= DOCS; j++, i++)
          buf += `{"id":"doc-${i}","text":${JSON.stringify(textFor(i))}}\n`;
        if (i % 8192 < 64) onTick();
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

async function main(): Promise<void> {
  const dbName = `docbatch_bench_${randomBytes(4).toString('hex')}`;
  const u = new URL(BASE_URL);
  u.pathname = `/${dbName}`;
  const url = u.toString();
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  await ensurePostgres(url);
  const db = new Database(url, 2);
  let child: ReturnType<typeof spawn> | undefined;
  try {
    await migrate(db.pool);
    const { tenant, api_key } = await createTenantWithKey(db, 'bench');
    console.log(
      `ingest benchmark: ${DOCS.toLocaleString('en')} documents of ${CHARS} characters (${mb(DOCS * (CHARS + 30))} of NDJSON)`,
    );

    const copySeconds = await rawCopy(url, tenant.id);
    await db.pool.query('TRUNCATE documents');
    await db.pool.query('DELETE FROM batches');
    await db.pool.query('VACUUM ANALYZE documents');

    const port = await freePort();
    const root = path.resolve(__dirname, '..');
    child = spawn(
      process.execPath,
      [path.join(root, 'scripts/run-ts.js'), path.join(root, 'src/main.ts'), 'api'],
      {
        env: {
          ...process.env,
          DATABASE_URL: url,
          REDIS_URL,
          QUEUE_PREFIX: prefix,
          PORT: String(port),
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
          TF_BACKEND: 'cpu',
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    const pid = child.pid as number;
    for (let i = 0; ; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (i > 600) throw new Error('API did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const idle = rssOf(pid);
    let peak = idle.rss;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssOf(pid).rss);
      } catch {
        // process gone
      }
    }, 100);
    const api = await apiUpload(port, api_key, () => undefined);
    clearInterval(sampler);
    const after = rssOf(pid);
    peak = Math.max(peak, after.hwm);
    if (api.status !== 201) throw new Error(`API upload failed: ${api.status} ${api.body.slice(0, 500)}`);
    const batch = JSON.parse(api.body) as { id: string; counts: { total: number } };
    if (batch.counts.total !== DOCS)
      throw new Error(`API stored ${batch.counts.total} documents, expected ${DOCS}`);

    const copyRate = DOCS / copySeconds;
    const apiRate = DOCS / api.seconds;
    console.log(
      `raw COPY          ${copySeconds.toFixed(1).padStart(7)} s  ${Math.round(copyRate).toLocaleString('en').padStart(9)} docs/s`,
    );
    console.log(
      `API NDJSON upload ${api.seconds.toFixed(1).padStart(7)} s  ${Math.round(apiRate).toLocaleString('en').padStart(9)} docs/s`,
    );
    console.log(`ratio API / raw COPY: ${((apiRate / copyRate) * 100).toFixed(0)}% (target >= 50%)`);
    console.log(`API process RSS: idle ${mb(idle.rss)}, peak ${mb(peak)} (target < 300 MB)`);
  } finally {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child?.once('exit', r));
    }
    await db.close();
    const redis = new Redis(REDIS_URL);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    if (!KEEP) {
      const admin = new Client({ connectionString: BASE_URL.replace(/\/[^/]*$/, '/postgres') });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
      await admin.end();
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
