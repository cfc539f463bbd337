import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DocBatchClient, InvalidRequestError } from '@docbatch/sdk';
import type { TrainingJob } from '@docbatch/sdk';
import { loadConfig } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import { WorkerProcess } from '../../src/workers/worker-process';
import { loadUciSentences } from '../support/uci-sentences';
import { startCliHarness } from './cli-harness';
import type { CliHarness } from './cli-harness';

/**
 * `docbatch train` and `docbatch training-jobs` as a user runs them (subprocesses against a live API
 * and a real worker), and the SDK's training-job methods: a labelled CSV (quoted fields with commas,
 * custom column names) trains a model; CSV and server errors name the lines of the file.
 */

jest.setTimeout(240_000);

let h: CliHarness;
let worker: WorkerProcess;
let key: string;
let dir: string;
const authed = (): Record<string, string> => ({ DOCBATCH_API_KEY: key });

const sentences = loadUciSentences();
const pos = sentences.filter((s) => s.label === 'positive').slice(0, 100);
const neg = sentences.filter((s) => s.label === 'negative').slice(0, 100);
const mixed = pos.flatMap((p, i) => [p, neg[i]!]);
const csvField = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

beforeAll(async () => {
  h = await startCliHarness();
  worker = new WorkerProcess(
    loadConfig('worker', { ...h.env.env, TF_BACKEND: 'cpu', WORKER_TASKS: 'classification' }),
    createLogger('silent'),
  );
  await worker.start();
  dir = mkdtempSync(path.join(tmpdir(), 'docbatch-train-'));
  const r = await h.cli(['keys', 'create', '--tenant', 'acme', '--json']);
  expect(r.code).toBe(0);
  key = (JSON.parse(r.stdout) as { api_key: string }).api_key;
}, 90_000);

