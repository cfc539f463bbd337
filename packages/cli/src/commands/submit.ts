import type { Batch, CreateBatchParams, ResultStatus, Task } from '@docbatch/sdk';
import type { CliContext } from '../cli-context';
import { clientFor, log, out } from '../cli-context';
import { EXIT } from '../exit-codes';
import { formatBytes, formatCount } from '../format';
import { openInput } from '../inputs/read-documents';
import { ProgressBar } from '../progress-bar';
import { UsageError } from '../usage-error';
import { downloadResults } from './download-results';
import { followBatch } from './follow-batch';

const TASKS: readonly Task[] = ['classification', 'summarization', 'translation'];

export interface SubmitArgs {
  file: string;
  task?: string;
  model?: string;
  option?: string[];
  metadata?: string[];
  webhook?: string;
  priority?: string;
  completionWindow?: string;
  format?: string;
  textColumn?: string;
  idColumn?: string;
  metadataColumns?: string;
  wait?: boolean;
  out?: string;
}

/** Parses repeated `k=v` flags; a value that is valid JSON (number, boolean, object...) is parsed, else kept as a string. */
export function parseKeyValues(
  flag: string,
  pairs: string[] | undefined,
): Record<string, unknown> | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${flag} expects key=value, got ${JSON.stringify(pair)}`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string
    }
    out[key] = value;
  }
  return out;
}

function parsePriority(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 10)
    throw new UsageError('--priority must be an integer from 1 to 10');
  return n;
}

/** `docbatch submit FILE --task T ...`: uploads (streaming) and optionally waits and downloads. */
export async function submit(ctx: CliContext, args: SubmitArgs): Promise<number> {
  if (!args.task) throw new UsageError('submit needs --task (classification, summarization or translation)');
  if (!TASKS.includes(args.task as Task)) {
    throw new UsageError(`unknown --task ${JSON.stringify(args.task)} (expected ${TASKS.join(', ')})`);
  }
  if (args.out && !args.wait)
    throw new UsageError('--out needs --wait (or use `docbatch results ID --out FILE`)');
  const priority = parsePriority(args.priority);
  const options = parseKeyValues('option', args.option);
  const metadata = parseKeyValues('metadata', args.metadata);
  const input = openInput(args.file, {
    format: args.format,
    textColumn: args.textColumn,
    idColumn: args.idColumn,
    metadataColumns: args.metadataColumns
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  });
  const client = clientFor(ctx);

  const params: CreateBatchParams = {
    task: args.task as Task,
    model: args.model,
    options,
    metadata,
    webhook_url: args.webhook,
    priority,
    completion_window: args.completionWindow,
    documents: input.replayable ? () => input.open() : input.open(),
  };
  const sizeText = input.size === undefined ? '' : ` (${formatBytes(input.size)})`;
  const bar = ctx.interactive
    ? new ProgressBar(ctx.stderr, { label: 'uploading', unit: 'bytes', total: input.size })
    : undefined;
  if (!bar) log(ctx, `uploading ${args.file}${sizeText} as ${input.format}`);
  const started = Date.now();
  let batch: Batch;
  try {
    batch = await client.createBatch(params, {
      onUploadProgress: () => bar?.update(input.bytesRead()),
    });
  } finally {
    bar?.finish();
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  log(
    ctx,
    `created ${batch.id}: ${formatCount(batch.counts.total)} documents, task ${batch.task}, model ${batch.model} (upload ${secs}s)`,
  );

  if (!args.wait) {
    if (ctx.json) out(ctx, JSON.stringify(batch));
    else out(ctx, batch.id);
    return 0;
  }
  const final = await followBatch(ctx, client, batch);
  if (args.out) {
    await downloadResults(ctx, client, final.id, { outFile: args.out, total: finishedTotal(final) });
  }
  if (ctx.json) out(ctx, JSON.stringify(final));
  else out(ctx, final.id);
  return reportEnd(ctx, final);
}

function finishedTotal(b: Batch): number {
  return b.counts.completed + b.counts.failed + b.counts.cancelled + b.counts.expired;
}

/** Logs how a batch ended and returns the exit code (see {@link EXIT}). */
export function reportEnd(ctx: CliContext, batch: Batch): number {
  const c = batch.counts;
  if (batch.status === 'completed') {
    const unfinished = c.total - c.completed;
    if (unfinished === 0) {
      log(ctx, `batch ${batch.id} completed: ${formatCount(c.completed)} documents`);
      return EXIT.OK;
    }
    const failed: ResultStatus = 'failed';
    log(
      ctx,
      `batch ${batch.id} completed: ${formatCount(c.completed)} ok, ${formatCount(c.failed)} failed ` +
        `(see \`docbatch results ${batch.id} --status ${failed}\`)`,
    );
    return EXIT.DOCUMENTS_FAILED;
  }
  const cause = batch.error ? `: ${batch.error.code}: ${batch.error.message}` : '';
  log(ctx, `batch ${batch.id} ended ${batch.status}${cause}`);
  return EXIT.FAILED;
}
