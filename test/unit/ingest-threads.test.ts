import { DocumentValidator, IngestThreadPool } from '../../src/core/batches';
import type { DocumentItem } from '../../src/core/batches';
import { AppError } from '../../src/core/errors';

/** Upload validation in an ingest thread gives exactly what the in-thread DocumentValidator gives. */
describe('IngestThreadPool', () => {
  const pool = new IngestThreadPool(2, 5);
  afterAll(() => pool.close());
  const options = { batchId: 'bat_x', maxDocChars: 50, maxDocs: 1000 };

  const items = (from: number, docs: string[]): DocumentItem[] =>
    docs.map((json, i) => ({ line: from + i, json }));

  it('encodes the same COPY rows, in order, for overlapping requests', async () => {
    const parts = [
      items(1, ['{"text":"a\\tb","id":"x"}', '{"text":"c","metadata":{"__proto__":{"k":1},"y":"\\\\"}}']),
      items(3, ['{"text":"d\\ne"}', '{"text":"€ 😀","id":"4"}']),
      items(5, ['{"text":"last"}']),
    ];
    const local = new DocumentValidator(options);
    const expected = parts.map((p) => local.accept(p));
    const remote = pool.open(options);
    const got = await Promise.all(parts.map((p) => remote.accept(p)));
    remote.close();
    expect(got).toEqual(expected);
    expect(got.join('')).toContain('{"__proto__":{"k":1},"y":"\\\\\\\\"}');
    expect(remote.count).toBe(5);
    expect(remote.ok).toBe(true);
    expect(remote.result()).toBeNull();
  });

  it('reports the same line-numbered errors and stores nothing after the first', async () => {
    const docs = items(1, [
      '{"text":"ok","id":"a"}',
      'not json',
      '{"text":""}',
      '{"text":"dup","id":"a"}',
      '{"text":"x","extra":1}',
      '{"text":"' + 'y'.repeat(51) + '"}',
      '{"text":"lone \\ud800"}',
    ]);
    const local = new DocumentValidator(options);
    local.accept(docs.slice(0, 3));
    local.accept(docs.slice(3));
    const remote = pool.open(options);
    const first = await remote.accept(docs.slice(0, 3));
    const second = await remote.accept(docs.slice(3));
    remote.close();
    expect([first, second]).toEqual(['', '']);
    expect(remote.ok).toBe(false);
    expect(remote.errors).toEqual(local.errors);
    expect(remote.errors.map((e) => e.line)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(remote.result()?.toBody()).toEqual(local.result()?.toBody());
  });

  it('refuses a document past maxDocs with PAYLOAD_TOO_LARGE', async () => {
    const remote = pool.open({ ...options, maxDocs: 2 });
    await expect(remote.accept(items(1, ['{"text":"a"}', '{"text":"b"}', '{"text":"c"}']))).rejects.toEqual(
      expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE' }),
    );
    remote.close();
    expect(new AppError('PAYLOAD_TOO_LARGE', 'x').status).toBe(413);
  });

  it('keeps uploads apart: duplicate ids are per upload', async () => {
    const a = pool.open(options);
    const b = pool.open(options);
    const [ra, rb] = await Promise.all([
      a.accept(items(1, ['{"text":"t","id":"same"}'])),
      b.accept(items(1, ['{"text":"t","id":"same"}'])),
    ]);
    a.close();
    b.close();
    expect(ra).toBe('bat_x\t1\tsame\tt\t\\N\n');
    expect(rb).toBe(ra);
  });

  it('fails the uploads of a thread that dies, and the next upload gets a new thread', async () => {
    const one = new IngestThreadPool(1);
    try {
      const v = one.open(options);
      await v.accept(items(1, ['{"text":"a"}']));
      // Kill the thread as a crash would.
      await (
        v as unknown as { thread: { worker: { terminate(): Promise<number> } } }
      ).thread.worker.terminate();
      await expect(v.accept(items(2, ['{"text":"b"}']))).rejects.toThrow(/ingest thread exited/);
      const w = one.open(options);
      await expect(w.accept(items(1, ['{"text":"b"}']))).resolves.toBe('bat_x\t1\t1\tb\t\\N\n');
      w.close();
    } finally {
      await one.close();
    }
  });
});