afterAll(async () => {
  await worker?.stop();
  await h?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}

it('trains from a labelled CSV with custom columns and --wait prints the model; training-jobs list/get/cancel', async () => {
  const csv = file(
    'reviews.csv',
    'id,review,sentiment\n' + mixed.map((s, i) => `${i},${csvField(s.text)},${s.label}`).join('\n') + '\n',
  );
  const r = await h.cli(
    [
      'train',
      csv,
      '--name',
      'reviews',
      '--text-column',
      'review',
      '--label-column',
      'sentiment',
      '--epochs',
      '3',
      '--seed',
      '3',
      '--hyperparameters',
      '{"pretrained_words": 1000}',
      '--wait',
    ],
    { env: authed() },
  );
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  expect(r.stdout.trim()).toBe('reviews@1');
  expect(r.stderr).toMatch(/created tj_[0-9a-z]+: 200 examples, 2 labels, model reviews/);
  expect(r.stderr).toMatch(/epoch 3\/3/);
  expect(r.stderr).toMatch(/succeeded: model reviews@1, held-out accuracy \d+\.\d%/);

  // The walkthrough's next step: classify new texts with the new model.
  const fresh = sentences.filter((s) => s.label === 'positive').slice(500, 510);
  const newCsv = file('new.csv', 'text\n' + fresh.map((s) => csvField(s.text)).join('\n') + '\n');
  const outFile = path.join(dir, 'results.ndjson');
  const sub = await h.cli(
    ['submit', newCsv, '--task', 'classification', '--model', 'reviews@1', '--wait', '--out', outFile],
    { env: authed() },
  );
  expect({ code: sub.code, stderr: sub.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  const results = readFileSync(outFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { status: string; result: { label: string } });
  expect(results).toHaveLength(10);
  for (const r of results) expect(['positive', 'negative']).toContain(r.result.label);

  const list = await h.cli(['training-jobs', 'list', '--json'], { env: authed() });
  expect(list.code).toBe(0);
  const jobs = JSON.parse(list.stdout) as TrainingJob[];
  expect(jobs).toHaveLength(1);
  expect(jobs[0]).toMatchObject({
    status: 'succeeded',
    model: 'reviews@1',
    hyperparameters: { epochs: 3, seed: 3, pretrained_words: 1000 },
  });
  const table = await h.cli(['training-jobs', 'list'], { env: authed() });
  expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+MODEL\s+EPOCH/);
  const get = await h.cli(['training-jobs', 'get', jobs[0]!.id], { env: authed() });
  expect(get.code).toBe(0);
  expect(get.stdout).toMatch(/model:\s+reviews@1/);
  expect(get.stdout).toMatch(/examples:\s+200 \(negative 100, positive 100\)/);
  const cancel = await h.cli(['training-jobs', 'cancel', jobs[0]!.id], { env: authed() });
  expect(cancel.code).toBe(1);
  expect(cancel.stderr).toMatch(/TRAINING_JOB_FINISHED/);
  const usage = await h.cli(['training-jobs', 'frobnicate'], { env: authed() });
  expect(usage.code).toBe(2);
  const noName = await h.cli(['train', csv], { env: authed() });
  expect(noName.code).toBe(2);
  expect(noName.stderr).toMatch(/--name/);
});

it('names the lines of the file: a CSV parse error, a bad row the server refuses, a missing column', async () => {
  const rows = mixed.slice(0, 20).map((s) => `${csvField(s.text)},${s.label}`);
  // Row 6 of the data (line 7 of the file, after the header and a quoted two-line record) has an empty label.
  const withNewline = ['"a review that spans\ntwo lines",positive', ...rows];
  withNewline[5] = 'this one has no label,';
  const bad = file('bad-label.csv', 'text,label\n' + withNewline.join('\n') + '\n');
  const refused = await h.cli(['train', bad, '--name', 'x'], { env: authed() });
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/INVALID_DOCUMENT/);
  expect(refused.stderr).toMatch(/line 8 label: must be a non-empty string \(example 6\)/);

  const broken = file('broken.csv', 'text,label\n"fine",positive\n"never closed,negative\n');
  const parse = await h.cli(['train', broken, '--name', 'x'], { env: authed() });
  expect(parse.code).toBe(1);
  expect(parse.stderr).toMatch(/bad input: .*line 3/);

  const noColumn = file('nocol.csv', 'text,class\nhello,1\n');
  const col = await h.cli(['train', noColumn, '--name', 'x'], { env: authed() });
  expect(col.code).toBe(1);
  expect(col.stderr).toMatch(/no "label" column.*--label-column/);

  // NDJSON is sent as is: the server's lines are the file's.
  const nd = file('bad.ndjson', '{"text": "ok", "label": "a"}\n{"text": "no label"}\n');
  const ndr = await h.cli(['train', nd, '--name', 'x'], { env: authed() });
  expect(ndr.code).toBe(1);
  expect(ndr.stderr).toMatch(/line 2 label: must be a non-empty string/);
  const stored = await h.db.pool.query('SELECT count(*)::int AS n FROM training_jobs');
  expect(stored.rows[0].n).toBe(1);
});

it('SDK: createTrainingJob from an array, waitForTrainingJob with progress, listTrainingJobs, errors with lines', async () => {
  const sdk = new DocBatchClient({ baseUrl: h.url, apiKey: key });
  const job = await sdk.createTrainingJob({
    model: 'reviews',
    examples: mixed.map((s) => ({ text: s.text, label: s.label })),
    hyperparameters: { epochs: 2, seed: 9, pretrained_words: 1000 },
  });
  expect(job.status).toBe('queued');
  const seen: number[] = [];
  const done = await sdk.waitForTrainingJob(job.id, {
    intervalMs: 200,
    onProgress: (j) => {
      if (j.progress && seen[seen.length - 1] !== j.progress.epoch) seen.push(j.progress.epoch);
    },
  });
  expect(done).toMatchObject({ status: 'succeeded', model: 'reviews@2' });
  expect(seen[seen.length - 1]).toBe(2);
  const all = await sdk.listTrainingJobs({ limit: 1 }).toArray(Infinity);
  expect(all.map((j) => j.id)).toContain(job.id);
  const err = await sdk
    .createTrainingJob({ model: 'reviews', examples: [{ text: 'only', label: 'one' }] })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InvalidRequestError);
  expect((err as InvalidRequestError).code).toBe('INSUFFICIENT_TRAINING_DATA');
});
