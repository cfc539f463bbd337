import { createHash } from 'node:crypto';
import {
  DocumentValidator,
  copyEscape,
  decodeBatchCursor,
  decodeResultCursor,
  encodeBatchCursor,
  encodeResultCursor,
  ndjsonSource,
  parseCompletionWindow,
  toBatchObject,
} from '../../src/core/batches';
import type { BatchRow, DocumentItem } from '../../src/core/batches';
import { AppError } from '../../src/core/errors';

async function* chunks(parts: (string | Buffer)[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield typeof p === 'string' ? Buffer.from(p) : p;
}

async function collect(
  parts: (string | Buffer)[],
  maxLineBytes = 1000,
  maxBytes = 1e9,
): Promise<DocumentItem[]> {
  const src = ndjsonSource(chunks(parts), { maxBytes, maxLineBytes, hashPrefix: '' });
  const out: DocumentItem[] = [];
  for await (const items of src) out.push(...items);
  return out;
}

describe('ndjsonSource', () => {
  it('splits lines across chunk boundaries, including multi-byte characters, and drops CR', async () => {
    const euro = Buffer.from('{"text":"€"}\r\n{"text":"b"}');
    const items = await collect([euro.subarray(0, 10), euro.subarray(10, 12), euro.subarray(12)]);
    expect(items).toEqual([
      { line: 1, json: '{"text":"€"}' },
      { line: 2, json: '{"text":"b"}' },
    ]);
  });

  it('ignores trailing blank lines and reports interior ones', async () => {
    expect(await collect(['a\n\n  \n'])).toEqual([{ line: 1, json: 'a' }]);
    expect(await collect(['a\n\nb\n'])).toEqual([
      { line: 1, json: 'a' },
      { line: 2, error: 'empty line (blank lines are allowed only at the end)' },
      { line: 3, json: 'b' },
    ]);
  });

  it('skips an over-long line without buffering it, in one chunk or across many', async () => {
    const long = 'x'.repeat(50);
    expect(await collect([`a\n${long}\nb`], 20)).toEqual([
      { line: 1, json: 'a' },
      { line: 2, error: 'line is longer than 20 bytes' },
      { line: 3, json: 'b' },
    ]);
    expect(await collect(['a\nxxxxxxxxxx', 'xxxxxxxxxxxx', 'xxxx\nb'], 20)).toEqual([
      { line: 1, json: 'a' },
      { line: 2, error: 'line is longer than 20 bytes' },
      { line: 3, json: 'b' },
    ]);
    expect(await collect(['a\n', long], 20)).toEqual([
      { line: 1, json: 'a' },
      { line: 2, error: 'line is longer than 20 bytes' },
    ]);
  });

  it('stops with 413 past maxBytes and hashes prefix + body', async () => {
    await expect(collect(['0123456789', '0123456789'], 100, 15)).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
    });
    const src = ndjsonSource(chunks(['{"text":"a"}\n', '{"text":"b"}\n']), {
      maxBytes: 1e6,
      maxLineBytes: 100,
      hashPrefix: 'P',
    });
    await src.drain();
    const expected = createHash('sha256').update('P{"text":"a"}\n{"text":"b"}\n').digest('hex');
    expect(src.digest()).toBe(expected);
    expect(src.digest()).toBe(expected);
  });
});

