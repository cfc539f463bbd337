import { DocBatchError } from '@docbatch/sdk';
import type { DocBatchClient, TrainingJob, TrainingJobStatus } from '@docbatch/sdk';
import type { CliContext } from '../cli-context';
import { clientFor, log, out } from '../cli-context';
import { EXIT } from '../exit-codes';
import { formatBytes, formatCount, formatDuration, table } from '../format';
import { openExamples } from '../inputs/read-examples';
import { ProgressBar } from '../progress-bar';
import { UsageError } from '../usage-error';

/**
 * `docbatch train FILE --name NAME ...` (create a training job from NDJSON or CSV, optionally wait
 * for it) and `docbatch training-jobs list|get|cancel`.
 */

export interface TrainArgs {
  file: string;
  name?: string;
  recipe?: string;
  epochs?: string;
  validationSplit?: string;
  seed?: string;
  hyperparameters?: string;
  webhook?: string;
  format?: string;
  textColumn?: string;
  labelColumn?: string;
  wait?: boolean;
}

function numberFlag(flag: string, v: string | undefined, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(
      `--${flag} must be ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`,
    );
  }
  return n;
}

/** The hyperparameters of the flags: `--hyperparameters JSON`, then --epochs/--validation-split/--seed over it. */
export function trainingHyperparameters(args: TrainArgs): Record<string, unknown> | undefined {
  let hp: Record<string, unknown> = {};
  if (args.hyperparameters !== undefined) {
    let v: unknown;
    try {
      v = JSON.parse(args.hyperparameters);
    } catch {
      throw new UsageError('--hyperparameters must be a JSON object, e.g. \'{"batch_size": 64}\'');
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new UsageError('--hyperparameters must be a JSON object');
    }
    hp = v as Record<string, unknown>;
  }
  const epochs = numberFlag('epochs', args.epochs, true);
  const split = numberFlag('validation-split', args.validationSplit, false);
  const seed = numberFlag('seed', args.seed, true);
  if (epochs !== undefined) hp.epochs = epochs;
  if (split !== undefined) hp.validation_split = split;
  if (seed !== undefined) hp.seed = seed;
  return Object.keys(hp).length > 0 ? hp : undefined;
}

/** One line of progress: `running, epoch 4/12, loss 0.381, val. accuracy 81.2%, ETA 5s`. */
export function trainingProgressLine(job: TrainingJob): string {
  const p = job.progress;
  const parts: string[] = [
    job.status + (job.cancel_requested && job.status === 'running' ? ' (cancelling)' : ''),
  ];
  if (p) {
    parts.push(`epoch ${p.epoch}/${p.epochs}`);
    if (typeof p.loss === 'number') parts.push(`loss ${p.loss.toFixed(3)}`);
    if (typeof p.val_accuracy === 'number') parts.push(`val. accuracy ${(p.val_accuracy * 100).toFixed(1)}%`);
    if (job.status === 'running' && typeof p.eta_seconds === 'number')
      parts.push(`ETA ${formatDuration(p.eta_seconds)}`);
  }
  if (job.model) parts.push(`model ${job.model}`);
  if (job.error) parts.push(`${job.error.code}: ${job.error.message}`);
  return `${job.id} ${parts.join(', ')}`;
}

