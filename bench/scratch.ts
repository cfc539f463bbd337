/**
 * Shared plumbing of the benchmarks in this folder (run-all, results-streaming, webhook-fanout,
 * memory): flags, a scratch database and queue prefix removed at the end, the API as a child
 * process, RSS sampling from /proc, and the figure format written to bench/results/.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Client } from 'pg';
import { Redis } from 'ioredis';
import { Database } from '../src/core/db/database';
import { migrate } from '../src/core/db/migrator';
import { ensurePostgres } from '../src/core/services';

import { ROOT } from './paths';

export { isMain, ROOT } from './paths';

/** `--name value` from argv, else env `BENCH_<NAME>` (dashes as underscores), else `def`. */
export function flag(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const env = process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  const raw = i >= 0 ? process.argv[i + 1] : env;
  const n = Number(raw);
  return raw !== undefined && Number.isFinite(n) ? n : def;
}

/** One measured figure, as a ratio against a baseline measured in the same run. */
export interface Figure {
  bench: string;
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  /** value / baseline.value. */
  ratio?: number;
  note?: string;
}

export function figure(
  bench: string,
  name: string,
  value: number,
  unit: string,
  baseline?: { name: string; value: number },
  note?: string,
): Figure {
  return {
    bench,
    name,
    value: Math.round(value * 100) / 100,
    unit,
    ...(baseline
      ? {
          baseline: { name: baseline.name, value: Math.round(baseline.value * 100) / 100 },
          ratio: Math.round((value / baseline.value) * 1000) / 1000,
        }
      : {}),
    ...(note ? { note } : {}),
  };
}

export const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;

export interface Scratch {
  url: string;
  redisUrl: string;
  prefix: string;
  db: Database;
  close(): Promise<void>;
}

/** A fresh migrated database `docbatch_bench_<random>` and queue prefix; `close()` removes both. */
export async function scratch(): Promise<Scratch> {
  const base = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/docbatch';
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const name = `docbatch_bench_${randomBytes(4).toString('hex')}`;
  const u = new URL(base);
  u.pathname = `/${name}`;
  const url = u.toString();
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  await ensurePostgres(url);
  const db = new Database(url, 4);
  await migrate(db.pool);
  return {
    url,
    redisUrl,
    prefix,
    db,
    async close() {
      await db.close();
      const redis = new Redis(redisUrl);
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
      redis.disconnect();
      const admin = new URL(base);
      admin.pathname = '/postgres';
      const c = new Client({ connectionString: admin.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** `docbatch <kind>` as a child process (TypeScript sources through scripts/run-ts.js). */
export async function spawnDocbatch(
  kind: 'api' | 'worker',
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      // e.g. BENCH_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the children.
      ...(process.env.BENCH_CHILD_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      path.join(ROOT, 'scripts/run-ts.js'),
      path.join(ROOT, 'src/main.ts'),
      kind,
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        LOG_LEVEL: 'error',
        TF_BACKEND: kind === 'api' ? 'cpu' : 'wasm',
        PORT: String(port),
        HOST: '127.0.0.1',
        RATE_LIMIT_PER_MINUTE: '100000',
        MAX_ACTIVE_BATCHES: '100000',
        ...env,
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`docbatch ${kind} did not start in 120 s`)), 120_000);
    child.on('message', (m: { ready?: string }) => {
      if (m?.ready === kind) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`docbatch ${kind} exited (${code}) before it was ready`));
    });
  });
  return {
    child,
    url,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Resident set size of a process, bytes (from /proc). */
export function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every `everyMs` until `stop()`; keeps (elapsed ms, bytes) pairs. */
export function rssSampler(
  pid: number,
  everyMs = 250,
): { samples: [number, number][]; stop(): [number, number][] } {
  const t0 = Date.now();
  const samples: [number, number][] = [];
  const take = (): void => {
    const v = rssOf(pid);
    if (v > 0) samples.push([Date.now() - t0, v]);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

export function runMain(fn: () => Promise<unknown>): void {
  fn().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