describe('DocumentValidator', () => {
  const validator = (maxDocs = 100) => new DocumentValidator({ batchId: 'bat_x', maxDocChars: 10, maxDocs });
  const items = (...lines: string[]): DocumentItem[] => lines.map((json, i) => ({ line: i + 1, json }));

  it('encodes valid documents as COPY rows with default ids and escaped text', () => {
    const v = validator();
    const rows = v.accept(items('{"text":"a\\tb\\\\c"}', '{"id":"k","text":"d","metadata":{"m":"x\\ny"}}'));
    expect(rows).toBe('bat_x\t1\t1\ta\\tb\\\\c\t\\N\nbat_x\t2\tk\td\t{"m":"x\\\\ny"}\n');
    expect(v.ok).toBe(true);
    expect(v.count).toBe(2);
  });

  it('finds every kind of duplicate id without false positives', () => {
    const v = validator();
    v.accept(
      items(
        '{"text":"a"}',
        '{"id":"1","text":"b"}',
        '{"id":"5","text":"c"}',
        '{"text":"d"}',
        '{"text":"e"}',
        '{"id":"x","text":"f"}',
        '{"id":"x","text":"g"}',
        '{"id":"10","text":"h"}',
      ),
    );
    expect(v.errors).toEqual([
      { line: 2, field: 'id', message: 'duplicate id "1" (the default id of line 1)' },
      {
        line: 5,
        field: 'id',
        message: 'duplicate id "5" (its default id, the line number, is used by an earlier document)',
      },
      { line: 7, field: 'id', message: 'duplicate id "x"' },
    ]);
    expect(v.result()?.code).toBe('DUPLICATE_DOCUMENT_ID');
    const ok = validator();
    ok.accept(items('{"id":"3","text":"a"}', '{"id":"01","text":"b"}', '{"text":"c"}'));
    expect(ok.errors).toEqual([
      {
        line: 3,
        field: 'id',
        message: 'duplicate id "3" (its default id, the line number, is used by an earlier document)',
      },
    ]);
  });

  it('counts characters as code points and stops storing after the first error', () => {
    const v = validator();
    expect(v.accept(items(`{"text":"${'😀'.repeat(10)}"}`))).not.toBe('');
    expect(v.accept(items(`{"text":"${'a'.repeat(11)}"}`))).toBe('');
    expect(v.accept([{ line: 3, json: '{"text":"fine"}' }])).toBe('');
    expect(v.result()).toBeInstanceOf(AppError);
    expect(v.result()?.code).toBe('INVALID_DOCUMENT');
  });

  it('throws 413 past maxDocs', () => {
    expect(() => validator(2).accept(items('{"text":"a"}', '{"text":"b"}', '{"text":"c"}'))).toThrow(
      expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE' }),
    );
  });

  it('escapes COPY specials', () => {
    expect(copyEscape('a\\b\tc\nd\re')).toBe('a\\\\b\\tc\\nd\\re');
    expect(copyEscape('plain')).toBe('plain');
  });
});

describe('batch fields and views', () => {
  it('parses completion windows from 1m to 7d', () => {
    expect(parseCompletionWindow('1m')).toBe(60);
    expect(parseCompletionWindow('24h')).toBe(86_400);
    expect(parseCompletionWindow('7d')).toBe(604_800);
    for (const bad of ['59s', '8d', '1w', '24', 'h', '0h', '1.5h', '-1h'])
      expect(parseCompletionWindow(bad)).toBeNull();
  });

  it('computes throughput and eta from the counts', () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const row: BatchRow = {
      id: 'bat_1',
      tenant_id: 't',
      task: 'classification',
      model: 'm@1',
      options: {},
      metadata: {},
      priority: 5,
      webhook_url: null,
      status: 'running',
      error: null,
      completion_window: '24h',
      total: 1000,
      queued_count: 500,
      running_count: 100,
      completed_count: 390,
      failed_count: 10,
      cancelled_count: 0,
      expired_count: 0,
      chunk_count: 2,
      created_at: t0,
      started_at: t0,
      finished_at: null,
      expires_at: t0,
    };
    const b = toBatchObject(row, new Date(t0.getTime() + 10_000));
    expect(b.throughput_docs_per_s).toBe(40);
    expect(b.eta_s).toBe(15);
    expect(
      toBatchObject({ ...row, started_at: null, status: 'queued', completed_count: 0, failed_count: 0 })
        .eta_s,
    ).toBeNull();
    const done = toBatchObject({
      ...row,
      status: 'completed',
      queued_count: 0,
      running_count: 0,
      completed_count: 990,
      finished_at: new Date(t0.getTime() + 20_000),
    });
    expect(done).toMatchObject({ throughput_docs_per_s: 50, eta_s: 0 });
  });

  it('round-trips opaque cursors and refuses foreign or forged ones', () => {
    const d = new Date('2026-01-01T00:00:00.123Z');
    expect(decodeBatchCursor(encodeBatchCursor(d, 'bat_9'))).toEqual({ c: d.toISOString(), i: 'bat_9' });
    expect(decodeResultCursor(encodeResultCursor(42, 'bat_a'), 'bat_a')).toBe(42);
    expect(() => decodeResultCursor(encodeResultCursor(42, 'bat_a'), 'bat_b')).toThrow(
      expect.objectContaining({ code: 'INVALID_REQUEST' }),
    );
    // A cursor made before cursors named their batch stays valid.
    const legacy = Buffer.from(JSON.stringify({ k: 'r', s: 7 })).toString('base64url');
    expect(decodeResultCursor(legacy, 'bat_a')).toBe(7);
    expect(() => decodeResultCursor(encodeBatchCursor(d, 'bat_x'), 'bat_a')).toThrow(
      expect.objectContaining({ code: 'INVALID_REQUEST' }),
    );
    expect(() => decodeBatchCursor('!!')).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });
});
