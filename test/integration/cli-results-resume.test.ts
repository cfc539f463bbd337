import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DocBatchClient } from '@docbatch/sdk';
import type { DocumentInput } from '@docbatch/sdk';
import { processDocuments, startCliHarness } from './cli-harness';
import type { CliHarness } from './cli-harness';

/**
 * `docbatch results` through a proxy that cuts the first responses of the results endpoint in the
 * middle (after a few KB, mid-line): the download resumes from the last page cursor and the file
 * holds every result exactly once, in input order, byte-identical to an uninterrupted download.
 */

const N = 3_000;
let h: CliHarness;
let dir: string;
let key: string;
let batchId: string;

/** An HTTP proxy to the API that destroys the connection after `cutAfter[i]` response bytes of the i-th results request. */
function cuttingProxy(
  target: string,
  cutAfter: number[],
): Promise<{ url: string; cuts: () => number; close(): Promise<void> }> {
  let resultsRequests = 0;
  let cuts = 0;
  const server = http.createServer((req, res) => {
    const upstream = http.request(
      `${target}${req.url}`,
      { method: req.method, headers: req.headers },
      (up) => {
        const isResults = /\/results(\?|$)/.test(req.url ?? '');
        const limit = isResults ? cutAfter[resultsRequests++] : undefined;
        res.writeHead(up.statusCode ?? 502, up.headers);
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          if (limit !== undefined && sent + chunk.length >= limit) {
            res.write(chunk.subarray(0, limit - sent), () => {
              cuts++;
              res.socket?.destroy();
              up.destroy();
            });
            sent = limit;
            up.removeAllListeners('data');
            return;
          }
          sent += chunk.length;
          res.write(chunk);
        });
        up.on('end', () => res.end());
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        cuts: () => cuts,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      }),
    ),
  );
}

// Subprocesses and a live API: allow for a loaded CI machine.
jest.setTimeout(120_000);

beforeAll(async () => {
  h = await startCliHarness();
  dir = mkdtempSync(path.join(tmpdir(), 'docbatch-resume-'));
  const r = await h.cli(['keys', 'create', '--tenant', 'resume', '--json']);
  key = (JSON.parse(r.stdout) as { api_key: string }).api_key;
  const sdk = new DocBatchClient({ baseUrl: h.url, apiKey: key });
  const docs = function* (): Generator<DocumentInput> {
    for (let i = 1; i <= N; i++)
      yield { id: `r${i}`, text: `Result number ${i}. ${'padding '.repeat(i % 7)}` };
  };
  const batch = await sdk.createBatch({ task: 'summarization', documents: () => docs() });
  batchId = batch.id;
  await processDocuments(h.db, batchId, { failIds: new Set(['r10', 'r2999']) });
});
afterAll(async () => {
  await h?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('resumes a download cut mid-stream, without duplicates or gaps', async () => {
  const direct = await h.cli(['results', batchId], { env: { DOCBATCH_API_KEY: key } });
  expect(direct.code).toBe(0);
  const expected = direct.stdout;
  expect(expected.split('\n').filter(Boolean)).toHaveLength(N);

  // Pages of 1,000 lines; the 1st, 2nd (same page again) and 4th (the second page) responses are cut.
  const proxy = await cuttingProxy(h.url, [5_000, 40_000, Infinity, 17_000]);
  try {
    const out = path.join(dir, 'results.ndjson');
    const r = await h.cli(['results', batchId, '--out', out, '--page-size', '1000', '--url', proxy.url], {
      env: { DOCBATCH_API_KEY: key },
    });
    expect(r.stderr).toContain(`wrote 3,000 results to ${out}`);
    expect(r.code).toBe(0);
    expect(proxy.cuts()).toBe(3);
    const got = readFileSync(out, 'utf8');
    const ids = got
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids).toEqual(Array.from({ length: N }, (_, i) => `r${i + 1}`));
    expect(got).toBe(expected);
  } finally {
    await proxy.close();
  }
});
