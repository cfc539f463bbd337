import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import { WorkerProcess } from '../../src/workers/worker-process';
import { BROKEN_MODEL_REPO, expectedScores, MODEL_REPO, modelFixtures } from '../support/model-fixtures';
import { waitFor } from '../support/wait-for';
import { json, startApi } from './api-harness';
import type { ApiHarness } from './api-harness';
import { inheritedEnv, runCliProcess } from './cli-harness';

/**
 * Users' own models, served as a user would serve them: the files Keras 2, Keras 3, the
 * TensorFlow.js converter and Hugging Face `tokenizers` wrote (test/fixtures/model-repo, made by
 * scripts/models/fixtures/make_model_fixtures.py) in MODELS_DIR, a batch of each fixture's 200 texts
 * through the HTTP API, a real worker on the wasm and on the cpu backend, results read back through
 * the API: every score equals the framework's own prediction within 1e-4. Broken fixtures are
 * refused when the repository is read, by the API and by `docbatch models check`, and a batch whose
 * model breaks after it was accepted ends `failed` fast with the cause.
 */

jest.setTimeout(300_000);

const FIXTURES = modelFixtures();
const TOLERANCE = 1e-4;

interface ResultLine {
  id: string;
  status: string;
  result: { label: string; score: number; scores: Record<string, number> } | null;
  error: { code: string; message: string } | null;
}

/**
 * Submits texts as documents `t<index>`. The API contract refuses an empty `text`: such fixture
 * texts (Keras scores them as all padding; the unit parity suite covers them) are left out.
 */
async function submit(h: ApiHarness, model: string, texts: string[]): Promise<Response> {
  return h.request('/v1/batches', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      task: 'classification',
      model,
      documents: texts.flatMap((text, i) => (text === '' ? [] : [{ id: `t${i}`, text }])),
    }),
  });
}

interface BatchEnd {
  status: string;
  error: { code: string; message: string } | null;
  counts: Record<string, number>;
}

async function waitForEnd(h: ApiHarness, id: string, timeoutMs = 120_000): Promise<BatchEnd> {
  const end = await waitFor(
    async () => {
      const b = await json<BatchEnd>(await h.request(`/v1/batches/${id}`));
      return ['completed', 'failed', 'cancelled', 'expired'].includes(b.status) ? b : null;
    },
    `batch ${id} to end`,
    timeoutMs,
    100,
  );
  return end!;
}

async function results(h: ApiHarness, id: string): Promise<ResultLine[]> {
  const res = await h.request(`/v1/batches/${id}/results`);
  expect(res.status).toBe(200);
  return (await res.text())
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ResultLine);
}

function startWorker(h: ApiHarness, backend: string, modelsDir: string): Promise<WorkerProcess> {
  const worker = new WorkerProcess(
    loadConfig('worker', {
      ...h.env.env,
      TF_BACKEND: backend,
      MODELS_DIR: modelsDir,
      WORKER_TASKS: 'classification',
      CHUNK_ATTEMPTS: '3',
    }),
    createLogger('silent'),
    { heartbeatMs: 200 },
  );
  return worker.start().then(() => worker);
}

describe('users’ own models through the API', () => {
  let h: ApiHarness;

  beforeAll(async () => {
    h = await startApi({ MODELS_DIR: MODEL_REPO });
  });
  afterAll(() => h?.stop());

  it('GET /v1/models lists every fixture with its labels', async () => {
    const list = await json<{ data: { id: string; task: string; labels: string[] }[] }>(
      await h.request('/v1/models'),
    );
    for (const f of FIXTURES) {
      expect(list.data).toContainEqual(
        expect.objectContaining({ id: f.id, task: 'classification', labels: f.config.labels }),
      );
    }
    expect(FIXTURES.length).toBeGreaterThanOrEqual(5);
  });

  describe.each(['wasm', 'cpu'])('with a worker on %s', (backend) => {
    let worker: WorkerProcess;
    beforeAll(async () => {
      worker = await startWorker(h, backend, MODEL_REPO);
      // GET /v1/models reports the backend the live workers run (from their heartbeats).
      await waitFor(
        async () =>
          (await json<{ data: { backend: string }[] }>(await h.request('/v1/models'))).data[0]?.backend ===
          (backend === 'wasm' ? 'wasm' : 'cpu'),
        `the worker to report backend ${backend}`,
      );
    });
    afterAll(() => worker?.stop());

    it.each(FIXTURES.map((f) => [f.name, f] as const))(
      "%s: every text scores like the framework's own predict (within 1e-4)",
      async (_name, f) => {
        const res = await submit(h, f.id, f.expected.texts);
        const batch = await json<{ id: string; model: string }>(res);
        expect(res.status).toBe(201);
        expect(batch.model).toBe(f.id);
        const end = await waitForEnd(h, batch.id);
        expect(end).toMatchObject({ status: 'completed', error: null });
        const lines = await results(h, batch.id);
        expect(lines).toHaveLength(f.expected.texts.filter((t) => t !== '').length);
        expect(lines.length).toBeGreaterThanOrEqual(190);
        let worst = 0;
        for (const line of lines) {
          expect(line).toMatchObject({ status: 'completed', error: null });
          const want = expectedScores(f, Number(line.id.slice(1)));
          for (const [label, score] of Object.entries(want)) {
            worst = Math.max(worst, Math.abs(line.result!.scores[label]! - score));
          }
        }
        expect(worst).toBeLessThanOrEqual(TOLERANCE);
      },
    );
  });
});

