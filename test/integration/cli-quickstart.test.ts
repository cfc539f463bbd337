import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import type { ClassificationResult, ResultLine } from '@docbatch/sdk';
import { WorkerProcess } from '../../src/workers/worker-process';
import { startCliHarness } from './cli-harness';
import type { CliHarness } from './cli-harness';

/**
 * The README quick start, end to end with the real worker and the bundled spam classifier:
 * create a key, submit examples/spam-sample.ndjson --wait --out, read the results.
 */

jest.setTimeout(300_000);

const SAMPLE = path.resolve(__dirname, '../../examples/spam-sample.ndjson');
let h: CliHarness;
let worker: WorkerProcess;
let dir: string;

beforeAll(async () => {
  h = await startCliHarness();
  dir = mkdtempSync(path.join(tmpdir(), 'docbatch-quickstart-'));
  worker = new WorkerProcess(
    loadConfig('worker', {
      ...h.env.env,
      TF_BACKEND: 'wasm',
      WORKER_TASKS: 'classification',
      LOG_LEVEL: 'silent',
    }),
    createLogger('silent'),
  );
  await worker.start();
});
afterAll(async () => {
  await worker?.stop();
  await h?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('keys create, submit the bundled sample --wait --out, results: every email classified', async () => {
  const created = await h.cli(['keys', 'create', '--tenant', 'demo', '--json']);
  expect(created.code).toBe(0);
  const { api_key } = JSON.parse(created.stdout) as { api_key: string };
  const out = path.join(dir, 'results.ndjson');
  const started = Date.now();
  const run = await h.cli(['submit', SAMPLE, '--task', 'classification', '--wait', '--out', out], {
    env: { DOCBATCH_API_KEY: api_key },
  });
  const seconds = (Date.now() - started) / 1000;
  expect(run.stderr).toMatch(/created bat_/);
  expect(run.code).toBe(0);
  const batchId = run.stdout.trim();

  const input = readFileSync(SAMPLE, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { id: string; metadata: { label: string } });
  const results = readFileSync(out, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ResultLine<ClassificationResult>);
  expect(results.map((r) => r.id)).toEqual(input.map((d) => d.id));
  expect(results.every((r) => r.status === 'completed' && r.result !== null)).toBe(true);
  // The sample carries the corpus' ground truth in metadata: the bundled model must be useful on it.
  const correct = results.filter((r) => r.result?.label === (r.metadata as { label: string }).label).length;
  const accuracy = correct / results.length;
  expect(accuracy).toBeGreaterThan(0.9);
  console.log(
    `quick start: ${results.length} emails classified in ${seconds.toFixed(1)} s (submit to results file), accuracy ${(accuracy * 100).toFixed(1)}%`,
  );

  // `results --status failed` is empty; `status` says completed.
  const [failed, status] = await Promise.all([
    h.cli(['results', batchId, '--status', 'failed'], { env: { DOCBATCH_API_KEY: api_key } }),
    h.cli(['status', batchId], { env: { DOCBATCH_API_KEY: api_key } }),
  ]);
  expect(failed.stdout).toBe('');
  expect(status.stdout).toMatch(/^status\s+completed$/m);
});
