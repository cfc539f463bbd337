import { Writable } from 'node:stream';
import { ProgressBar } from '../../packages/cli/src/progress-bar';
import { readLines } from '../../packages/sdk/src/ndjson-lines';
import {
  AuthenticationError,
  ConflictError,
  DocBatchError,
  InvalidRequestError,
  NotFoundError,
  RateLimitError,
  ServerError,
} from '@docbatch/sdk';
import { errorFromResponse } from '../../packages/sdk/src/errors';
import { backoffDelay, parseRetryAfter } from '../../packages/sdk/src/transport';

describe('Retry-After and backoff', () => {
  it('parses delta seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('0.5')).toBe(500);
    const now = Date.parse('2026-11-23T10:00:00Z');
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('doubles up to the cap with jitter in [d/2, d]', () => {
    expect(backoffDelay(0, 500, 20_000, () => 0)).toBe(250);
    expect(backoffDelay(0, 500, 20_000, () => 1)).toBe(500);
    expect(backoffDelay(3, 500, 20_000, () => 1)).toBe(4000);
    expect(backoffDelay(10, 500, 20_000, () => 1)).toBe(20_000);
  });
});

describe('typed errors', () => {
  const body = (code: string) => ({
    error: { code, message: 'm', details: [{ line: 3, field: 'text', message: 'x' }] },
  });
  it.each([
    [401, 'UNAUTHORIZED', AuthenticationError],
    [404, 'NOT_FOUND', NotFoundError],
    [400, 'INVALID_DOCUMENT', InvalidRequestError],
    [422, 'UNKNOWN_MODEL', InvalidRequestError],
    [413, 'PAYLOAD_TOO_LARGE', InvalidRequestError],
    [409, 'BATCH_FINISHED', ConflictError],
    [409, 'IDEMPOTENCY_KEY_REUSED', ConflictError],
    [429, 'RATE_LIMITED', RateLimitError],
    [503, 'UNAVAILABLE', ServerError],
  ])('%i %s -> %p', (status, code, cls) => {
    const err = errorFromResponse(status, body(code), 2);
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(DocBatchError);
    expect(err).toMatchObject({ code, status, retryAfter: 2, message: 'm', name: cls.name });
    expect(err.details).toEqual([{ line: 3, field: 'text', message: 'x' }]);
  });

  it('a body that is not the contract becomes INVALID_RESPONSE', () => {
    expect(errorFromResponse(502, undefined)).toMatchObject({ code: 'INVALID_RESPONSE', status: 502 });
    expect(errorFromResponse(500, { error: { code: 'SOMETHING_ELSE' } })).toMatchObject({
      code: 'INVALID_RESPONSE',
    });
  });
});

describe('readLines', () => {
  function stream(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
    return new ReadableStream({
      start(c) {
        for (const ch of chunks) c.enqueue(typeof ch === 'string' ? new TextEncoder().encode(ch) : ch);
        c.close();
      },
    });
  }
  async function collect(chunks: (string | Uint8Array)[]): Promise<string[]> {
    const out: string[] = [];
    for await (const l of readLines(stream(chunks))) out.push(l);
    return out;
  }

  it('splits lines across chunks, CRLF included, and decodes split UTF-8', async () => {
    const bytes = new TextEncoder().encode('{"a":"é"}\r\n{"b":2}\n{"c":3}');
    const oneByOne = Array.from(bytes).map((b) => new Uint8Array([b]));
    expect(await collect(oneByOne)).toEqual(['{"a":"é"}', '{"b":2}', '{"c":3}']);
    expect(await collect(['x\ny', '\n', 'z\n'])).toEqual(['x', 'y', 'z']);
  });
});

describe('progress bar', () => {
  it('renders bar, percent, amounts, rate and ETA', () => {
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const bar = new ProgressBar(Object.assign(sink, { columns: 200 }), {
      label: 'processing',
      unit: 'docs',
      total: 200,
    });
    bar.update(50, { rate: 10, eta: 15, suffix: 'running' });
    expect(bar.render()).toBe(
      'processing [######------------------]  25% 50/200 10.0 docs/s ETA 15s running',
    );
    const bytes = new ProgressBar(Object.assign(sink, { columns: 200 }), {
      label: 'uploading',
      unit: 'bytes',
      total: 4 * 1024 * 1024,
    });
    bytes.update(1024 * 1024, { rate: 2 * 1024 * 1024 });
    expect(bytes.render()).toBe('uploading [######------------------]  25% 1.0 MiB/4.0 MiB 2.0 MiB/s ETA 2s');
  });
});
