import { spawn } from 'node:child_process';
import path from 'node:path';
import { nativePackageInstalled } from '../../src/core/models/backend';
import { createHarness, makeDocuments } from './pipeline-fixtures';
import type { PipelineHarness } from './pipeline-fixtures';

/**
 * 20 start/stop cycles of a worker on the native TensorFlow backend exit cleanly: 4 child processes
 * of 5 cycles each (alternately processing documents before the stop and stopping before any job),
 * and every process ends by itself with exit code 0 (no signal). Guards the `-Wl,-z,nodelete` link
 * of tfjs-node's binding (scripts/native-install.sh): with a binding linked without it, Node unloads
 * it when the last inference thread that loaded it ends, and every process of this test died of
 * SIGSEGV at exit. Runs where the native backend is installed (`npm run
 * native:install`); elsewhere it is skipped with that reason.
 */

const NATIVE = nativePackageInstalled('@tensorflow/tfjs-node');
const ROOT = path.resolve(__dirname, '../..');
const PROCESSES = 4;
const CYCLES = 5;

jest.setTimeout(600_000);

let h: PipelineHarness;

beforeAll(async () => {
  if (!NATIVE) return;
  h = await createHarness();
  // Enough 256-document chunks that every cycle finds work.
  await h.submit(
    { task: 'classification' },
    makeDocuments('classification', 256 * 4 * PROCESSES * CYCLES, 7),
  );
});
afterAll(async () => {
  await h?.close();
});

function runChild(
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'scripts/run-ts.js'),
        path.join(ROOT, 'test/support/native-worker-cycles.ts'),
        '--cycles',
        String(CYCLES),
      ],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code, signal) => resolve({ code, signal, out }));
  });
}

(NATIVE ? it : it.skip)(
  `${PROCESSES * CYCLES} start/stop cycles of a worker on the native backend exit cleanly${NATIVE ? '' : ' (skipped: native backend not installed, npm run native:install)'}`,
  async () => {
    const env = {
      ...process.env,
      ...h.env.env,
      TF_BACKEND: 'tensorflow',
      WORKER_TASKS: 'classification',
      WORKER_CONCURRENCY: '1',
      CHUNK_SIZE: '256',
      DB_POOL_SIZE: '4',
      LOG_LEVEL: 'silent',
    };
    for (let p = 1; p <= PROCESSES; p++) {
      const r = await runChild(env);
      const cycles = r.out.match(/^cycle \d+: backend tensorflow, \d+ documents$/gm) ?? [];
      const busy = r.out.match(/^cycle \d*[13579]: backend tensorflow, [1-9]\d* documents$/gm) ?? [];
      expect(busy).toHaveLength(Math.ceil(CYCLES / 2));
      expect({ process: p, code: r.code, signal: r.signal, cycles: cycles.length }).toEqual({
        process: p,
        code: 0,
        signal: null,
        cycles: CYCLES,
      });
    }
  },
);
