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

/** Process ids of the Postgres backends connected to `database`. */
export async function backendPids(pool: Pool, database: string): Promise<number[]> {
  const r = await pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1`, [
    database,
  ]);
  return r.rows.map((row) => row.pid);
}

export interface CpuSnapshot {
  threads: Map<number, number>;
  postgres: Map<number, number>;
}

/** Snapshot of this process's threads and of the given Postgres backends (0 if not local). */
export function snapshot(pgPids: number[]): CpuSnapshot {
  return {
    threads: threadSeconds(),
    postgres: new Map(pgPids.map((pid) => [pid, statSeconds(`/proc/${pid}/stat`)])),
  };
}

export interface CpuSpent {
  /** This process's main thread. */
  main: number;
  /** Other threads of this process, busiest first (worker threads, libuv pool, GC helpers). */
  threads: number[];
  /** Postgres backends of the database, summed. */
  postgres: number;
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
  for (const [pid, s] of after.postgres) postgres += s - (before.postgres.get(pid) ?? 0);
  return { main, threads: threads.sort((a, b) => b - a), postgres };
}
