import { TASKS } from '../../src/core/models/types';
import { startApi } from './api-harness';
import type { ApiHarness } from './api-harness';

/**
 * Hostile-input corpus against the real API (in-process ApiServer, real Postgres and Redis).
 * Every case states the answer the contract asks for; a rejected case must store nothing (no batch,
 * document or idempotency row, no chunk job) and the server must keep serving afterwards. The
 * decision for each case is documented in docs/reliability.md.
 */

jest.setTimeout(60_000);

let h: ApiHarness;

beforeAll(async () => {
  h = await startApi({ MAX_JSON_BODY_BYTES: String(16 * 1024 ** 2) });
});
afterAll(async () => {
  await h?.stop();
});

interface Stored {
  batches: number;
  documents: number;
  keys: number;
  jobs: number;
}

async function stored(): Promise<Stored> {
  const one = async (sql: string): Promise<number> => (await h.db.pool.query<{ n: number }>(sql)).rows[0]!.n;
  let jobs = 0;
  for (const task of TASKS) jobs += (await h.chunkJobs(task)).length;
  return {
    batches: await one('SELECT count(*)::int AS n FROM batches'),
    documents: await one('SELECT count(*)::int AS n FROM documents'),
    keys: await one('SELECT count(*)::int AS n FROM idempotency_keys'),
    jobs,
  };
}

async function stillServing(): Promise<void> {
  const health = await fetch(`${h.url}/healthz`);
  expect(health.status).toBe(200);
  const list = await h.request('/v1/batches?limit=1');
  expect(list.status).toBe(200);
}

type ErrorBody = { error: { code: string; message: string; details?: { line?: number; field?: string }[] } };

