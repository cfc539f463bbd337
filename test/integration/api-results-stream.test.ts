import { writeOutcomes } from '../../src/core/pipeline/chunk-store';
import { STREAM_PAGE_BYTES } from '../../src/core/batches/result-stream';
import type { TaskResult } from '../../src/core/models/types';
import { json, startApi } from './api-harness';
import type { ApiHarness } from './api-harness';

/**
 * GET /v1/batches/{id}/results as NDJSON, through the HTTP API: the lines are built from the jsonb
 * text of the columns (result-line-encoder.ts), so they are checked byte for byte against the lines
 * the API always sent (JSON.stringify of the parsed values, which the JSON pages still use), for
 * values chosen to catch every difference between Postgres's jsonb text and JSON.stringify.
 */

jest.setTimeout(90_000);

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi();
});
afterAll(async () => {
  await h.stop();
});

/** Any JSON as a stored result (the column is jsonb; the tests store values no task returns). */
const asResult = (v: unknown): TaskResult => v as TaskResult;

type Line = { id: string; status: string; result: unknown; error: unknown; metadata: unknown };
type Page = { data: Line[]; has_more: boolean; next_cursor: string | null };

async function upload(docs: { id?: string; text: string; metadata?: unknown }[]): Promise<string> {
  const res = await h.request('/v1/batches?task=summarization', {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: docs.map((d) => JSON.stringify(d)).join('\n') + '\n',
  });
  const body = await json<{ id: string }>(res);
  expect(res.status === 201 ? 201 : body).toBe(201);
  return body.id;
}

/** The raw NDJSON lines of one request, with the response. */
async function ndjsonLines(path: string): Promise<{ res: Response; lines: string[] }> {
  const res = await h.request(path);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
  const text = await res.text();
  expect(text === '' || text.endsWith('\n')).toBe(true);
  return { res, lines: text === '' ? [] : text.slice(0, -1).split('\n') };
}

/** Every result through the JSON pages (the serialization the NDJSON lines must match). */
async function jsonPages(batchId: string, query = ''): Promise<Line[]> {
  const out: Line[] = [];
  let cursor: string | null = null;
  do {
    const res = await h.request(
      `/v1/batches/${batchId}/results?limit=1000${query}${cursor ? `&after=${cursor}` : ''}`,
      { headers: { accept: 'application/json' } },
    );
    const page = await json<Page>(res);
    out.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'a',
  'word',
  ', ',
  ': ',
  ' ',
  '"',
  '\\',
  '\\"',
  '\n',
  '\t',
  '\r',
  '\u0001',
  '\u001f',
  '\u007f',
];
const MORE_PIECES = ['é', '日本', '🎉', '\u2028', '{', '}', '[', ']', '0', '42', 'null', '-', '.', 'e'];
const KEYS = [
  'label',
  'score',
  'a',
  'zz',
  'k y',
  'a:b',
  'c, d',
  '"q"',
  'b\\s',
  'é',
  '0',
  '2',
  '10',
  '01',
  '-1',
];
const NUMBERS = [
  0,
  -0,
  1,
  -1,
  42,
  0.5,
  0.1,
  0.9870000123977661,
  1e-6,
  1.5e-6,
  1e-7,
  1.5e-7,
  -3.2e-9,
  5e-324,
  1e20,
  1e21,
  1.5e22,
  2 ** 53 + 2,
  123456789012345680000,
  1.7976931348623157e308,
  10.0000001,
  0.000001234,
];

function randomValue(rnd: () => number, depth: number): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const kind = depth >= 4 ? Math.floor(rnd() * 4) : Math.floor(rnd() * 6);
  if (kind === 0) return pick(NUMBERS);
  if (kind === 1) {
    let s = '';
    const n = Math.floor(rnd() * 6);
    for (let i = 0; i < n; i++) s += rnd() < 0.7 ? pick(PIECES) : pick(MORE_PIECES);
    return s;
  }
  if (kind === 2) return pick([true, false, null]);
  if (kind === 3) return Math.round(rnd() * 1e6) / 1e3;
  if (kind === 4) return Array.from({ length: Math.floor(rnd() * 4) }, () => randomValue(rnd, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rnd() * 5); i > 0; i--) o[pick(KEYS)] = randomValue(rnd, depth + 1);
  return o;
}

