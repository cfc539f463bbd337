import { bucketTensorBatches } from './tensor-batcher';
import type { Sized, TensorBatchLimits } from './tensor-batcher';

/**
 * Triton-style dynamic batcher. Encoded documents of many chunk jobs wait in one pool per group
 * (same model and options: they may share a `runBatch` call). The pool is sorted by length and cut
 * into tensor batches by {@link TensorBatchLimits}; a full batch is dispatched at once, a partial
 * one when its oldest document has waited `maxQueueDelayMs` (or at once while flushing).
 *
 * At most `maxInflight` batches are dispatched and not yet settled, so the model thread always has
 * the next batch queued while the pool keeps growing for better buckets.
 */

export interface BatcherItem extends Sized {
  /** When the item joined the pool (ms, `Date.now()`). Set by `add`. */
  enqueuedAt?: number;
}

export interface DynamicBatcherOptions extends TensorBatchLimits {
  /** How long a partial batch may wait for more documents, ms. */
  maxQueueDelayMs: number;
  /** Dispatched batches not yet settled, at most. Default 2. */
  maxInflight?: number;
}

export type Dispatch<T> = (group: string, items: T[]) => Promise<void>;

export class DynamicBatcher<T extends BatcherItem> {
  private readonly pools = new Map<string, T[]>();
  private inflight = 0;
  private timer?: NodeJS.Timeout;
  private timerAt = 0;
  private flushing = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly options: DynamicBatcherOptions,
    private readonly dispatch: Dispatch<T>,
  ) {}

  /** Documents waiting (not dispatched). */
  get pending(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.length;
    return n;
  }

  /** Adds encoded documents to a group's pool. */
  add(group: string, items: T[]): void {
    if (items.length === 0) return;
    const now = Date.now();
    for (const it of items) it.enqueuedAt ??= now;
    const pool = this.pools.get(group);
    if (pool) pool.push(...items);
    else this.pools.set(group, [...items]);
    this.pump();
  }

  /** Removes and returns every waiting item that matches (e.g. the documents of a cancelled batch). */
  remove(match: (item: T) => boolean): T[] {
    const removed: T[] = [];
    for (const [group, pool] of this.pools) {
      const keep: T[] = [];
      for (const it of pool) (match(it) ? removed : keep).push(it);
      if (keep.length === 0) this.pools.delete(group);
      else this.pools.set(group, keep);
    }
    if (removed.length > 0) this.pump();
    return removed;
  }

  /** From now on, partial batches go out without waiting (graceful stop). */
  flush(): void {
    this.flushing = true;
    this.pump();
  }

  /** Resolves when nothing waits and nothing is in flight. */
  idle(): Promise<void> {
    if (this.pending === 0 && this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Clears the timer (the pools stay; call `remove` to take them). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private pump(): void {
    const maxInflight = this.options.maxInflight ?? 2;
    while (this.inflight < maxInflight) {
      const next = this.next();
      if (!next) break;
      this.inflight++;
      const [group, items] = next;
      void this.dispatch(group, items)
        .catch(() => undefined)
        .finally(() => {
          this.inflight--;
          this.pump();
        });
    }
    this.schedule();
    if (this.pending === 0 && this.inflight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Picks the ready batch holding the oldest document, and takes its items out of the pool. */
  private next(): [string, T[]] | undefined {
    const now = Date.now();
    let best: { group: string; batch: T[]; oldest: number } | undefined;
    for (const [group, pool] of this.pools) {
      const batches = bucketTensorBatches(pool, this.options);
      batches.forEach((batch, i) => {
        const oldest = Math.min(...batch.map((it) => it.enqueuedAt ?? now));
        const last = i === batches.length - 1;
        const ready =
          !last ||
          this.flushing ||
          batch.length >= this.options.maxSize ||
          now - oldest >= this.options.maxQueueDelayMs;
        if (ready && (!best || oldest < best.oldest)) best = { group, batch, oldest };
      });
    }
    if (!best) return undefined;
    const taken = new Set(best.batch);
    const rest = (this.pools.get(best.group) ?? []).filter((it) => !taken.has(it));
    if (rest.length === 0) this.pools.delete(best.group);
    else this.pools.set(best.group, rest);
    return [best.group, best.batch];
  }

  /** Arms a timer for the moment the oldest partial batch becomes due. */
  private schedule(): void {
    // With every slot busy, the next settle pumps again; a timer now would only spin.
    if (this.pending === 0 || this.inflight >= (this.options.maxInflight ?? 2)) {
      this.stop();
      return;
    }
    let due = Infinity;
    for (const pool of this.pools.values()) {
      for (const it of pool) due = Math.min(due, (it.enqueuedAt ?? 0) + this.options.maxQueueDelayMs);
    }
    if (!Number.isFinite(due)) return;
    if (this.timer && this.timerAt <= due) return;
    this.stop();
    this.timerAt = due;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(0, due - Date.now()),
    );
  }
}
