import type { BatchStatus, ResultStatus } from '@docbatch/sdk';
import type { CliContext } from '../cli-context';
import { clientFor, log, out } from '../cli-context';
import { describeBatch, finishedCount, formatCount, table } from '../format';
import { UsageError } from '../usage-error';
import { downloadResults } from './download-results';
import { followBatch } from './follow-batch';
import { reportEnd } from './submit';

const BATCH_STATUSES: readonly BatchStatus[] = [
  'queued',
  'running',
  'completed',
  'failed',
  'cancelling',
  'cancelled',
  'expired',
];
const RESULT_STATUSES: readonly ResultStatus[] = ['completed', 'failed', 'cancelled', 'expired'];

function needId(id: string | undefined, command: string): string {
  if (!id) throw new UsageError(`${command} needs a batch id`);
  return id;
}

/** `docbatch status ID [--wait]`. */
export async function status(ctx: CliContext, id: string | undefined, wait: boolean): Promise<number> {
  const client = clientFor(ctx);
  let batch = await client.getBatch(needId(id, 'status'));
  if (wait) {
    batch = await followBatch(ctx, client, batch);
    if (ctx.json) out(ctx, JSON.stringify(batch));
    else out(ctx, describeBatch(batch));
    return reportEnd(ctx, batch);
  }
  out(ctx, ctx.json ? JSON.stringify(batch) : describeBatch(batch));
  return 0;
}

/** `docbatch list [--status S] [--limit N] [--all]`. */
export async function list(
  ctx: CliContext,
  args: { status?: string; limit?: string; all?: boolean },
): Promise<number> {
  if (args.status !== undefined && !BATCH_STATUSES.includes(args.status as BatchStatus)) {
    throw new UsageError(
      `unknown --status ${JSON.stringify(args.status)} (expected ${BATCH_STATUSES.join(', ')})`,
    );
  }
  const limit = args.limit === undefined ? 20 : Number(args.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive integer');
  const client = clientFor(ctx);
  const pages = client.listBatches({
    status: args.status as BatchStatus | undefined,
    limit: Math.min(limit, 100),
  });
  const batches = await pages.toArray(args.all ? Infinity : limit);
  if (ctx.json) {
    out(ctx, JSON.stringify(batches));
    return 0;
  }
  if (batches.length === 0) {
    log(ctx, 'no batches');
    return 0;
  }
  out(
    ctx,
    table(
      ['ID', 'STATUS', 'TASK', 'MODEL', 'DONE', 'FAILED', 'CREATED'],
      batches.map((b) => [
        b.id,
        b.status,
        b.task,
        b.model,
        `${formatCount(finishedCount(b))}/${formatCount(b.counts.total)}`,
        formatCount(b.counts.failed),
        b.created_at,
      ]),
    ),
  );
  return 0;
}

/** `docbatch cancel ID` and `docbatch retry ID`. */
export async function cancelOrRetry(
  ctx: CliContext,
  action: 'cancel' | 'retry',
  id: string | undefined,
): Promise<number> {
  const client = clientFor(ctx);
  const batchId = needId(id, action);
  const batch = action === 'cancel' ? await client.cancelBatch(batchId) : await client.retryBatch(batchId);
  if (ctx.json) out(ctx, JSON.stringify(batch));
  else {
    out(ctx, `${batch.id} ${batch.status}`);
    if (action === 'retry') log(ctx, `${formatCount(batch.counts.queued)} documents queued again`);
  }
  return 0;
}

/**
 * `docbatch delete ID`: deletes a finished batch (a queued, running or cancelling one is
 * BATCH_NOT_FINISHED, exit 1). Prints `ID deleted` (`--json`: `{"id", "object", "deleted"}`).
 */
export async function deleteBatch(ctx: CliContext, id: string | undefined): Promise<number> {
  const client = clientFor(ctx);
  const deleted = await client.deleteBatch(needId(id, 'delete'));
  out(ctx, ctx.json ? JSON.stringify(deleted) : `${deleted.id} deleted`);
  return 0;
}

/** `docbatch results ID [--status S] [--out FILE]`. */
export async function results(
  ctx: CliContext,
  id: string | undefined,
  args: { status?: string; out?: string; pageSize?: string },
): Promise<number> {
  const pageSize = args.pageSize === undefined ? undefined : Number(args.pageSize);
  if (pageSize !== undefined && (!Number.isInteger(pageSize) || pageSize < 1)) {
    throw new UsageError('--page-size must be a positive integer');
  }
  if (args.status !== undefined && !RESULT_STATUSES.includes(args.status as ResultStatus)) {
    throw new UsageError(
      `unknown --status ${JSON.stringify(args.status)} (expected ${RESULT_STATUSES.join(', ')})`,
    );
  }
  const client = clientFor(ctx);
  const batchId = needId(id, 'results');
  const total = args.out && ctx.interactive ? finishedCount(await client.getBatch(batchId)) : undefined;
  await downloadResults(ctx, client, batchId, {
    outFile: args.out,
    status: args.status as ResultStatus | undefined,
    total: args.status ? undefined : total,
    pageSize,
  });
  return 0;
}

/** `docbatch models`. */
export async function models(ctx: CliContext): Promise<number> {
  const list = await clientFor(ctx).listModels();
  if (ctx.json) {
    out(ctx, JSON.stringify(list));
    return 0;
  }
  out(
    ctx,
    table(
      ['ID', 'TASK', 'DEFAULT', 'OWNER', 'BACKEND', 'LABELS'],
      list.map((m) => [
        m.id,
        m.task,
        m.default ? 'yes' : '',
        m.owned_by,
        m.backend,
        (m.labels ?? []).join(','),
      ]),
    ),
  );
  return 0;
}
