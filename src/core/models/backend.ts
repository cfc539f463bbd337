import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

/**
 * TensorFlow.js backend selection (`TF_BACKEND`).
 *
 * - `tensorflow-gpu`: native libtensorflow with CUDA (`@tensorflow/tfjs-node-gpu`, optional install).
 * - `tensorflow`: native libtensorflow on the CPU (`@tensorflow/tfjs-node`, optional install).
 * - `wasm`: WebAssembly with SIMD (`@tensorflow/tfjs-backend-wasm`, always installed); binaries are
 *   loaded from the package's `dist/` directory on disk, never fetched.
 * - `cpu`: plain JavaScript kernels (always available, slowest).
 * - `auto` (default): the first of the above, in that order, that loads.
 */
export const TF_BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type TfBackendChoice = (typeof TF_BACKEND_CHOICES)[number];
/** The tfjs backend names the choices map to (`tf.getBackend()`). */
export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';

export type BackendLog = (msg: string, fields?: object) => void;

/** Raised when an explicitly requested backend cannot be used. */
export class BackendUnavailableError extends Error {
  readonly code = 'BACKEND_UNAVAILABLE';
  constructor(
    readonly choice: TfBackendChoice,
    reason: string,
  ) {
    super(`TF_BACKEND=${choice} is not available: ${reason}`);
    this.name = 'BackendUnavailableError';
  }
}

interface BackendState {
  choice: TfBackendChoice;
  name: TfBackendName;
}

let current: BackendState | undefined;
let pending: Promise<TfBackendName> | undefined;

/** Directory (with trailing separator) holding the tfjs wasm binaries of the installed package. */
export function wasmBinaryDir(): string {
  const pkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return path.join(path.dirname(pkg), 'dist') + path.sep;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/**
 * Loads a native tfjs-node package. These are optional: their install downloads libtensorflow, so
 * they are not declared in package.json and are absent on most machines. Importing one registers the
 * `tensorflow` backend with the shared tfjs engine.
 */
function loadNative(pkg: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu'): void {
  // A computed specifier keeps bundlers and type checking from requiring the optional package.
  const specifier: string = pkg;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(specifier);
}

async function activate(name: TfBackendName): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
  if (tf.getBackend() !== name) throw new Error(`active backend is ${tf.getBackend()}, not ${name}`);
}

async function tryNative(pkg: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu'): Promise<void> {
  loadNative(pkg);
  if (tf.findBackendFactory('tensorflow') == null) {
    throw new Error(`${pkg} loaded but registered no 'tensorflow' backend (tfjs version mismatch?)`);
  }
  await activate('tensorflow');
}

async function tryWasm(): Promise<void> {
  // Registers the 'wasm' backend factory as a side effect.
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(wasmBinaryDir());
  await activate('wasm');
}

async function tryChoice(choice: Exclude<TfBackendChoice, 'auto'>): Promise<TfBackendName> {
  switch (choice) {
    case 'tensorflow-gpu':
      await tryNative('@tensorflow/tfjs-node-gpu');
      return 'tensorflow';
    case 'tensorflow':
      await tryNative('@tensorflow/tfjs-node');
      return 'tensorflow';
    case 'wasm':
      await tryWasm();
      return 'wasm';
    case 'cpu':
      await activate('cpu');
      return 'cpu';
  }
}

async function select(choice: TfBackendChoice, log?: BackendLog): Promise<TfBackendName> {
  if (choice !== 'auto') {
    try {
      return await tryChoice(choice);
    } catch (err) {
      throw new BackendUnavailableError(choice, errorText(err));
    }
  }
  const order = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
  const failures: string[] = [];
  for (const candidate of order) {
    try {
      const name = await tryChoice(candidate);
      log?.('tfjs backend selected', { choice, candidate, backend: name, skipped: failures });
      return name;
    } catch (err) {
      failures.push(`${candidate}: ${errorText(err)}`);
    }
  }
  throw new BackendUnavailableError('auto', failures.join('; '));
}

/**
 * Selects and initialises the TensorFlow.js backend and returns the name actually in use
 * (`tensorflow`, `wasm` or `cpu`), for logs and `GET /v1/models`.
 *
 * Idempotent: a second call with the same choice returns the same backend without reinitialising;
 * a call with a different choice switches backends (tensors already allocated stay readable, tfjs
 * moves them on first use). An explicit choice that cannot load throws {@link BackendUnavailableError};
 * `auto` falls back in the order tensorflow-gpu, tensorflow, wasm, cpu.
 */
export async function initTfBackend(
  choice: TfBackendChoice = 'auto',
  log?: BackendLog,
): Promise<TfBackendName> {
  if (!(TF_BACKEND_CHOICES as readonly string[]).includes(choice)) {
    throw new BackendUnavailableError(choice, `unknown choice; use one of ${TF_BACKEND_CHOICES.join(', ')}`);
  }
  while (pending) await pending.catch(() => undefined);
  if (current && current.choice === choice && tf.getBackend() === current.name) return current.name;
  const run = select(choice, log).then((name) => {
    current = { choice, name };
    return name;
  });
  pending = run;
  try {
    return await run;
  } finally {
    pending = undefined;
  }
}

/** The backend picked by the last successful {@link initTfBackend} call, if any. */
export function currentTfBackend(): TfBackendName | undefined {
  return current?.name;
}
