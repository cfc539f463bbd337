import type { Batch, DocBatchClient } from '@docbatch/sdk';
import type { CliContext } from '../cli-context';
import { log } from '../cli-context';
import { batchProgressLine, finishedCount } from '../format';
import { ProgressBar } from '../progress-bar';

/** Interval between two plain progress log lines when not on a terminal, ms. */
const LOG_INTERVAL_MS = 5_000;

/**
 * Waits for a batch to end, showing its progress: a bar (documents, rate, ETA) on a terminal,
 * otherwise a log line on every status change and at most every 5 s. Ctrl-C stops waiting (the
 * batch keeps running) and rethrows the abort.
 */
export async function followBatch(ctx: CliContext, client: DocBatchClient, batch: Batch): Promise<Batch> {
  const bar = ctx.interactive
    ? new ProgressBar(ctx.stderr, { label: 'processing', unit: 'docs', total: batch.counts.total })
    : undefined;
  let lastStatus = '';
  let lastLog = 0;
  const controller = new AbortController();
  const onSigint = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  try {
    const final = await client.waitForBatch(batch.id, {
      signal: controller.signal,
      maxIntervalMs: ctx.interactive ? 1_000 : 5_000,
      onProgress: (b) => {
        if (bar) {
          bar.update(finishedCount(b), {
            total: b.counts.total,
            rate: b.throughput_docs_per_s,
            eta: b.eta_s,
            suffix: b.counts.failed > 0 ? `${b.status}, ${b.counts.failed} failed` : b.status,
          });
          return;
        }
        const now = Date.now();
        if (b.status !== lastStatus || now - lastLog >= LOG_INTERVAL_MS) {
          lastStatus = b.status;
          lastLog = now;
          log(ctx, batchProgressLine(b));
        }
      },
    });
    if (bar) bar.finish(final.status);
    else if (final.status !== lastStatus) log(ctx, batchProgressLine(final));
    return final;
  } catch (err) {
    bar?.finish();
    throw err;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