describe('NDJSON lines are the bytes of JSON.stringify of the parsed values', () => {
  it('for ids, metadata, results and errors that differ between jsonb text and JSON.stringify', async () => {
    const ids = [
      'plain',
      'with "quotes"',
      'back\\slash',
      'tab\there',
      'unicode é 日本 🎉',
      'ctrl \u0001',
      'sep\u2028',
    ];
    const metadata: unknown[] = [
      { b: 1, '10': 2, '2': 3 },
      { s: 'a, b: c', nested: { x: [1, 2, { y: null }] } },
      { big: 1e21, f: 0.1, i: 123456789012345680000, neg: -1.5e22 },
      { emoji: '🎉', esc: '"\\\n\t\u0001', empty: {}, arr: [] },
      { zz: 'last', a: 'first', 'k y': ' spaced ' },
      null,
      { deep: { '1': { '0': [0.0000015, 0] } }, tiny: 1e-7, neg: -0.0000001 },
    ];
    const results: unknown[] = [
      { label: 'ham', score: 0.9999999, scores: { ham: 0.9999999, spam: 1e-7 } },
      'just a string, with: separators',
      42,
      [1, 'two', null, [], {}],
      { summary: 'He said: "yes", then\\no.', sentence_indices: [0, 5, 9] },
      null,
    ];
    const docs = ids.map((id, i) => ({
      id,
      text: `Document ${i}.`,
      ...(metadata[i] ? { metadata: metadata[i] } : {}),
    }));
    const batchId = await upload(docs);
    await writeOutcomes(h.db.pool, [
      ...results.map((result, i) => ({ batchId, seq: i + 1, result: asResult(result) })),
      { batchId, seq: 7, error: { code: 'DOCUMENT_TOO_SHORT', message: 'x: "y", z\\' } },
    ]);

    const expected = await jsonPages(batchId);
    const { lines } = await ndjsonLines(`/v1/batches/${batchId}/results`);
    expect(lines).toEqual(expected.map((l) => JSON.stringify(l)));
    expect(lines.map((l) => JSON.parse(l) as Line)).toEqual(
      ids.map((id, i) => ({
        id,
        status: i < 6 ? 'completed' : 'failed',
        result: i < 6 ? (results[i] ?? null) : null,
        error: i < 6 ? null : { code: 'DOCUMENT_TOO_SHORT', message: 'x: "y", z\\' },
        metadata: metadata[i] ?? null,
      })),
    );
    // Integer-like keys come first, as JSON.parse orders them (jsonb stores shorter keys first).
    expect(lines[0]).toContain('"metadata":{"2":3,"10":2,"b":1}}');
    expect(lines[0]).toContain('"spam":1e-7}');
  });

  it('for 1,500 pseudo-random values, filtered by one status, by two, and paged with limit', async () => {
    const rnd = prng(20261202);
    const n = 1_500;
    const docs = Array.from({ length: n }, (_, i) => {
      const meta = randomValue(rnd, 1);
      return {
        id: `r${i + 1}${i % 7 === 0 ? ' "é"\\' : ''}`,
        text: `Document ${i + 1}.`,
        ...(meta && typeof meta === 'object' && !Array.isArray(meta) ? { metadata: meta } : {}),
      };
    });
    const batchId = await upload(docs);
    // Every third document failed, every 50th stays queued (the batch is still running).
    await writeOutcomes(
      h.db.pool,
      Array.from({ length: n }, (_, i) => i + 1)
        .filter((seq) => seq % 50 !== 0)
        .map((seq) =>
          seq % 3 === 0
            ? { batchId, seq, error: { code: 'E', message: String(randomValue(rnd, 3)) } }
            : { batchId, seq, result: asResult(randomValue(rnd, 0)) },
        ),
    );

    for (const query of ['', '&status=failed', '&status=completed,failed']) {
      const expected = (await jsonPages(batchId, query)).map((l) => JSON.stringify(l));
      const all = await ndjsonLines(`/v1/batches/${batchId}/results${query ? `?${query.slice(1)}` : ''}`);
      expect(all.res.headers.get('x-next-cursor')).toBeNull();
      expect(all.lines).toEqual(expected);
      // The same lines in pages of 400 that follow X-Next-Cursor.
      const paged: string[] = [];
      let cursor: string | null = null;
      let requests = 0;
      do {
        const page = await ndjsonLines(
          `/v1/batches/${batchId}/results?limit=400${query}${cursor ? `&after=${cursor}` : ''}`,
        );
        paged.push(...page.lines);
        cursor = page.res.headers.get('x-next-cursor');
        requests++;
        expect(page.lines.length).toBe(cursor ? 400 : expected.length - (requests - 1) * 400);
      } while (cursor);
      expect(requests).toBe(Math.ceil(expected.length / 400));
      expect(paged).toEqual(expected);
    }
    const failed = (await ndjsonLines(`/v1/batches/${batchId}/results?status=failed`)).lines;
    expect(failed).toHaveLength(490);
    expect(failed.every((l) => (JSON.parse(l) as Line).status === 'failed')).toBe(true);
    // Queued documents are not results.
    const all = (await ndjsonLines(`/v1/batches/${batchId}/results`)).lines.map(
      (l) => (JSON.parse(l) as Line).id,
    );
    expect(all).toHaveLength(1_470);
    expect(all).not.toContain('r50');
  });
});

