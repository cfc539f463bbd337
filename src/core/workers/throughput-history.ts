import type { Redis } from 'ioredis';

/**
 * Throughput history for the ops dashboard's charts: documents finished per minute and task, kept
 * in Redis for {@link HISTORY_DAYS} days. Every worker counts what it finishes in memory and adds
 * the counts at each heartbeat (one pipelined HINCRBY per minute and task it has news for), so the
 * cost is a few Redis commands per worker every few seconds, whatever the number of documents.
 *
 * Layout: one hash per UTC day, `<prefix>:throughput:<YYYY-MM-DD>`, fields `<epoch minute>:<task>`
 * (at most 1,440 x tasks fields), expiring {@link HISTORY_DAYS} + 1 days after its last write.
 */

/** How long the history is kept (and the longest range the dashboard offers). */
export const HISTORY_DAYS = 7;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Distinct (minute, task) counts a worker holds while Redis is unreachable: about 2 days of 3 tasks. */
const MAX_PENDING = 10_000;

export function throughputKey(prefix: string, day: number): string {
  return `${prefix}:throughput:${new Date(day * DAY_MS).toISOString().slice(0, 10)}`;
}

/** A worker's not yet written counts. */
export class ThroughputHistory {
  /** `<epoch minute>:<task>` -> documents. */
  private pending = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  add(task: string, n: number): void {
    if (n > 0) this.addField(`${Math.floor(this.now() / MINUTE_MS)}:${task}`, n);
  }

  /** Adds the pending counts to Redis; on failure they stay pending for the next flush. */
  async flush(redis: Redis, prefix: string): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const multi = redis.multi();
    const days = new Set<number>();
    for (const [field, n] of batch) {
      const day = Math.floor((Number(field.split(':')[0]) * MINUTE_MS) / DAY_MS);
      days.add(day);
      multi.hincrby(throughputKey(prefix, day), field, n);
    }
    for (const day of days) {
      multi.pexpireat(throughputKey(prefix, day), (day + 1 + HISTORY_DAYS) * DAY_MS);
    }
    try {
      const res = await multi.exec();
      if (!res || res.some(([err]) => err)) throw new Error('throughput history write refused');
    } catch (err) {
      // Not counted (MULTI is all or nothing): keep them for the next heartbeat.
      for (const [field, n] of batch) this.addField(field, n);
      throw err;
    }
  }

  private addField(field: string, n: number): void {
    if (!this.pending.has(field) && this.pending.size >= MAX_PENDING) return;
    this.pending.set(field, (this.pending.get(field) ?? 0) + n);
  }
}

export interface ThroughputBin {
  /** Start of the bin, ISO-8601. */
  at: string;
  /** Documents finished in the bin, all tasks. */
  documents: number;
  /** Documents finished in the bin per task (every task of `tasks`, zeros included). */
  by_task: Record<string, number>;
}

export interface ThroughputSeries {
  from: string;
  to: string;
  bin_seconds: number;
  tasks: string[];
  bins: ThroughputBin[];
}

/**
 * The history from `to - spanMs` to `to`, in bins of `binMs` (a multiple of a minute), oldest
 * first. Reads one hash per day covered.
 */
export async function readThroughput(
  redis: Redis,
  prefix: string,
  o: { to: number; spanMs: number; binMs: number; tasks: readonly string[] },
): Promise<ThroughputSeries> {
  const binMs = Math.max(MINUTE_MS, Math.round(o.binMs / MINUTE_MS) * MINUTE_MS);
  const end = Math.ceil(o.to / binMs) * binMs;
  const nBins = Math.max(1, Math.ceil(o.spanMs / binMs));
  const start = end - nBins * binMs;
  const firstDay = Math.floor(start / DAY_MS);
  const lastDay = Math.floor((end - 1) / DAY_MS);
  const pipe = redis.pipeline();
  for (let d = firstDay; d <= lastDay; d++) pipe.hgetall(throughputKey(prefix, d));
  const res = (await pipe.exec()) ?? [];
  const bins: ThroughputBin[] = Array.from({ length: nBins }, (_, i) => ({
    at: new Date(start + i * binMs).toISOString(),
    documents: 0,
    by_task: Object.fromEntries(o.tasks.map((t) => [t, 0])),
  }));
  for (const [err, value] of res) {
    if (err) throw err;
    for (const [field, raw] of Object.entries((value ?? {}) as Record<string, string>)) {
      const sep = field.indexOf(':');
      const minute = Number(field.slice(0, sep));
      const task = field.slice(sep + 1);
      const n = Number(raw);
      if (!Number.isFinite(minute) || !Number.isFinite(n)) continue;
      const i = Math.floor((minute * MINUTE_MS - start) / binMs);
      const bin = bins[i];
      if (!bin) continue;
      bin.documents += n;
      if (task in bin.by_task) bin.by_task[task] = (bin.by_task[task] ?? 0) + n;
    }
  }
  return {
    from: new Date(start).toISOString(),
    to: new Date(end).toISOString(),
    bin_seconds: binMs / 1000,
    tasks: [...o.tasks],
    bins,
  };
}
