import type { Pool } from 'pg';
import type { ChunkJob } from '../queue/catalog';
import type { Logger } from '../logger';
import type { TaskOptions } from '../models/types';
import { countTenantUsage } from '../usage/usage-metrics';
import { codePoints } from '../usage/usage-record';
import {
  claimChunks,
  failWholeBatch,
  readBatches,
  settleDocuments,
  settleStatusFor,
  unclaimDocuments,
  writeOutcomes,
} from './chunk-store';
import type { BatchRow, ChunkRange, ClaimResult, DocOutcome } from './chunk-store';
import { DynamicBatcher } from './dynamic-batcher';
import type { BatcherItem } from './dynamic-batcher';
import type { InferenceClient } from './inference-client';
import type { DocError, EncodeReply } from './inference-protocol';
import { modelLoadError } from './inference-errors';
import { modelErrorCode } from '../models/model-errors';
import { TenantModelCache } from './tenant-model-cache';
import {
  documentsProcessed,
  inferenceSeconds,
  tensorBatchPadding,
  tensorBatchSize,
} from './pipeline-metrics';
import { paddingRatio } from './tensor-batcher';

/**
 * The inference pipeline of one worker process:
 *
 * 1. **claim**: chunk jobs that arrive together are claimed in one transaction (their unfinished
 *    documents become `running`, texts are read by the same UPDATE ... RETURNING);
 * 2. **encode**: the inference thread tokenizes the texts and keeps the encoded documents;
 * 3. **batch**: the {@link DynamicBatcher} pools documents of every job that share a model and
 *    options, and cuts length-bucketed tensor batches by token budget and size;
 * 4. **check + run**: before each tensor batch the batches' status is read; documents of a
 *    cancelling or expired batch are settled instead of run; a model that cannot run fails the
 *    batches of the tensor batch (not retried, see run-safe.ts);
 * 5. **write back**: one transaction per tensor batch writes every result (`UPDATE ... FROM unnest`)
 *    and finalizes the batches. A job resolves when all its documents are written.
 */

export interface PipelineLimits {
  /** Token budget of one tensor batch (documents x padded length). */
  maxTokens: number;
  /** Documents per tensor batch at most. */
  maxSize: number;
  /** How long a partial tensor batch waits for more documents, ms. */
  maxQueueDelayMs: number;
  /**
   * Encoded documents in the batching pool at most (default 2048). Documents of further jobs wait
   * their turn in arrival order, already claimed and tokenized, and join the pool as it empties:
   * the jobs of a pool tend to finish together (their longest documents run last), and without
   * such a reserve the model would wait for the next jobs' claim and tokenization each time.
   */
  poolDocs?: number;
}

/** What a chunk job did, returned as the BullMQ job result. */
export interface ChunkSummary {
  /** Documents claimed (unfinished when the job started). */
  claimed: number;
  completed: number;
  failed: number;
  cancelled: number;
  expired: number;
}

/** Figures for heartbeats and the dashboard. */
export interface PipelineStats {
  lastTensorBatchSize: number;
  lastPaddingRatio: number;
  /** When the last tensor batch was dispatched (ms epoch; 0 = none yet). */
  lastAt: number;
}

interface JobRun {
  batchId: string;
  task: string;
  modelId: string;
  options: TaskOptions;
  remaining: number;
  settled: boolean;
  summary: ChunkSummary;
  resolve(s: ChunkSummary): void;
  reject(err: Error): void;
}

interface Item extends BatcherItem {
  handle: number;
  seq: number;
  run: JobRun;
  /** Code points of the text (usage). */
  characters: number;
}

interface PendingWrite {
  outcomes: DocOutcome[];
  resolve(): void;
  reject(err: unknown): void;
}

/** Batch status reads younger than this are reused by the next tensor batches, ms. */
const STATUS_TTL_MS = 50;
/** Outcomes written in one transaction, at most. */
const MAX_WRITE = 4_096;

interface PendingClaim {
  range: ChunkRange;
  resolve(r: ClaimResult): void;
  reject(err: unknown): void;
}