describe('broken models', () => {
  const broken = ['wrong-vocab', 'fixed-length-conflict', 'wrong-labels', 'unreadable'];
  /** What each refusal must name: code, file and field. */
  const expectedProblem: Record<string, { code: string; message: RegExp }> = {
    'wrong-vocab': { code: 'MODEL_INCOMPATIBLE', message: /vocabulary|input_dim|embedding/ },
    'fixed-length-conflict': { code: 'MODEL_INCOMPATIBLE', message: /config\.json input\.length/ },
    'wrong-labels': { code: 'MODEL_INCOMPATIBLE', message: /config\.json labels/ },
    unreadable: { code: 'MODEL_LOAD_FAILED', message: /model\.h5/ },
  };

  it('docbatch models check names the model, code, file and field of each, and exits 1', async () => {
    const env = { ...inheritedEnv(), TF_BACKEND: 'cpu', LOG_LEVEL: 'silent' };
    const run = await runCliProcess(['--json', 'models', 'check', BROKEN_MODEL_REPO], env);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as {
      ok: boolean;
      problems: { id: string; code: string; message: string; file?: string }[];
    };
    expect(report.ok).toBe(false);
    for (const name of broken) {
      const p = report.problems.find((x) => x.id === `${name}@1`);
      expect(p).toMatchObject({ code: expectedProblem[name]!.code });
      expect(p!.message).toMatch(expectedProblem[name]!.message);
      expect(p!.message.length).toBeLessThan(500);
    }
    const ok = await runCliProcess(['models', 'check', MODEL_REPO], env);
    expect(ok.stderr).toMatch(/0 refused/);
    expect(ok.code).toBe(0);
  });

  it('are not listed by GET /v1/models, and a batch naming one is refused with the cause', async () => {
    const h = await startApi({ MODELS_DIR: BROKEN_MODEL_REPO });
    try {
      const list = await json<{ data: { id: string }[] }>(await h.request('/v1/models'));
      for (const name of broken) expect(list.data.map((m) => m.id)).not.toContain(`${name}@1`);
      for (const name of broken) {
        const res = await submit(h, name, ['a text']);
        const body = await json<{ error: { code: string; message: string } }>(res);
        expect(res.status).toBe(422);
        expect(body.error.code).toBe('UNKNOWN_MODEL');
        expect(body.error.message).toMatch(new RegExp(`${name}@1' is not served: `));
        expect(body.error.message).toMatch(expectedProblem[name]!.message);
      }
    } finally {
      await h.stop();
    }
  });

  it('a batch whose model breaks after it was accepted ends failed within seconds, with the cause', async () => {
    // A working model is accepted by the API; then its files are replaced by a broken fixture's
    // (an operator copying new files over a served version) before the worker loads it.
    const repo = mkdtempSync(path.join(os.tmpdir(), 'docbatch-user-models-'));
    const good = FIXTURES.find((f) => f.name === 'seeds-lstm-keras3-h5')!;
    for (const name of broken) {
      const dir = path.join(repo, name, '1');
      cpSync(good.dir, dir, { recursive: true });
      const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, name }));
    }
    const h = await startApi({ MODELS_DIR: repo });
    let worker: WorkerProcess | undefined;
    try {
      const ids: Record<string, string> = {};
      for (const name of broken) {
        const res = await submit(h, name, good.expected.texts.slice(1, 51));
        expect(res.status).toBe(201);
        ids[name] = (await json<{ id: string }>(res)).id;
      }
      for (const name of broken) {
        rmSync(path.join(repo, name, '1'), { recursive: true });
        cpSync(path.join(BROKEN_MODEL_REPO, name, '1'), path.join(repo, name, '1'), { recursive: true });
      }
      worker = await startWorker(h, 'wasm', repo);
      for (const name of broken) {
        const started = Date.now();
        const end = await waitForEnd(h, ids[name]!, 60_000);
        expect(Date.now() - started).toBeLessThan(30_000);
        expect(end.status).toBe('failed');
        expect(end.error?.code).toBe(expectedProblem[name]!.code);
        expect(end.error?.message).toMatch(expectedProblem[name]!.message);
        const lines = await results(h, ids[name]!);
        expect(lines).toHaveLength(50);
        for (const line of lines) expect(line).toMatchObject({ status: 'failed', error: end.error });
      }
    } finally {
      await worker?.stop();
      await h.stop();
      rmSync(repo, { recursive: true, force: true });
    }
  });
});