function describeJob(job: TrainingJob): string {
  const m = job.metrics as Record<string, unknown> | null;
  const lines = [
    `${job.id}  ${job.status}${job.cancel_requested && job.status === 'running' ? ' (cancel requested)' : ''}`,
    `  model:     ${job.model ?? `${job.model_name} (next version)`}`,
    `  recipe:    ${job.recipe} ${JSON.stringify(job.hyperparameters)}`,
    `  examples:  ${formatCount(job.examples.total)} (${Object.entries(job.examples.labels)
      .map(([l, n]) => `${l} ${formatCount(n)}`)
      .join(', ')})`,
  ];
  if (job.progress) lines.push(`  progress:  ${trainingProgressLine(job).slice(job.id.length + 1)}`);
  if (m && typeof m.val_accuracy === 'number') {
    const nb =
      typeof m.naive_bayes_val_accuracy === 'number'
        ? `, naive Bayes ${(m.naive_bayes_val_accuracy * 100).toFixed(1)}%`
        : '';
    lines.push(
      `  held out:  accuracy ${(m.val_accuracy * 100).toFixed(1)}% on ${String(m.validation_size)} examples${nb}`,
    );
  }
  if (job.error) lines.push(`  error:     ${job.error.code}: ${job.error.message}`);
  lines.push(`  backend:   ${job.backend ?? '-'}, attempts ${job.attempts}`);
  lines.push(`  created:   ${job.created_at}${job.finished_at ? `, finished ${job.finished_at}` : ''}`);
  return lines.join('\n');
}

