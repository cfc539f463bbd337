import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { applyNativeEnvDefaults } from './native-env';
import { installWasmKernels } from './wasm-kernels';

export { applyNativeEnvDefaults } from './native-env';

/**
 * TensorFlow.js backend selection (`TF_BACKEND`).
 *
 * - `tensorflow-gpu`: native libtensorflow with CUDA (`@tensorflow/tfjs-node-gpu`, optional install).
 * - `tensorflow`: native libtensorflow on the CPU (`@tensorflow/tfjs-node`, optional install).
 * - `wasm`: WebAssembly with SIMD (`@tensorflow/tfjs-backend-wasm`, always installed); binaries are
 *   loaded from the package's `dist/` directory on disk, never fetched.
 * - `cpu`: plain JavaScript kernels (always available, slowest).
 * - `auto` (default): the first of the above, in that order, that loads.
 *
 * The native packages live in `.native/node_modules/` of the project (`npm run native:install`,
 * scripts/native-install.sh), where the project's `npm install` never removes them; one installed
 * in `node_modules/` by hand is used too.
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
  detail: string;
}

let current: BackendState | undefined;
let pending: Promise<TfBackendName> | undefined;

type NativePackage = '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu';

/** The command that installs the native backend (README, docs/operations.md). */
export const NATIVE_INSTALL_COMMAND = 'npm run native:install';

if (isMainThread) applyNativeEnvDefaults();

/** Directory (with trailing separator) holding the tfjs wasm binaries of the installed package. */
export function wasmBinaryDir(): string {
  const pkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return path.join(path.dirname(pkg), 'dist') + path.sep;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/** The project root: the nearest directory above this file whose package.json is docbatch's. */
function projectRoot(): string | undefined {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'docbatch') return dir;
      } catch {
        // not ours; keep looking
      }
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Where `npm run native:install` puts the native packages (`<project>/.native`). */
export function nativeDir(): string | undefined {
  const root = projectRoot();
  return root && path.join(root, '.native');
}

interface NativeLocation {
  /** Directory of the package. */
  dir: string;
  /** How the log names it: `.native/node_modules/...` or `node_modules/...`. */
  where: string;
  /** What libtensorflow it was built against (from `.native/installed.json`), if known. */
  libtensorflow?: string;
}