/** JSON with sorted keys, so equal options give equal batching groups. */
function stableStringify(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
    .join(',')}}`;
}

/**
 * The job of a chunk that was waiting in the reserve when the pipeline drained (graceful stop):
 * none of its documents ran, they were given back (`queued`), and the job should go back to the
 * queue for another worker instead of holding up the stop.
 */
export class ChunkReleasedError extends Error {
  constructor(readonly batchId: string) {
    super('chunk handed back to the queue: the worker is stopping');
    this.name = 'ChunkReleasedError';
  }
}

const emptySummary = (): ChunkSummary => ({ claimed: 0, completed: 0, failed: 0, cancelled: 0, expired: 0 });

export class ChunkPipeline {
  private nextHandle = 1;
  private readonly batcher: DynamicBatcher<Item>;
  private readonly poolDocs: number;
  /** Encoded documents waiting to join the pool, in arrival order (see PipelineLimits.poolDocs). */
  private staged: { group: string; items: Item[] }[] = [];
  private stagedCount = 0;
  /** Set by `drain`: jobs that have not reached the pool are handed back instead of run. */
  private draining = false;
  private readonly statusRefresh = new Map<string, Promise<void>>();
  private claims: PendingClaim[] = [];
  private claiming = false;
  private writes: PendingWrite[] = [];
  private writing = false;
  private pendingWrites = 0;
  private writesIdle: (() => void)[] = [];
  private readonly statusCache = new Map<string, { row: BatchRow | null; at: number }>();
  readonly stats: PipelineStats = { lastTensorBatchSize: 0, lastPaddingRatio: 0, lastAt: 0 };

  constructor(
    private readonly pool: Pool,
    private readonly inference: InferenceClient,
    limits: PipelineLimits,
    private readonly logger: Logger,
    /** Called with the number of documents a write-back finished (for throughput figures). */
    private readonly onFinished: (n: number) => void = () => undefined,
    /** Claims of one document before it fails with TOO_MANY_ATTEMPTS. Default: unlimited. */
    private readonly maxDocumentAttempts = Number.MAX_SAFE_INTEGER,
    /** Local copies of the tenant models this worker runs. Default: under the OS temp directory. */
    private readonly tenantModels: TenantModelCache = new TenantModelCache(pool),
  ) {
    this.batcher = new DynamicBatcher<Item>(limits, (group, items) => this.runTensorBatch(group, items));
    this.poolDocs = limits.poolDocs ?? 2_048;
  }

  /** Documents encoded and waiting for a tensor batch. */
  get pendingDocuments(): number {
    return this.batcher.pending + this.stagedCount;
  }

  /** Moves staged documents into the pool while it holds fewer than `poolDocs`. */
  private admit(): void {
    while (this.staged.length > 0 && this.batcher.pending < this.poolDocs) {
      const next = this.staged.shift()!;
      this.stagedCount -= next.items.length;
      this.batcher.add(next.group, next.items);
    }
  }

  /** Takes staged documents that match out of the reserve. */
  private unstage(match: (it: Item) => boolean): Item[] {
    const out: Item[] = [];
    for (const st of this.staged) {
      const keep: Item[] = [];
      for (const it of st.items) (match(it) ? out : keep).push(it);
      st.items = keep;
    }
    this.staged = this.staged.filter((st) => st.items.length > 0);
    this.stagedCount -= out.length;
    return out;
  }

  /** Processes one chunk job; resolves when every one of its documents is written. */
  async process(job: ChunkJob): Promise<ChunkSummary> {
    // Stopping: a job that has not started goes back to the queue untouched.
    if (this.draining) throw new ChunkReleasedError(job.batchId);
    const claim = await this.claim({ batchId: job.batchId, seqFrom: job.seqFrom, seqTo: job.seqTo });
    if (claim.kind === 'settled') {
      const summary = emptySummary();
      const status = settleStatusFor(claim.batch);
      if (status && claim.settled > 0) {
        summary[status] = claim.settled;
        documentsProcessed.inc({ task: claim.batch?.task ?? 'unknown', outcome: status }, claim.settled);
      }
      return summary;
    }
    const { batch, docs } = claim;
    const summary = { ...emptySummary(), claimed: docs.length };
    if (docs.length === 0) return summary;
    const handles = Int32Array.from(docs, () => this.nextHandle++);
    let reply: EncodeReply;
    try {
      // A tenant model: its files come from Postgres into the local cache first (a deleted one fails the batch).
      const adopt = batch.tenant_model_id
        ? await this.tenantModels.materialise(batch.tenant_model_id).catch((err: unknown) => {
            if (!modelErrorCode(err)) throw err;
            return modelLoadError(batch.model, err);
          })
        : undefined;
      reply =
        adopt && 'code' in adopt
          ? { ok: false, modelError: adopt }
          : await this.inference.encode(
              batch.task,
              batch.model,
              batch.options ?? {},
              handles,
              docs.map((d) => d.text),
              adopt,
            );
    } catch (err) {
      this.inference.release(handles.slice());
      throw err;
    }
    if (!reply.ok) {
      this.logger.error(
        { batchId: batch.id, model: batch.model, error: reply.modelError },
        'model cannot load: batch failed',
      );
      await failWholeBatch(this.pool, batch.id, reply.modelError);
      documentsProcessed.inc({ task: batch.task, outcome: 'failed' }, docs.length);
      summary.failed = docs.length;
      return summary;
    }
    const rejected: DocOutcome[] = [];
    const run: JobRun = {
      batchId: batch.id,
      task: batch.task,
      modelId: reply.modelId,
      options: batch.options ?? {},
      remaining: 0,
      settled: false,
      summary,
      resolve: () => undefined,
      reject: () => undefined,
    };
    const items: Item[] = [];
    docs.forEach((d, i) => {
      const error = reply.errors[i];
      const characters = codePoints(d.text);
      if (error) rejected.push({ batchId: batch.id, seq: d.seq, error, characters });
      else items.push({ handle: handles[i]!, seq: d.seq, length: reply.lengths[i]!, run, characters });
    });
    if (rejected.length > 0) {
      try {
        await this.write(rejected);
      } catch (err) {
        this.inference.release(Int32Array.from(items, (it) => it.handle));
        throw err;
      }
      summary.failed += rejected.length;
      documentsProcessed.inc({ task: batch.task, outcome: 'failed' }, rejected.length);
      this.onFinished(rejected.length);
    }
    if (items.length === 0) return summary;
    run.remaining = items.length;
    const done = new Promise<ChunkSummary>((resolve, reject) => {
      run.resolve = resolve;
      run.reject = reject;
    });
    const group = `${reply.modelId}\u0000${stableStringify(run.options)}`;
    // Claimed and tokenized while the worker began to stop: hand it back rather than run it.
    if (this.draining && (await this.giveBack(run, items))) return done;
    this.staged.push({ group, items });
    this.stagedCount += items.length;
    this.admit();
    return done;
  }

  /** Sends out partial tensor batches without waiting and resolves when nothing is left (graceful stop). */
  async drain(): Promise<void> {
    this.draining = true;
    await this.releaseStaged();
    this.batcher.flush();
    await this.batcher.idle();
    this.batcher.stop();
    if (this.pendingWrites > 0) await new Promise<void>((resolve) => this.writesIdle.push(resolve));
  }

  /**
   * Hands the jobs of the reserve back (their documents have not run): their documents return to
   * `queued` and their jobs reject with {@link ChunkReleasedError}. When that write fails, the
   * jobs run here instead, as before the stop.
   */
  private async releaseStaged(): Promise<void> {
    const staged = this.staged.splice(0);
    this.stagedCount = 0;
    let released = 0;
    for (const st of staged) {
      const runs = new Map<JobRun, Item[]>();
      for (const it of st.items) {
        if (it.run.settled) continue;
        runs.set(it.run, [...(runs.get(it.run) ?? []), it]);
      }
      for (const [run, items] of runs) {
        if (await this.giveBack(run, items)) released++;
        else this.batcher.add(st.group, items);
      }
    }
    if (released > 0)
      this.logger.info({ chunks: released }, 'stopping: reserved chunks handed back to the queue');
  }

  /**
   * Gives a job's claimed, unrun documents back (`queued`, attempt undone) and rejects the job
   * with {@link ChunkReleasedError}. False (and nothing changed) when Postgres cannot be written.
   */
  private async giveBack(run: JobRun, items: Item[]): Promise<boolean> {
    try {
      await unclaimDocuments(
        this.pool,
        run.batchId,
        items.map((it) => it.seq),
      );
    } catch (err) {
      this.logger.warn(
        { batchId: run.batchId, err: { message: (err as Error).message } },
        'could not give a claimed chunk back; running it before the stop',
      );
      return false;
    }
    this.inference.release(Int32Array.from(items, (it) => it.handle));
    run.settled = true;
    run.reject(new ChunkReleasedError(run.batchId));
    return true;
  }

  /** Claims chunks in groups: while one claim query runs, the next ones queue and go together. */
  private claim(range: ChunkRange): Promise<ClaimResult> {
    return new Promise((resolve, reject) => {
      this.claims.push({ range, resolve, reject });
      if (!this.claiming) setImmediate(() => void this.flushClaims());
    });
  }

  private async flushClaims(): Promise<void> {
    if (this.claiming || this.claims.length === 0) return;
    this.claiming = true;
    const group = this.claims;
    this.claims = [];
    try {
      const results = await claimChunks(
        this.pool,
        group.map((g) => g.range),
        this.maxDocumentAttempts,
      );
      group.forEach((g, i) => g.resolve(results[i]!));
    } catch (err) {
      for (const g of group) g.reject(err);
    } finally {
      this.claiming = false;
      if (this.claims.length > 0) setImmediate(() => void this.flushClaims());
    }
  }

  /**
   * Write-behind: outcomes of tensor batches that finish while a write-back transaction runs are
   * written together by the next one (single flight), so small tensor batches do not cost one
   * transaction each. Resolves when the outcomes are committed.
   */
  private write(outcomes: DocOutcome[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.writes.push({ outcomes, resolve, reject });
      if (!this.writing) void this.flushWrites();
    });
  }

  private async flushWrites(): Promise<void> {
    if (this.writing || this.writes.length === 0) return;
    this.writing = true;
    const group: PendingWrite[] = [];
    let n = 0;
    while (
      this.writes.length > 0 &&
      (group.length === 0 || n + this.writes[0]!.outcomes.length <= MAX_WRITE)
    ) {
      const w = this.writes.shift()!;
      group.push(w);
      n += w.outcomes.length;
    }
    try {
      await writeOutcomes(
        this.pool,
        group.flatMap((g) => g.outcomes),
        countTenantUsage,
      );
      for (const g of group) g.resolve();
    } catch (err) {
      for (const g of group) g.reject(err);
    } finally {
      this.writing = false;
      if (this.writes.length > 0) void this.flushWrites();
    }
  }

  /**
   * Batch rows for the check before a tensor batch. A batch never read is read now; a read older
   * than STATUS_TTL_MS is used once more while a fresh one is fetched behind it, so the model does
   * not wait for Postgres between tensor batches (a cancel is seen one read later: within about
   * STATUS_TTL_MS plus one query).
   */
  private async batchStatus(ids: string[]): Promise<Map<string, BatchRow>> {
    const now = Date.now();
    // Never read, or so old that refreshes behind it must be failing: read it now.
    const missing = ids.filter((id) => {
      const c = this.statusCache.get(id);
      return !c || now - c.at > 20 * STATUS_TTL_MS;
    });
    const stale = ids.filter((id) => {
      const c = this.statusCache.get(id);
      return (
        c && now - c.at > STATUS_TTL_MS && now - c.at <= 20 * STATUS_TTL_MS && !this.statusRefresh.has(id)
      );
    });
    if (stale.length > 0) {
      const refresh = this.readStatus(stale).catch((err: unknown) =>
        this.logger.warn({ err: (err as Error).message }, 'batch status refresh failed'),
      );
      for (const id of stale) this.statusRefresh.set(id, refresh);
      void refresh.finally(() => {
        for (const id of stale) if (this.statusRefresh.get(id) === refresh) this.statusRefresh.delete(id);
      });
    }
    if (missing.length > 0) await this.readStatus(missing);
    const out = new Map<string, BatchRow>();
    for (const id of ids) {
      const row = this.statusCache.get(id)?.row;
      if (row) out.set(id, row);
    }
    return out;
  }

  private async readStatus(ids: string[]): Promise<void> {
    const fresh = await readBatches(this.pool, ids);
    if (this.statusCache.size > 10_000) this.statusCache.clear();
    for (const id of ids) this.statusCache.set(id, { row: fresh.get(id) ?? null, at: Date.now() });
  }

  /** Checks the batches, runs one tensor batch in the inference thread and writes its results. */
  private async runTensorBatch(_group: string, all: Item[]): Promise<void> {
    // A batch just left the pool: staged documents may take its place (not re-entrantly).
    queueMicrotask(() => this.admit());
    const dead = all.filter((it) => it.run.settled);
    if (dead.length > 0) this.inference.release(Int32Array.from(dead, (it) => it.handle));
    let items = all.filter((it) => !it.run.settled);
    if (items.length === 0) return;

    let batches: Map<string, BatchRow>;
    try {
      batches = await this.batchStatus([...new Set(items.map((it) => it.run.batchId))]);
    } catch (err) {
      this.inference.release(Int32Array.from(items, (it) => it.handle));
      this.failRuns(items, err as Error);
      return;
    }
    const stopped = new Set<string>();
    for (const id of new Set(items.map((it) => it.run.batchId))) {
      const b = batches.get(id);
      if (!b || !(b.status === 'queued' || b.status === 'running') || b.expired) stopped.add(id);
    }
    if (stopped.size > 0) {
      for (const id of stopped) {
        await this.stopBatch(
          batches.get(id) ?? null,
          id,
          items.filter((it) => it.run.batchId === id),
        );
      }
      items = items.filter((it) => !stopped.has(it.run.batchId) && !it.run.settled);
      if (items.length === 0) return;
    }

    const first = items[0]!.run;
    const task = first.task;
    const ratio = paddingRatio(items);
    this.stats.lastTensorBatchSize = items.length;
    this.stats.lastPaddingRatio = ratio;
    this.stats.lastAt = Date.now();
    tensorBatchSize.observe({ task }, items.length);
    tensorBatchPadding.observe({ task }, ratio);

    let reply;
    try {
      reply = await this.inference.run(
        first.modelId,
        first.options,
        Int32Array.from(items, (it) => it.handle),
      );
    } catch (err) {
      this.failRuns(items, err as Error);
      return;
    }
    inferenceSeconds.observe({ task }, reply.seconds);
    if (reply.modelError) {
      await this.failModel(items, reply.modelError);
      return;
    }
    const outcomes: DocOutcome[] = items.map((it, i) => {
      const r = reply.results[i]!;
      const usage = { characters: it.characters, tokens: it.length };
      return 'error' in r
        ? { batchId: it.run.batchId, seq: it.seq, error: r.error, ...usage }
        : { batchId: it.run.batchId, seq: it.seq, result: r.result, ...usage };
    });
    // The write goes on behind the next tensor batch: the model thread does not wait for Postgres.
    this.pendingWrites++;
    void this.write(outcomes)
      .then(
        () => {
          let completed = 0;
          outcomes.forEach((o, i) => {
            const run = items[i]!.run;
            if (o.error) run.summary.failed++;
            else {
              run.summary.completed++;
              completed++;
            }
            this.finishOne(run);
          });
          if (completed > 0) documentsProcessed.inc({ task, outcome: 'completed' }, completed);
          if (outcomes.length > completed)
            documentsProcessed.inc({ task, outcome: 'failed' }, outcomes.length - completed);
          this.onFinished(outcomes.length);
        },
        (err: unknown) => this.failRuns(items, err as Error),
      )
      .finally(() => {
        this.pendingWrites--;
        if (this.pendingWrites === 0) for (const w of this.writesIdle.splice(0)) w();
      });
  }

  private finishOne(run: JobRun, n = 1): void {
    run.remaining -= n;
    if (run.remaining <= 0 && !run.settled) {
      run.settled = true;
      run.resolve(run.summary);
    }
  }

  /**
   * A batch stopped being runnable (cancelling, expired, failed by another worker): its waiting
   * documents leave the pool, are settled (`cancelled` / `expired`) and their jobs resolve.
   */
  private async stopBatch(batch: BatchRow | null, batchId: string, items: Item[]): Promise<void> {
    const waiting = [
      ...this.batcher.remove((it) => it.run.batchId === batchId),
      ...this.unstage((it) => it.run.batchId === batchId),
    ];
    const all = [...items, ...waiting].filter((it) => !it.run.settled);
    this.inference.release(Int32Array.from(all, (it) => it.handle));
    const status = settleStatusFor(batch);
    if (status && all.length > 0) {
      try {
        await settleDocuments(
          this.pool,
          batchId,
          all.map((it) => it.seq),
          status,
        );
      } catch (err) {
        this.failRuns(all, err as Error);
        return;
      }
      documentsProcessed.inc({ task: all[0]!.run.task, outcome: status }, all.length);
      this.onFinished(all.length);
    }
    this.logger.info(
      { batchId, status: batch?.status ?? 'missing', documents: all.length },
      'batch stopped: documents not run',
    );
    for (const it of all) {
      if (status) it.run.summary[status]++;
      this.finishOne(it.run);
    }
  }

  /**
   * The model cannot run (see run-safe.ts): every batch of the tensor batch fails as a whole with
   * `error` (its unfinished documents too), without a retry: the same model would fail the same
   * way. Their documents waiting in the pool or the reserve leave it, and their jobs resolve now.
   * When Postgres cannot be written, the jobs fail instead (retried, as any infrastructure error).
   */
  private async failModel(items: Item[], error: DocError): Promise<void> {
    for (const batchId of new Set(items.map((it) => it.run.batchId))) {
      const ran = items.filter((it) => it.run.batchId === batchId);
      let failedNow: boolean;
      try {
        failedNow = await failWholeBatch(this.pool, batchId, error);
      } catch (err) {
        this.failRuns(ran, err as Error);
        continue;
      }
      const cached = this.statusCache.get(batchId);
      if (cached?.row)
        this.statusCache.set(batchId, { row: { ...cached.row, status: 'failed' }, at: Date.now() });
      const waiting = [
        ...this.batcher.remove((it) => it.run.batchId === batchId),
        ...this.unstage((it) => it.run.batchId === batchId),
      ];
      if (waiting.length > 0) this.inference.release(Int32Array.from(waiting, (it) => it.handle));
      const open = [...ran, ...waiting].filter((it) => !it.run.settled);
      if (failedNow) {
        this.logger.error(
          { batchId, model: ran[0]!.run.modelId, error, documents: open.length },
          'model cannot run: batch failed',
        );
      }
      if (open.length > 0) {
        documentsProcessed.inc({ task: open[0]!.run.task, outcome: 'failed' }, open.length);
        this.onFinished(open.length);
      }
      for (const it of open) it.run.summary.failed++;
      for (const run of new Set(open.map((it) => it.run))) {
        run.settled = true;
        run.resolve(run.summary);
      }
    }
  }

  /** Fails the jobs of `items` (they will be retried); their other waiting documents leave the pool. */
  private failRuns(items: Item[], err: Error): void {
    const runs = new Set(items.map((it) => it.run));
    const waiting = [
      ...this.batcher.remove((it) => runs.has(it.run)),
      ...this.unstage((it) => runs.has(it.run)),
    ];
    if (waiting.length > 0) this.inference.release(Int32Array.from(waiting, (it) => it.handle));
    for (const run of runs) {
      if (run.settled) continue;
      run.settled = true;
      run.reject(err);
    }
  }
}