/** Follows a training job to its end, logging each epoch (a bar over epochs on a terminal). */
async function followJob(ctx: CliContext, client: DocBatchClient, job: TrainingJob): Promise<TrainingJob> {
  const controller = new AbortController();
  const onSigint = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  const bar = ctx.interactive ? new ProgressBar(ctx.stderr, { label: 'training', unit: 'docs' }) : undefined;
  let last = '';
  try {
    const final = await client.waitForTrainingJob(job.id, {
      signal: controller.signal,
      onProgress: (j) => {
        const line = trainingProgressLine(j);
        if (bar && j.progress) {
          bar.update(j.progress.epoch, {
            total: j.progress.epochs,
            eta: j.progress.eta_seconds ?? undefined,
            suffix: line.slice(j.id.length + 1),
          });
        } else if (!bar && line !== last) {
          log(ctx, line);
        }
        last = line;
      },
    });
    bar?.finish(final.status);
    return final;
  } catch (err) {
    bar?.finish();
    throw err;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** Exit code of an ended job: 0 succeeded, 1 otherwise. */
function reportJobEnd(ctx: CliContext, job: TrainingJob): number {
  if (job.status === 'succeeded') {
    const m = job.metrics as Record<string, unknown> | null;
    const acc =
      m && typeof m.val_accuracy === 'number'
        ? `, held-out accuracy ${(m.val_accuracy * 100).toFixed(1)}%`
        : '';
    log(ctx, `training job ${job.id} succeeded: model ${job.model}${acc}`);
    log(ctx, `use it: docbatch submit FILE --task classification --model ${job.model}`);
    return EXIT.OK;
  }
  const cause = job.error ? `: ${job.error.code}: ${job.error.message}` : '';
  log(ctx, `training job ${job.id} ended ${job.status}${cause}`);
  return EXIT.FAILED;
}

export async function train(ctx: CliContext, args: TrainArgs): Promise<number> {
  if (!args.name) throw new UsageError('train needs --name NAME (the model to create)');
  const hyperparameters = trainingHyperparameters(args);
  const input = openExamples(args.file, {
    format: args.format,
    textColumn: args.textColumn,
    labelColumn: args.labelColumn,
  });
  const client = clientFor(ctx);
  const bar = ctx.interactive
    ? new ProgressBar(ctx.stderr, { label: 'uploading', unit: 'bytes', total: input.size })
    : undefined;
  if (!bar) {
    const size = input.size === undefined ? '' : ` (${formatBytes(input.size)})`;
    log(ctx, `uploading ${args.file}${size} as ${input.format}`);
  }
  let job: TrainingJob;
  try {
    job = await client.createTrainingJob(
      {
        model: args.name,
        recipe: args.recipe,
        hyperparameters,
        webhook_url: args.webhook,
        examples: input.replayable ? () => input.open() : input.open(),
      },
      { onUploadProgress: () => bar?.update(input.bytesRead()) },
    );
  } catch (err) {
    // The server numbers the examples it received; name the lines of FILE instead.
    if (err instanceof DocBatchError && input.format !== 'ndjson') {
      for (const d of err.details) {
        const src = d.line === undefined ? undefined : input.sourceLine(d.line);
        if (d.line !== undefined && src !== undefined) {
          d.message = `${d.message} (example ${d.line})`;
          d.line = src;
        }
      }
    }
    throw err;
  } finally {
    bar?.finish();
  }
  log(
    ctx,
    `created ${job.id}: ${formatCount(job.examples.total)} examples, ${Object.keys(job.examples.labels).length} labels, ` +
      `model ${job.model_name}, recipe ${job.recipe}`,
  );
  if (!args.wait) {
    out(ctx, ctx.json ? JSON.stringify(job) : job.id);
    return EXIT.OK;
  }
  const final = await followJob(ctx, client, job);
  out(ctx, ctx.json ? JSON.stringify(final) : (final.model ?? final.id));
  return reportJobEnd(ctx, final);
}

const STATUSES: readonly TrainingJobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

/** `docbatch training-jobs list [--status S] [--limit N] [--all]`, `get ID [--wait]`, `cancel ID`. */
export async function trainingJobs(
  ctx: CliContext,
  sub: string | undefined,
  id: string | undefined,
  args: { status?: string; limit?: string; all?: boolean; wait?: boolean },
): Promise<number> {
  if (sub === 'list') {
    if (id !== undefined) throw new UsageError(`too many arguments for training-jobs list: ${id}`);
    if (args.status !== undefined && !STATUSES.includes(args.status as TrainingJobStatus)) {
      throw new UsageError(
        `unknown --status ${JSON.stringify(args.status)} (expected ${STATUSES.join(', ')})`,
      );
    }
    const limit = args.limit === undefined ? 20 : Number(args.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive integer');
    const client = clientFor(ctx);
    const jobs = await client
      .listTrainingJobs({ status: args.status as TrainingJobStatus | undefined, limit: Math.min(limit, 100) })
      .toArray(args.all ? Infinity : limit);
    if (ctx.json) {
      out(ctx, JSON.stringify(jobs));
      return EXIT.OK;
    }
    if (jobs.length === 0) {
      log(ctx, 'no training jobs');
      return EXIT.OK;
    }
    out(
      ctx,
      table(
        ['ID', 'STATUS', 'MODEL', 'EPOCH', 'VAL. ACCURACY', 'EXAMPLES', 'CREATED'],
        jobs.map((j) => [
          j.id,
          j.status,
          j.model ?? j.model_name,
          j.progress ? `${j.progress.epoch}/${j.progress.epochs}` : '-',
          typeof j.progress?.val_accuracy === 'number'
            ? `${(j.progress.val_accuracy * 100).toFixed(1)}%`
            : '-',
          formatCount(j.examples.total),
          j.created_at,
        ]),
      ),
    );
    return EXIT.OK;
  }
  if (sub === 'get' || sub === 'cancel') {
    if (!id) throw new UsageError(`training-jobs ${sub} needs a training job id`);
    const client = clientFor(ctx);
    if (sub === 'cancel') {
      const job = await client.cancelTrainingJob(id);
      out(
        ctx,
        ctx.json
          ? JSON.stringify(job)
          : `${job.id} ${job.status}${job.cancel_requested && job.status === 'running' ? ' (cancel requested)' : ''}`,
      );
      return EXIT.OK;
    }
    let job = await client.getTrainingJob(id);
    if (args.wait) {
      job = await followJob(ctx, client, job);
      out(ctx, ctx.json ? JSON.stringify(job) : describeJob(job));
      return reportJobEnd(ctx, job);
    }
    out(ctx, ctx.json ? JSON.stringify(job) : describeJob(job));
    return EXIT.OK;
  }
  throw new UsageError(
    sub === undefined
      ? 'training-jobs needs a subcommand: list, get ID or cancel ID'
      : `unknown training-jobs subcommand ${JSON.stringify(sub)} (list, get, cancel)`,
  );
}