/** Finds a native package: `.native/node_modules/<pkg>` first, then the usual module resolution. */
function locateNative(pkg: NativePackage): NativeLocation | undefined {
  const native = nativeDir();
  const root = native && path.dirname(native);
  if (native && existsSync(path.join(native, 'node_modules', pkg, 'package.json'))) {
    let libtensorflow: string | undefined;
    try {
      const info = JSON.parse(readFileSync(path.join(native, 'installed.json'), 'utf8')) as {
        package?: string;
        libtensorflow?: string;
      };
      if (info.package === pkg) libtensorflow = info.libtensorflow;
    } catch {
      // no record: built by hand
    }
    const dir = path.join(native, 'node_modules', pkg);
    return { dir, where: path.relative(root!, dir), ...(libtensorflow ? { libtensorflow } : {}) };
  }
  try {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`));
    return { dir, where: root ? path.relative(root, dir) : dir };
  } catch {
    return undefined;
  }
}

/** Whether a native package is installed (`.native/` or node_modules), without loading it. */
export function nativePackageInstalled(pkg: NativePackage): boolean {
  return locateNative(pkg) !== undefined;
}

/** Thrown (and logged under `auto`) when a native package is not installed at all. */
class NotInstalledError extends Error {}

/**
 * Loads a native tfjs-node package, which registers the `tensorflow` backend with the shared tfjs
 * engine. Refuses a package whose `@tensorflow/tfjs-core` is not this process's own: a second copy
 * would register its kernels with a second engine that the models never use.
 */
function loadNative(pkg: NativePackage): NativeLocation {
  const loc = locateNative(pkg);
  if (!loc) {
    throw new NotInstalledError(
      pkg === '@tensorflow/tfjs-node'
        ? `native backend not installed, run ${NATIVE_INSTALL_COMMAND}`
        : `${pkg} not installed (${NATIVE_INSTALL_COMMAND} -- --gpu)`,
    );
  }
  const ours = require.resolve('@tensorflow/tfjs-core');
  const theirs = require.resolve('@tensorflow/tfjs-core', { paths: [loc.dir] });
  if (ours !== theirs) {
    throw new Error(
      `${loc.where} uses a second @tensorflow/tfjs-core (${theirs}); run ${NATIVE_INSTALL_COMMAND} -- --force`,
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(loc.dir);
  return loc;
}

/**
 * Keeps tfjs-backend-cpu's "Hi, looks like you are running TensorFlow.js in Node.js ... install our
 * node backend" banner, which it prints on the first tensor of every cpu backend instance (the
 * tokenizer thread's, the API's, any default one), out of the logs: the backend in use and why is
 * logged once, by {@link initTfBackend}'s callers. `firstUse` only gates that banner; the cpu backend
 * module is the one @tensorflow/tfjs itself loads.
 */
function quietCpuBanner(): void {
  try {
    const tfjsDir = path.dirname(require.resolve('@tensorflow/tfjs/package.json'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cpu = require(require.resolve('@tensorflow/tfjs-backend-cpu', { paths: [tfjsDir] })) as {
      MathBackendCPU?: { prototype: object };
    };
    if (cpu.MathBackendCPU) {
      Object.defineProperty(cpu.MathBackendCPU.prototype, 'firstUse', {
        configurable: true,
        get: () => false,
        set: () => undefined,
      });
    }
  } catch {
    // another tfjs layout: the banner may show, nothing else changes
  }
}
quietCpuBanner();

async function activate(name: TfBackendName): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
  if (tf.getBackend() !== name) throw new Error(`active backend is ${tf.getBackend()}, not ${name}`);
}

async function tryNative(pkg: NativePackage): Promise<string> {
  const loc = loadNative(pkg);
  if (tf.findBackendFactory('tensorflow') == null) {
    throw new Error(`${pkg} loaded but registered no 'tensorflow' backend (tfjs version mismatch?)`);
  }
  await activate('tensorflow');
  const gpu = pkg === '@tensorflow/tfjs-node-gpu' ? 'GPU' : 'CPU';
  return `native ${gpu}, from ${loc.where}${loc.libtensorflow ? `, ${loc.libtensorflow}` : ''}`;
}

async function tryWasm(): Promise<void> {
  // Registers the 'wasm' backend factory as a side effect.
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(wasmBinaryDir());
  installWasmKernels();
  await activate('wasm');
}

/** Initialises one choice; returns the backend name and how it runs (for the logs). */
async function tryChoice(
  choice: Exclude<TfBackendChoice, 'auto'>,
): Promise<{ name: TfBackendName; how: string }> {
  switch (choice) {
    case 'tensorflow-gpu':
      return { name: 'tensorflow', how: await tryNative('@tensorflow/tfjs-node-gpu') };
    case 'tensorflow':
      return { name: 'tensorflow', how: await tryNative('@tensorflow/tfjs-node') };
    case 'wasm':
      await tryWasm();
      return { name: 'wasm', how: 'WebAssembly SIMD' };
    case 'cpu':
      await activate('cpu');
      return { name: 'cpu', how: 'plain JavaScript kernels' };
  }
}

async function select(choice: TfBackendChoice, log?: BackendLog): Promise<BackendState> {
  if (choice !== 'auto') {
    try {
      const { name, how } = await tryChoice(choice);
      const detail = `${name} (${how}; TF_BACKEND=${choice})`;
      log?.('tfjs backend selected', { choice, candidate: choice, backend: name, detail, skipped: [] });
      return { choice, name, detail };
    } catch (err) {
      throw new BackendUnavailableError(choice, errorText(err));
    }
  }
  const order = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
  const failures: string[] = [];
  // Why a faster backend was passed over; a GPU package that is simply absent is the usual case.
  const why: string[] = [];
  for (const candidate of order) {
    try {
      const { name, how } = await tryChoice(candidate);
      const detail = `${name} (${how}; TF_BACKEND=auto${why.length ? `: ${why.join('; ')}` : ''})`;
      log?.('tfjs backend selected', { choice, candidate, backend: name, detail, skipped: failures });
      return { choice, name, detail };
    } catch (err) {
      failures.push(`${candidate}: ${errorText(err)}`);
      if (!(err instanceof NotInstalledError && candidate === 'tensorflow-gpu')) {
        why.push(
          candidate === 'tensorflow' && err instanceof NotInstalledError
            ? errorText(err)
            : `${candidate}: ${errorText(err)}`,
        );
      }
    }
  }
  throw new BackendUnavailableError('auto', failures.join('; '));
}

/**
 * Selects and initialises the TensorFlow.js backend and returns the name actually in use
 * (`tensorflow`, `wasm` or `cpu`), for logs and `GET /v1/models`. `log` receives one
 * `tfjs backend selected` line whose `detail` says which backend and why, e.g.
 * `tensorflow (native CPU, from .native/node_modules/@tensorflow/tfjs-node, ...; TF_BACKEND=auto)` or
 * `wasm (WebAssembly SIMD; TF_BACKEND=auto: native backend not installed, run npm run native:install)`.
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
  const run = select(choice, log).then((state) => {
    current = state;
    return state.name;
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

/** Which backend the last successful {@link initTfBackend} call picked, and why (for logs). */
export function currentTfBackendDetail(): string | undefined {
  return current?.detail;
}
