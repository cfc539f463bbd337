import { json, ndjson, startApi } from './api-harness';
import type { ApiHarness } from './api-harness';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi();
});
afterAll(async () => {
  await h.stop();
});

describe('POST /v1/batches', () => {
  it('creates a batch from NDJSON', async () => {
    const res = await h.request(
      '/v1/batches?task=summarization&priority=3&metadata=' + encodeURIComponent('{"project":"x"}'),
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: ndjson(1200),
      },
    );
    const body = await json(res);
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v1/batches/${body.id as string}`);
    expect(body).toMatchObject({
      object: 'batch',
      task: 'summarization',
      model: 'extractive-summarizer@1',
      status: 'queued',
      priority: 3,
      metadata: { project: 'x' },
      counts: { total: 1200, queued: 1200, running: 0, completed: 0, failed: 0, cancelled: 0, expired: 0 },
    });
    const jobs = await h.chunkJobs('summarization');
    expect(jobs.length).toBe(3);
  });
});
