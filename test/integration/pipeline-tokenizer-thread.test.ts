import { createLogger } from '../../src/core/logger';
import { WorkerProcess } from '../../src/workers/worker-process';
import { createHarness, makeDocuments, waitForBatchEnd } from './pipeline-fixtures';
import type { PipelineHarness } from './pipeline-fixtures';

/**
 * The tokenizer thread (TOKENIZER_THREAD, default on) only moves tokenization out of the
 * inference thread: a batch run with it and the same batch run without it have the same results,
 * the same per-document errors and the same counts. Summarization carries a payload (the
 * sentences) from the tokenizer to the model; classification only token ids.
 */

jest.setTimeout(300_000);

let h: PipelineHarness;

beforeAll(async () => {
  h = await createHarness();
});

afterAll(async () => {
  await h?.close();
});

async function runWith(
  tokenizerThread: boolean,
  task: string,
  docs: { id: string; text: string }[],
): Promise<{ rows: unknown[]; counts: unknown }> {
  const worker = new WorkerProcess(
    h.workerConfig({ WORKER_TASKS: task, TOKENIZER_THREAD: String(tokenizerThread) }),
    createLogger('silent'),
  );
  await worker.start();
  try {
    const batch = await h.submit({ task }, docs);
    const end = await waitForBatchEnd(h.db, batch.id);
    expect(end.status).toBe('completed');
    expect(end.counts).toEqual(end.rows);
    const res = await h.db.pool.query(
      `SELECT client_id, status::text AS status, result, error FROM documents WHERE batch_id = $1 ORDER BY seq`,
      [batch.id],
    );
    return { rows: res.rows, counts: end.counts };
  } finally {
    await worker.stop();
  }
}

describe.each(['classification', 'summarization'])('a %s batch', (task) => {
  it('has the same results with and without the tokenizer thread', async () => {
    const docs = makeDocuments(task, 1_500, 11);
    docs[7] = { id: 'empty', text: '... ??? ...' }; // rejected by the tokenizer: EMPTY_DOCUMENT
    const threaded = await runWith(true, task, docs);
    const inline = await runWith(false, task, docs);
    expect(threaded.rows).toHaveLength(1_500);
    expect(threaded.rows.filter((r) => (r as { status: string }).status === 'failed')).toEqual([
      {
        client_id: 'empty',
        status: 'failed',
        result: null,
        error: { code: 'EMPTY_DOCUMENT', message: expect.any(String) },
      },
    ]);
    expect(threaded.counts).toEqual(inline.counts);
    expect(threaded.rows).toEqual(inline.rows);
  });
});
