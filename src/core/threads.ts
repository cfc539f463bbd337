import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread from a module beside the caller: `<dir>/<name>.js` when compiled (npm
 * start), else `<dir>/<name>.ts` compiled with @swc/core through a require hook, as the parent is
 * under the tests and `scripts/run-ts.js`.
 */
const TS_HOOK = `
const fs = require('node:fs');
const Module = require('node:module');
const { transformSync } = require('@swc/core');
Module._extensions['.ts'] = function (module, filename) {
  const code = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename, sourceMaps: 'inline', module: { type: 'commonjs' },
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
  }).code;
  module._compile(code, filename);
};
// @docbatch/sdk and @docbatch/cli from their sources too, as scripts/run-ts.js does.
require(${JSON.stringify(path.resolve(__dirname, '../../scripts/workspace-sources.js'))}).register();
`;

export function threadEntry(dir: string, name: string): { file: string; eval: boolean } {
  const js = path.join(dir, `${name}.js`);
  if (existsSync(js)) return { file: js, eval: false };
  const ts = path.join(dir, `${name}.ts`);
  return { file: `${TS_HOOK}\nrequire(${JSON.stringify(ts)});`, eval: true };
}

export function spawnThread(dir: string, name: string, options: WorkerOptions = {}): Worker {
  const entry = threadEntry(dir, name);
  return new Worker(entry.file, { ...options, eval: entry.eval });
}

/** `INGEST_THREADS`'s default: one core left to the event loop, from 1 to 4 threads. */
export function defaultIngestThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}