describe('large results', () => {
  // Results of ~6 KB: a page of STREAM_PAGE_BYTES holds a few hundred, so the stream reads several
  // smaller pages and a limited stream too large to buffer finds its end with a boundary query.
  const N = 1_200;
  const big = (seq: number): string => `${seq} `.padEnd(6_000, 'translated text, ');
  let batchId: string;
  beforeAll(async () => {
    batchId = await upload(Array.from({ length: N }, (_, i) => ({ id: `b${i + 1}`, text: `Doc ${i + 1}.` })));
    const all = Array.from({ length: N }, (_, i) => ({
      batchId,
      seq: i + 1,
      result: { translation: big(i + 1), source_lang: 'en', target_lang: 'es' },
    }));
    for (let i = 0; i < N; i += 400) await writeOutcomes(h.db.pool, all.slice(i, i + 400));
  });

  it('streams every line in order in pages of a few hundred rows', async () => {
    expect(N * 6_000).toBeGreaterThan(3 * STREAM_PAGE_BYTES);
    const { lines } = await ndjsonLines(`/v1/batches/${batchId}/results`);
    expect(lines).toHaveLength(N);
    expect(lines.map((l) => (JSON.parse(l) as Line).id)).toEqual(
      Array.from({ length: N }, (_, i) => `b${i + 1}`),
    );
    // Keys in jsonb order (by length, then bytes), as the API has always sent them.
    expect(lines[N - 1]).toBe(
      `{"id":"b${N}","status":"completed","result":{"source_lang":"en","target_lang":"es",` +
        `"translation":${JSON.stringify(big(N))}},"error":null,"metadata":null}`,
    );
    expect(lines).toEqual((await jsonPages(batchId)).map((l) => JSON.stringify(l)));
  });

  it('pages a limit larger than one buffered page with exact cursors', async () => {
    const seen: string[] = [];
    const cursors: (string | null)[] = [];
    let cursor: string | null = null;
    do {
      const page = await ndjsonLines(
        `/v1/batches/${batchId}/results?limit=700${cursor ? `&after=${cursor}` : ''}`,
      );
      seen.push(...page.lines.map((l) => (JSON.parse(l) as Line).id));
      cursor = page.res.headers.get('x-next-cursor');
      cursors.push(cursor);
    } while (cursor);
    expect(cursors.map((c) => c !== null)).toEqual([true, false]);
    expect(seen).toEqual(Array.from({ length: N }, (_, i) => `b${i + 1}`));
    // A limit that ends exactly at the last result has no cursor.
    const exact = await ndjsonLines(`/v1/batches/${batchId}/results?limit=${N}`);
    expect(exact.lines).toHaveLength(N);
    expect(exact.res.headers.get('x-next-cursor')).toBeNull();
  });

  it('streams pages of non-ASCII results, which take more bytes than characters', async () => {
    // 2 to 4 bytes per UTF-16 unit: more than the first buffer of a page assumes.
    const text = (i: number): string => `${i} ${'üñî'.repeat(300)}${'日本語'.repeat(300)}🎉`;
    const id = await upload(Array.from({ length: 300 }, (_, i) => ({ id: `ü${i + 1}`, text: 'x' })));
    await writeOutcomes(
      h.db.pool,
      Array.from({ length: 300 }, (_, i) => ({
        batchId: id,
        seq: i + 1,
        result: { translation: text(i + 1), source_lang: 'en', target_lang: 'es' },
      })),
    );
    const { lines } = await ndjsonLines(`/v1/batches/${id}/results`);
    expect(lines).toHaveLength(300);
    expect(lines).toEqual((await jsonPages(id)).map((l) => JSON.stringify(l)));
    expect((JSON.parse(lines[299] as string) as { result: { translation: string } }).result.translation).toBe(
      text(300),
    );
  });

  it('answers 404 to another tenant', async () => {
    const other = await h.newTenant('other-results');
    const res = await h.request(`/v1/batches/${batchId}/results`, { key: other.key });
    expect(res.status).toBe(404);
    expect((await json<{ error: { code: string } }>(res)).error.code).toBe('NOT_FOUND');
  });
});
