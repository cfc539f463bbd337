import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { DocBatchClient, ResultStatus } from '@docbatch/sdk';
import type { CliContext } from '../cli-context';
import { log } from '../cli-context';
import { formatCount } from '../format';
import { ProgressBar } from '../progress-bar';

/**
 * Streams a batch's results (NDJSON lines, input order) to `outFile` or stdout, resuming after a
 * dropped connection (the SDK's results iterator). A file is written under a temporary name and
 * renamed when complete, so a partial download never looks finished. Returns the line count.
 */
export async function downloadResults(
  ctx: CliContext,
  client: DocBatchClient,
  batchId: string,
  opts: { outFile?: string; status?: ResultStatus; total?: number; pageSize?: number },
): Promise<number> {
  const tmp = opts.outFile ? `${opts.outFile}.part` : undefined;
  const sink: Writable = tmp ? createWriteStream(tmp) : ctx.stdout;
  const bar =
    ctx.interactive && opts.outFile
      ? new ProgressBar(ctx.stderr, { label: 'results', unit: 'docs', total: opts.total })
      : undefined;
  let count = 0;
  try {
    for await (const line of client.resultLines(batchId, { status: opts.status, pageSize: opts.pageSize })) {
      if (!sink.write(line + '\n')) await once(sink, 'drain');
      count++;
      bar?.update(count);
    }
    bar?.finish();
    if (tmp && opts.outFile) {
      sink.end();
      await once(sink, 'finish');
      await rename(tmp, opts.outFile);
      log(ctx, `wrote ${formatCount(count)} results to ${opts.outFile}`);
    }
    return count;
  } catch (err) {
    bar?.finish();
    if (tmp) {
      sink.destroy();
      await rm(tmp, { force: true });
    }
    throw err;
  }
}
