import { DocumentValidator, IngestThreadPool, ndjsonSource } from '../../src/core/batches';
import type { DocumentItem } from '../../src/core/batches';
import type { ThreadedValidator } from '../../src/core/batches/ingest-threads';
import { AppError } from '../../src/core/errors';

/** Upload validation in an ingest thread gives exactly what the in-thread DocumentValidator gives. */
describe('IngestThreadPool', () => {
  const pool = new IngestThreadPool(2, 5);
  afterAll(() => pool.close());
  const options = { batchId: 'bat_x', maxDocChars: 50, maxDocs: 1000 };

  const utf8 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
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
    const bytes = await Promise.all(parts.map((p) => remote.accept(p)));
    remote.close();
    // Bytes in an ArrayBuffer of their own (transferred, not a slice of Buffer's shared pool).
    for (const b of bytes) expect(b.byteLength).toBe(b.buffer.byteLength);
    const got = bytes.map(utf8);
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
    expect([first.byteLength, second.byteLength]).toEqual([0, 0]);
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
    expect(utf8(ra)).toBe('bat_x\t1\tsame\tt\t\\N\n');
    expect(utf8(rb)).toBe(utf8(ra));
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
      expect(utf8(await w.accept(items(1, ['{"text":"b"}'])))).toBe('bat_x\t1\t1\tb\t\\N\n');
      w.close();
    } finally {
      await one.close();
    }
  });

  describe('raw NDJSON bytes split in the thread', () => {
    /** The in-thread reference: ndjsonSource's items through a DocumentValidator. */
    const reference = async (
      chunks: Buffer[],
      maxLineBytes: number,
    ): Promise<{ rows: string; v: DocumentValidator }> => {
      const src = ndjsonSource(
        (async function* () {
          yield* chunks;
        })(),
        { maxBytes: 1e9, maxLineBytes, hashPrefix: '' },
      );
      const v = new DocumentValidator(options);
      let rows = '';
      for await (const part of src) rows += v.accept(part);
      return { rows, v };
    };
    const threaded = async (
      chunks: Buffer[],
      maxLineBytes: number,
    ): Promise<{ rows: string; v: ThreadedValidator }> => {
      const v = pool.open(options, maxLineBytes);
      const parts = await Promise.all([...chunks.map((c) => v.acceptBytes(c)), v.acceptEnd()]);
      v.close();
      return { rows: parts.map(utf8).join(''), v };
    };
    /** `body` cut at `cuts` (byte offsets), as sockets and gunzip cut bodies anywhere, even inside a character. */
    const cut = (body: Buffer, cuts: number[]): Buffer[] => {
      const at = [0, ...cuts.filter((c) => c > 0 && c < body.length).sort((a, b) => a - b), body.length];
      return at.slice(1).map((end, i) => body.subarray(at[i], end));
    };

    it('gives the rows of ndjsonSource + DocumentValidator for bodies cut anywhere', async () => {
      const lines = [
        '{"text":"a\\tb","id":"x"}',
        '{"text":"€ 😀 ünïcödé","id":"y"}\r',
        '{"text":"' + 'long '.repeat(8) + '"}',
        '{"text":"last of the first part"}',
      ];
      const bodies = [
        Buffer.from(lines.join('\n') + '\n'),
        Buffer.from(lines.join('\n')), // no final newline
        Buffer.from(lines.join('\n') + '\n\n\n'), // trailing blank lines are allowed
      ];
      let seed = 7;
      const rand = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      for (const body of bodies) {
        for (let round = 0; round < 40; round++) {
          const cuts = Array.from({ length: rand(6) }, () => rand(body.length));
          const chunks = cut(body, round === 0 ? [] : cuts);
          const want = await reference(chunks, 1000);
          const got = await threaded(chunks, 1000);
          expect(got.rows).toBe(want.rows);
          expect(got.v.count).toBe(want.v.count);
          expect(got.v.errors).toEqual([]);
        }
      }
      const one = await threaded([bodies[1] as Buffer], 1000);
      expect(one.rows.split('\n').filter(Boolean)).toHaveLength(4);
    });

    it('reports the same line numbers for blank lines, long lines and invalid UTF-8, cut anywhere', async () => {
      const body = Buffer.concat([
        Buffer.from('{"text":"a"}\n\n   \n{"text":"b"}\n'),
        Buffer.from('{"text":"' + 'x'.repeat(120) + '"}\n'), // longer than maxLineBytes 100
        Buffer.from('{"text":"bad '),
        Buffer.from([0xc3, 0x28]), // invalid UTF-8
        Buffer.from('"}\n{"text":"€"}\n'),
      ]);
      for (const cuts of [[], [1], [14, 15, 16], [40, 41, 90, 150], [171, 172, 173, 174, 175]]) {
        const chunks = cut(body, cuts);
        const want = await reference(chunks, 100);
        const got = await threaded(chunks, 100);
        expect(got.v.errors).toEqual(want.v.errors);
        expect(got.v.errors.map((e) => e.line)).toEqual([2, 3, 5, 6]);
        expect(got.v.count).toBe(want.v.count);
        expect(got.rows).toBe(want.rows);
      }
    });

    it('copies the bytes it sends: the caller may reuse its buffer at once', async () => {
      const v = pool.open(options, 1000);
      const buf = Buffer.from('{"text":"first"}\n');
      const p = v.acceptBytes(buf);
      buf.fill(0x20);
      const rows = utf8(await p) + utf8(await v.acceptEnd());
      v.close();
      expect(rows).toBe('bat_x\t1\t1\tfirst\t\\N\n');
    });
  });
});