/** Sends a request that must be rejected with `status`/`code`; checks nothing was stored and the server still serves. */
async function rejected(
  send: () => Promise<Response>,
  status: number,
  code: string,
): Promise<ErrorBody['error']> {
  const before = await stored();
  const res = await send();
  const text = await res.text();
  expect({ status: res.status, body: text.slice(0, 300) }).toMatchObject({ status });
  const body = JSON.parse(text) as ErrorBody;
  expect(body.error.code).toBe(code);
  // Internal messages never reach the client.
  expect(body.error.message).not.toMatch(/COPY|SELECT|INSERT|stack|at \w+ \(|ECONN|pg_|relation /i);
  expect(await stored()).toEqual(before);
  await stillServing();
  return body.error;
}

const NDJSON = { 'content-type': 'application/x-ndjson' };
const JSON_CT = { 'content-type': 'application/json' };

function postNdjson(body: string | Buffer, query = 'task=classification', headers = {}): Promise<Response> {
  return h.request(`/v1/batches?${query}`, { method: 'POST', headers: { ...NDJSON, ...headers }, body });
}
function postJson(body: string | Buffer, headers = {}): Promise<Response> {
  return h.request('/v1/batches', { method: 'POST', headers: { ...JSON_CT, ...headers }, body });
}

describe('malformed JSON', () => {
  it('JSON form: a truncated body is 400 INVALID_REQUEST', async () => {
    await rejected(
      () => postJson('{"task": "classification", "documents": [{"text": "a"}', { 'idempotency-key': 'k1' }),
      400,
      'INVALID_REQUEST',
    );
  });
  it('JSON form: a body that is an array or a string is 400 INVALID_REQUEST', async () => {
    await rejected(() => postJson('[{"text": "a"}]'), 400, 'INVALID_REQUEST');
    await rejected(() => postJson('"hello"'), 400, 'INVALID_REQUEST');
  });
  it('NDJSON form: a broken line among good ones is 400 INVALID_DOCUMENT naming its line', async () => {
    const err = await rejected(
      () =>
        postNdjson('{"text":"ok"}\n{"text": "broken"\n{"text":"ok"}\n', undefined, {
          'idempotency-key': 'k2',
        }),
      400,
      'INVALID_DOCUMENT',
    );
    expect(err.details).toEqual([expect.objectContaining({ line: 2 })]);
  });
  it('NDJSON form: a line that is JSON but not an object is 400 INVALID_DOCUMENT', async () => {
    const err = await rejected(
      () => postNdjson('{"text":"ok"}\n[1,2]\n"text"\nnull\n'),
      400,
      'INVALID_DOCUMENT',
    );
    expect(err.details?.map((d) => d.line)).toEqual([2, 3, 4]);
  });
});

describe('wrong content types', () => {
  it.each([
    ['text/plain', '{"task":"classification","documents":[{"text":"a"}]}'],
    ['multipart/form-data; boundary=x', '--x\r\n\r\n{"text":"a"}\r\n--x--'],
    ['application/x-www-form-urlencoded', 'task=classification&text=a'],
    ['application/xml', '<batch/>'],
    ['application/json; charset=latin1', '{"task":"classification","documents":[{"text":"a"}]}'],
  ])('%s is 415 UNSUPPORTED_MEDIA_TYPE', async (type, body) => {
    await rejected(
      () => h.request('/v1/batches', { method: 'POST', headers: { 'content-type': type }, body }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });
  it('no Content-Type at all is 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    await rejected(
      () => h.request('/v1/batches', { method: 'POST', body: Buffer.from('{"task":"classification"}') }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });
  it('a truncated gzip body is 400 INVALID_REQUEST; another Content-Encoding is 415', async () => {
    // NDJSON may be gzip (docs/api.md); a corrupt stream is refused, nothing stored.
    await rejected(
      () =>
        postNdjson(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]), undefined, { 'content-encoding': 'gzip' }),
      400,
      'INVALID_REQUEST',
    );
    await rejected(
      () => postNdjson(Buffer.from('{"text":"a"}\n'), undefined, { 'content-encoding': 'br' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });
});

describe('bytes that are not text', () => {
  const bad = Buffer.from([
    0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d,
  ]); // {"text":"<ff fe c3 28>"}
  it('NDJSON: invalid UTF-8 in a line is 400 INVALID_DOCUMENT on that line (never silently replaced)', async () => {
    const body = Buffer.concat([Buffer.from('{"text":"fine"}\n'), bad, Buffer.from('\n{"text":"fine"}\n')]);
    const err = await rejected(() => postNdjson(body), 400, 'INVALID_DOCUMENT');
    expect(err.details).toEqual([expect.objectContaining({ line: 2 })]);
  });
  it('NDJSON: a genuine U+FFFD character is valid text and is kept as is', async () => {
    const res = await postNdjson('{"id":"r","text":"replacement \uFFFD char"}\n');
    expect(res.status).toBe(201);
    const batch = (await res.json()) as { id: string };
    const doc = (await (await h.request(`/v1/batches/${batch.id}/documents/r`)).json()) as { text: string };
    expect(doc.text).toBe('replacement \uFFFD char');
  });
  it('JSON form: invalid UTF-8 in the body is 400 INVALID_REQUEST', async () => {
    const body = Buffer.concat([
      Buffer.from('{"task":"classification","documents":['),
      bad,
      Buffer.from(']}'),
    ]);
    await rejected(() => postJson(body), 400, 'INVALID_REQUEST');
  });
  it('NUL: an escaped \\u0000 in text is 400 INVALID_DOCUMENT (Postgres text cannot hold it)', async () => {
    const err = await rejected(() => postNdjson('{"text":"a\\u0000b"}\n'), 400, 'INVALID_DOCUMENT');
    expect(err.details?.[0]).toMatchObject({ line: 1, field: 'text' });
  });
  it('NUL: an escaped \\u0000 in metadata or in the JSON form is 400 INVALID_DOCUMENT', async () => {
    await rejected(() => postNdjson('{"text":"a","metadata":{"k\\u0000":"v"}}\n'), 400, 'INVALID_DOCUMENT');
    await rejected(
      () => postJson('{"task":"classification","documents":[{"text":"x\\u0000"}]}'),
      400,
      'INVALID_DOCUMENT',
    );
  });
  it('NUL: a raw NUL byte inside a line is 400 INVALID_DOCUMENT (not valid JSON)', async () => {
    const body = Buffer.concat([Buffer.from('{"text":"a'), Buffer.from([0]), Buffer.from('b"}\n')]);
    await rejected(() => postNdjson(body), 400, 'INVALID_DOCUMENT');
  });
});

describe('sizes and shapes', () => {
  it('a 10 MB single NDJSON line is 400 INVALID_DOCUMENT (line too long), without buffering it', async () => {
    const body = Buffer.alloc(10 * 1024 * 1024 + 12, 0x61);
    body.write('{"text":"', 0);
    body.write('"}\n', body.length - 3);
    const err = await rejected(() => postNdjson(body), 400, 'INVALID_DOCUMENT');
    expect(err.details?.[0]).toMatchObject({ line: 1 });
  });
  it('a 10 MB text in the JSON form is 400 INVALID_DOCUMENT (over MAX_DOC_CHARS)', async () => {
    const body = JSON.stringify({
      task: 'classification',
      documents: [{ text: 'a'.repeat(10 * 1024 * 1024) }],
    });
    const err = await rejected(() => postJson(body), 400, 'INVALID_DOCUMENT');
    expect(err.details?.[0]).toMatchObject({ line: 1, field: 'text' });
  });
  it('a JSON body over MAX_JSON_BODY_BYTES is 413 PAYLOAD_TOO_LARGE', async () => {
    const body = JSON.stringify({
      task: 'classification',
      documents: [{ text: 'a'.repeat(17 * 1024 * 1024) }],
    });
    await rejected(() => postJson(body), 413, 'PAYLOAD_TOO_LARGE');
  });
  it('deeply nested document metadata (10,000 levels) is 400 INVALID_DOCUMENT, not a 500', async () => {
    const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    await rejected(() => postNdjson(`{"text":"t","metadata":${deep}}\n`), 400, 'INVALID_DOCUMENT');
    await rejected(
      () => postJson(`{"task":"classification","documents":[{"text":"t","metadata":${deep}}]}`),
      400,
      'INVALID_DOCUMENT',
    );
  });
  it('deeply nested batch metadata is 400 INVALID_REQUEST', async () => {
    const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    await rejected(
      () => postJson(`{"task":"classification","metadata":${deep},"documents":[{"text":"t"}]}`),
      400,
      'INVALID_REQUEST',
    );
  });
  it('moderately nested metadata (32 levels) is valid and returned unchanged', async () => {
    let meta: unknown = 'leaf';
    for (let i = 0; i < 32; i++) meta = { k: meta };
    const res = await postNdjson(JSON.stringify({ id: 'n', text: 'nested', metadata: meta }) + '\n');
    expect(res.status).toBe(201);
    const batch = (await res.json()) as { id: string };
    const doc = (await (await h.request(`/v1/batches/${batch.id}/documents/n`)).json()) as {
      metadata: unknown;
    };
    expect(doc.metadata).toEqual(meta);
  });
});

describe('wrong fields', () => {
  it('duplicate ids are 400 DUPLICATE_DOCUMENT_ID (NDJSON and JSON)', async () => {
    await rejected(
      () => postNdjson('{"id":"x","text":"a"}\n{"id":"y","text":"b"}\n{"id":"x","text":"c"}\n'),
      400,
      'DUPLICATE_DOCUMENT_ID',
    );
    await rejected(
      () => postJson('{"task":"classification","documents":[{"id":"x","text":"a"},{"id":"x","text":"b"}]}'),
      400,
      'DUPLICATE_DOCUMENT_ID',
    );
  });
  it('a client id equal to another line number of an id-less document is a duplicate too', async () => {
    await rejected(() => postNdjson('{"text":"a"}\n{"id":"1","text":"b"}\n'), 400, 'DUPLICATE_DOCUMENT_ID');
  });
  it('unknown document fields are 400 INVALID_DOCUMENT; unknown batch fields are 400 INVALID_REQUEST', async () => {
    await rejected(() => postNdjson('{"text":"a","lang":"en"}\n'), 400, 'INVALID_DOCUMENT');
    await rejected(
      () => postJson('{"task":"classification","colour":"red","documents":[{"text":"a"}]}'),
      400,
      'INVALID_REQUEST',
    );
    await rejected(
      () => postNdjson('{"text":"a"}\n', 'task=classification&colour=red'),
      400,
      'INVALID_REQUEST',
    );
  });
  it('numbers where strings belong are refused, never coerced', async () => {
    const err = await rejected(
      () => postNdjson('{"text":123}\n{"id":5,"text":"a"}\n{"text":"ok","metadata":7}\n'),
      400,
      'INVALID_DOCUMENT',
    );
    expect(err.details?.map((d) => [d.line, d.field])).toEqual([
      [1, 'text'],
      [2, 'id'],
      [3, 'metadata'],
    ]);
    await rejected(() => postJson('{"task":5,"documents":[{"text":"a"}]}'), 400, 'INVALID_REQUEST');
    await rejected(
      () => postJson('{"task":"classification","priority":"1","documents":[{"text":"a"}]}'),
      400,
      'INVALID_REQUEST',
    );
  });
  it('an unknown task is 422 UNKNOWN_TASK and nothing of the body is stored', async () => {
    await rejected(() => postNdjson('{"text":"a"}\n', 'task=haiku'), 422, 'UNKNOWN_TASK');
  });
});

describe('empty and header-only bodies', () => {
  it.each([
    ['an empty NDJSON body', ''],
    ['one blank line', '\n'],
    ['only blank lines and CRLFs', '\r\n\n  \n'],
  ])('%s is 400 INVALID_REQUEST (no documents)', async (_name, body) => {
    await rejected(() => postNdjson(body), 400, 'INVALID_REQUEST');
  });
  it('an empty JSON body is 400 INVALID_REQUEST', async () => {
    await rejected(() => postJson(''), 400, 'INVALID_REQUEST');
  });
  it('a JSON body with an empty documents array is 400 INVALID_REQUEST', async () => {
    await rejected(() => postJson('{"task":"classification","documents":[]}'), 400, 'INVALID_REQUEST');
  });
  it('a blank line between documents is 400 INVALID_DOCUMENT on that line', async () => {
    const err = await rejected(() => postNdjson('{"text":"a"}\n\n{"text":"b"}\n'), 400, 'INVALID_DOCUMENT');
    expect(err.details?.[0]).toMatchObject({ line: 2 });
  });
});

describe('many tiny lines', () => {
  const N = 200_000;
  const ACCEPTED = 100_000;
  it(`${ACCEPTED.toLocaleString('en-US')} one-character documents are accepted in one streamed request`, async () => {
    const before = await stored();
    const body = '{"text":"a"}\n'.repeat(ACCEPTED);
    const t0 = Date.now();
    const res = await postNdjson(body);
    const ms = Date.now() - t0;
    expect(res.status).toBe(201);
    const batch = (await res.json()) as { id: string; counts: { total: number; queued: number } };
    expect(batch.counts).toMatchObject({ total: ACCEPTED, queued: ACCEPTED });
    const after = await stored();
    expect(after.documents - before.documents).toBe(ACCEPTED);
    expect(after.batches - before.batches).toBe(1);
    console.log(`hostile-input: ${ACCEPTED} tiny lines stored in ${ms} ms`);
    await stillServing();
  });
  it(`${N.toLocaleString('en-US')} tiny lines with one bad line at the end store nothing`, async () => {
    const body = '{"text":"a"}\n'.repeat(N - 1) + '{"text":""}\n';
    const err = await rejected(() => postNdjson(body), 400, 'INVALID_DOCUMENT');
    expect(err.details).toEqual([expect.objectContaining({ line: N, field: 'text' })]);
  });
});
