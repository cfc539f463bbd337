/**
 * CPU time accounting from /proc (Linux), for benchmarks that want to say where a run's CPU went:
 * the threads of this process (main thread = its pid) and the Postgres backends serving one
 * database (local server only). CPU seconds, unlike wall time, hold up on a loaded machine.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Pool } from 'pg';

const HZ = 100; // USER_HZ on Linux

/** utime + stime of a /proc stat file, seconds; 0 when it cannot be read. */
function statSeconds(file: string): number {
  try {
    const s = readFileSync(file, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / HZ;
  } catch {
    return 0;
  }
}

/** CPU seconds by thread id of this process. */
export function threadSeconds(): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      out.set(Number(tid), statSeconds(`/proc/self/task/${tid}/stat`));
    }
  } catch {
    // not Linux
  }
  return out;
}

/** Process ids of the Postgres backends connected to `database`, with their `backend_type`. */
export async function backendPids(pool: Pool, database: string): Promise<BackendPid[]> {
  const r = await pool.query<{ pid: number; type: string }>(
    `SELECT pid, coalesce(backend_type, '') AS type FROM pg_stat_activity WHERE datname = $1`,
    [database],
  );
  return r.rows.map((row) => ({ pid: row.pid, type: row.type }));
}

export interface BackendPid {
  pid: number;
  /** `client backend`, `autovacuum worker`, ... */
  type: string;
}

export interface CpuSnapshot {
  threads: Map<number, number>;
  postgres: Map<number, number>;
  /** backend_type by pid. */
  types: Map<number, string>;
}

/** Snapshot of this process's threads and of the given Postgres backends (0 if not local). */
export function snapshot(backends: BackendPid[]): CpuSnapshot {
  return {
    threads: threadSeconds(),
    postgres: new Map(backends.map((b) => [b.pid, statSeconds(`/proc/${b.pid}/stat`)])),
    types: new Map(backends.map((b) => [b.pid, b.type])),
  };
}

export interface CpuSpent {
  /** This process's main thread. */
  main: number;
  /** Other threads of this process, busiest first (worker threads, libuv pool, GC helpers). */
  threads: number[];
  /** Postgres backends of the database, summed. */
  postgres: number;
  /** The same by backend_type (client backends, autovacuum workers). */
  postgresByType: Record<string, number>;
}

/** CPU seconds spent between two snapshots (backends are those of `after`). */
export function spent(before: CpuSnapshot, after: CpuSnapshot): CpuSpent {
  const threads: number[] = [];
  let main = 0;
  for (const [tid, s] of after.threads) {
    const d = s - (before.threads.get(tid) ?? 0);
    if (tid === process.pid) main = d;
    else if (d > 0) threads.push(d);
  }
  let postgres = 0;
  const postgresByType: Record<string, number> = {};
  for (const [pid, s] of after.postgres) {
    const d = s - (before.postgres.get(pid) ?? 0);
    postgres += d;
    const type = after.types.get(pid) ?? '';
    postgresByType[type] = (postgresByType[type] ?? 0) + d;
  }
  return { main, threads: threads.sort((a, b) => b - a), postgres, postgresByType };
}
