/**
 * Child process of native-worker-cycles.test.ts: `--cycles N` times, starts a WorkerProcess on the
 * native backend (TF_BACKEND from the environment), waits until it has processed documents (odd
 * cycles) or not (even cycles: a worker stopped before any job), and stops it; then lets the process
 * end by itself. Each stop ends the inference thread that loaded tfjs-node's binding: linked without
 * `-z nodelete`, Node unloads the binding then, and the process crashes at exit (SIGSEGV in every
 * run of a worker stopped before any job; measured).
 */
import { loadConfig } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import { WorkerProcess } from '../../src/workers/worker-process';

async function main(): Promise<void> {
  const i = process.argv.indexOf('--cycles');
  const cycles = Number(process.argv[i + 1] ?? '1');
  for (let c = 1; c <= cycles; c++) {
    const worker = new WorkerProcess(loadConfig('worker', process.env), createLogger('silent'));
    await worker.start();
    const processed = (): number => (worker as unknown as { documentsTotal: number }).documentsTotal;
    const deadline = Date.now() + 60_000;
    while (c % 2 === 1 && processed() === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const docs = processed();
    await worker.stop();
    console.log(`cycle ${c}: backend ${worker.backend}, ${docs} documents`);
  }
  // The process must end on its own once every handle is closed; this guard only reports a hang.
  setTimeout(() => {
    console.error('the process did not end by itself');
    process.exit(3);
  }, 30_000).unref();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
