import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initTfBackend } from '../../../src/core/models/backend';
import { backendName, testBackends } from '../../support/test-backend';
import { modelErrorCode, type ModelError } from '../../../src/core/models/model-errors';
import {
  loadNetwork,
  networkLoaderFor,
  type Network,
  type NetworkSpec,
} from '../../../src/core/models/network';

/**
 * Contract suite of the network loaders, fed by artefacts the real frameworks wrote: every
 * `<root>/<name>/<version>/` with an `expected.json`, in the classifier fixtures
 * (test/fixtures/model-repo) and the network-only fixtures (test/fixtures/networks: layer types,
 * masks and writers the classifiers do not use), is loaded with the loader its `config.json`
 * `model_file` picks, fed the framework's own inputs and compared with the framework's own outputs,
 * on the wasm and cpu backends. Adding a fixture adds a case.
 */

// NETWORK_FIXTURES (roots separated by ':') / NETWORK_FIXTURES_BROKEN: other directories (development).
const ROOTS = process.env.NETWORK_FIXTURES?.split(':') ?? [
  path.join(__dirname, '../../fixtures/model-repo'),
  path.join(__dirname, '../../fixtures/networks'),
];
const BROKEN =
  process.env.NETWORK_FIXTURES_BROKEN ?? path.join(__dirname, '../../fixtures/model-repo-broken');
const TOLERANCE = 1e-4;

interface FixtureConfig {
  model_file?: string;
  inputs?: Record<string, string>;
  output_name?: string;
  input?: { length?: number };
  labels?: string[];
  tokenizer?: { file?: string };
}

interface Expected {
  inputs: Record<string, number[][]>;
  outputs: number[][];
}

interface Fixture {
  name: string;
  dir: string;
  config: FixtureConfig;
  modelFile: string;
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** Every `<root>/<name>/<version>/` holding a config.json (and, with `withExpected`, an expected.json). */
function fixtures(root: string, withExpected: boolean): Fixture[] {
  if (!existsSync(root)) return [];
  const out: Fixture[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const name = entry.name;
    const modelDir = path.join(root, name);
    for (const version of readdirSync(modelDir).sort()) {
      const dir = path.join(modelDir, version);
      if (!existsSync(path.join(dir, 'config.json'))) continue;
      if (withExpected && !existsSync(path.join(dir, 'expected.json'))) continue;
      const config = readJson<FixtureConfig>(path.join(dir, 'config.json'));
      out.push({
        name: `${path.basename(root)}/${name}/${version}`,
        dir,
        config,
        modelFile: config.model_file ?? 'model.json',
      });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

const FIXTURES = ROOTS.flatMap((root) => fixtures(root, true));
const BROKEN_FIXTURES = fixtures(BROKEN, false);

/** The expected rows of each network input (by config.json `inputs`, or the single input). */
function rowsByInput(fx: Fixture, spec: NetworkSpec, expected: Expected): Map<string, number[][]> {
  const keys = Object.keys(expected.inputs);
  const rows = new Map<string, number[][]>();
  for (const input of spec.inputs) {
    const key = fx.config.inputs || keys.length > 1 ? input.name : keys[0]!;
    const value = expected.inputs[key];
    if (!value) throw new Error(`${fx.name}: expected.json has no inputs for '${input.name}'`);
    rows.set(input.name, value);
  }
  return rows;
}

/**
 * Runs every expected text (texts of one length together) and returns the outputs in text order.
 * `int32Ids`: feed int32 whatever the input declares (the network casts), else the declared dtype.
 */
async function runExpected(
  fx: Fixture,
  net: Network,
  expected: Expected,
  int32Ids: boolean,
): Promise<number[][]> {
  const rows = rowsByInput(fx, net.spec, expected);
  const n = expected.outputs.length;
  const groups = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const key = [...rows.values()].map((r) => r[i]!.length).join(',');
    groups.set(key, [...(groups.get(key) ?? []), i]);
  }
  const got: number[][] = new Array<number[]>(n);
  for (const texts of groups.values()) {
    const feeds: Record<string, tf.Tensor> = {};
    for (const input of net.spec.inputs) {
      const dtype = int32Ids || input.dtype.startsWith('int') ? 'int32' : 'float32';
      feeds[input.name] = tf.tensor2d(
        texts.map((i) => rows.get(input.name)![i]!),
        undefined,
        dtype,
      );
    }
    const y = await net.predict(feeds);
    try {
      expect(y.dtype).toBe('float32');
      expect(y.shape).toEqual([texts.length, expected.outputs[0]!.length]);
      const values = (await y.array()) as number[][];
      texts.forEach((t, row) => (got[t] = values[row]!));
    } finally {
      y.dispose();
      tf.dispose(Object.values(feeds));
    }
  }
  return got;
}

function maxAbsDiff(got: number[][], want: number[][]): number {
  let max = 0;
  want.forEach((row, i) => row.forEach((v, j) => (max = Math.max(max, Math.abs(got[i]![j]! - v)))));
  return max;
}

async function loadError(dir: string, file: string): Promise<ModelError> {
  try {
    const net = await loadNetwork(dir, file);
    net.dispose();
  } catch (err) {
    expect(modelErrorCode(err)).toBeDefined();
    const e = err as ModelError;
    expect(e.message).not.toContain('\n');
    expect(e.message.length).toBeLessThan(300);
    return e;
  }
  throw new Error(`${file} loaded`);
}

jest.setTimeout(120_000);

const DIFFS: Record<string, Record<string, number>> = {};
afterAll(() => {
  if (process.env.NETWORK_LOADERS_REPORT)
    writeFileSync(process.env.NETWORK_LOADERS_REPORT, JSON.stringify(DIFFS, null, 2));
});

test('the fixture repository has network fixtures', () => {
  expect(FIXTURES.length).toBeGreaterThan(0);
});

describe.each(testBackends(['wasm', 'cpu']))('on the %s backend', (backend) => {
  beforeAll(async () => {
    await expect(initTfBackend(backend)).resolves.toBe(backendName(backend));
  });

  if (FIXTURES.length === 0) return;
  describe.each(FIXTURES.map((f) => [f.name, f] as const))('%s', (_name, fx) => {
    let net: Network;
    let expected: Expected;

    beforeAll(async () => {
      expected = readJson<Expected>(path.join(fx.dir, 'expected.json'));
      const options = fx.config.output_name ? { outputName: fx.config.output_name } : {};
      net = await loadNetwork(fx.dir, fx.modelFile, options);
    });

    afterAll(() => net?.dispose());

    it('is read by the loader of its format', () => {
      const loader = networkLoaderFor(fx.dir, fx.modelFile);
      expect(loader?.format).toBe(net.spec.format);
      const ext = path.extname(fx.modelFile);
      if (ext === '.h5') expect(net.spec.format).toBe('keras-h5');
      if (ext === '.keras') expect(net.spec.format).toBe('keras-zip');
      if (ext === '.json') expect(['tfjs-layers', 'tfjs-graph']).toContain(net.spec.format);
    });

    it(`gives the framework's outputs within ${TOLERANCE}`, async () => {
      const before = tf.memory().numTensors;
      const got = await runExpected(fx, net, expected, backend === 'wasm');
      const diff = maxAbsDiff(got, expected.outputs);
      (DIFFS[fx.name] ??= {})[backend] = diff;
      expect(diff).toBeLessThanOrEqual(TOLERANCE);
      expect(tf.memory().numTensors).toBe(before);
    });

    it('declares its inputs, vocabulary and output units', () => {
      const { spec } = net;
      const rows = rowsByInput(fx, spec, expected);
      const ids = fx.config.inputs
        ? Object.keys(fx.config.inputs).find((k) => fx.config.inputs![k] === 'ids')!
        : spec.inputs[0]!.name;
      const idsSpec = spec.inputs.find((s) => s.name === ids)!;
      expect(idsSpec).toBeDefined();
      expect(idsSpec.shape).toHaveLength(2);
      for (const s of spec.inputs) expect(['int32', 'int64', 'float32']).toContain(s.dtype);
      const lengths = new Set(rows.get(ids)!.map((r) => r.length));
      const fixed = idsSpec.shape[1];
      if (typeof fixed === 'number') expect([...lengths]).toEqual([fixed]);
      // config.json `input` without a length: the length is the model's own fixed one.
      if (fx.config.input && fx.config.input.length === undefined) {
        expect(typeof fixed).toBe('number');
        expect(lengths.size).toBe(1);
      }
      const maxId = Math.max(...rows.get(ids)!.flat());
      if (net.spec.format !== 'tfjs-graph') expect(spec.vocabSize).toBeDefined();
      if (spec.vocabSize !== undefined) expect(maxId).toBeLessThan(spec.vocabSize);
      const names = spec.outputs.map((o) => o.name);
      const output =
        spec.outputs[fx.config.output_name ? names.indexOf(fx.config.output_name.replace(/:0$/, '')) : 0];
      expect(output?.shape).toEqual([null, expected.outputs[0]!.length]);
    });
  });
});

describe('broken artefacts', () => {
  let tmp: string;
  const layersFixture = FIXTURES.find(
    (f) => f.modelFile.endsWith('.json') && networkLoaderFor(f.dir, f.modelFile)?.format === 'tfjs-layers',
  );
  const h5Fixture = FIXTURES.find((f) => f.modelFile.endsWith('.h5'));

  beforeAll(async () => {
    await initTfBackend('cpu');
    tmp = mkdtempSync(path.join(os.tmpdir(), 'network-loaders-'));
  });

  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /** A copy of a fixture's files in a fresh directory. */
  function copyOf(fx: Fixture): string {
    const dir = mkdtempSync(path.join(tmp, 'fx-'));
    for (const f of readdirSync(fx.dir)) copyFileSync(path.join(fx.dir, f), path.join(dir, f));
    return dir;
  }

  it('unreadable (the repository fixture) is MODEL_LOAD_FAILED naming its file', async () => {
    const fx = BROKEN_FIXTURES.find((f) => f.name.includes('/unreadable/'));
    expect(fx).toBeDefined();
    const err = await loadError(fx!.dir, fx!.modelFile);
    expect(err.code).toBe('MODEL_LOAD_FAILED');
    expect(err.file).toBe(fx!.modelFile);
    expect(err.message).toContain(fx!.modelFile);
  });

  it('the other broken fixtures load, and their spec shows what is wrong', async () => {
    const get = (name: string) => BROKEN_FIXTURES.find((f) => f.name.includes(`/${name}/`));
    const vocab = get('wrong-vocab');
    const length = get('fixed-length-conflict');
    const labels = get('wrong-labels');
    for (const fx of [vocab, length, labels]) expect(fx).toBeDefined();
    const spec = async (fx: Fixture) => {
      const net = await loadNetwork(fx.dir, fx.modelFile);
      net.dispose();
      return net.spec;
    };
    const tokenizer = readJson<{ config: { word_index: string } }>(
      path.join(vocab!.dir, vocab!.config.tokenizer!.file!),
    );
    const words = Object.keys(JSON.parse(tokenizer.config.word_index) as object).length;
    expect((await spec(vocab!)).vocabSize).toBeLessThan(words);
    const fixed = (await spec(length!)).inputs[0]!.shape[1];
    expect(typeof fixed).toBe('number');
    expect(fixed).not.toBe(length!.config.input!.length);
    expect((await spec(labels!)).outputs[0]!.shape[1]).not.toBe(labels!.config.labels!.length);
  });

  it('a file that is not HDF5, a truncated .h5 and a missing file are MODEL_LOAD_FAILED naming the file', async () => {
    const dir = mkdtempSync(path.join(tmp, 'bad-'));
    writeFileSync(path.join(dir, 'model.h5'), 'not hdf5 at all');
    let err = await loadError(dir, 'model.h5');
    expect(err.code).toBe('MODEL_LOAD_FAILED');
    expect(err.message).toBe('model.h5: not an HDF5 file (truncated?)');
    expect(err.file).toBe('model.h5');

    expect(h5Fixture).toBeDefined();
    const bytes = readFileSync(path.join(h5Fixture!.dir, h5Fixture!.modelFile));
    writeFileSync(path.join(dir, 'half.h5'), bytes.subarray(0, bytes.length >> 1));
    err = await loadError(dir, 'half.h5');
    expect(err.code).toBe('MODEL_LOAD_FAILED');
    expect(err.file).toBe('half.h5');

    err = await loadError(dir, 'absent.keras');
    expect(err.code).toBe('MODEL_LOAD_FAILED');
    expect(err.message).toContain('absent.keras');
    expect(err.field).toBe('config.json model_file');
  });

  it('an unknown file type or a model.json of no known kind names the file and config.json model_file', async () => {
    const dir = mkdtempSync(path.join(tmp, 'kind-'));
    writeFileSync(path.join(dir, 'model.onnx'), 'x');
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ modelTopology: { something: 1 } }));
    writeFileSync(path.join(dir, 'broken.json'), '{"modelTopology": ');
    for (const file of ['model.onnx', 'model.json', 'broken.json']) {
      const err = await loadError(dir, file);
      expect(err.code).toBe('MODEL_LOAD_FAILED');
      expect(err.file).toBe(file);
      expect(err.message).toContain(file);
    }
    expect((await loadError(dir, 'model.onnx')).field).toBe('config.json model_file');
    expect((await loadError(dir, 'model.json')).field).toBe('config.json model_file');
  });

  it('a shard shorter than its manifest says is named with both sizes', async () => {
    expect(layersFixture).toBeDefined();
    const dir = copyOf(layersFixture!);
    const json = readJson<{ weightsManifest: { paths: string[] }[] }>(
      path.join(dir, layersFixture!.modelFile),
    );
    const shard = json.weightsManifest[0]!.paths[0]!;
    const bytes = readFileSync(path.join(dir, shard));
    writeFileSync(path.join(dir, shard), bytes.subarray(0, bytes.length - 8));
    const err = await loadError(dir, layersFixture!.modelFile);
    expect(err.code).toBe('MODEL_LOAD_FAILED');
    expect(err.field).toBe('weightsManifest');
    expect(err.message).toMatch(
      new RegExp(`${shard.replace(/\./g, '\\.')}.* has \\d+ bytes, manifest says \\d+`),
    );
  });

  it('a run that fails (ids of another length than the fixed one) rejects with the cause as it is (the pipeline decides whose fault it is)', async () => {
    const fx = FIXTURES.find((f) => f.config.input && f.config.input.length === undefined);
    expect(fx).toBeDefined();
    const net = await loadNetwork(fx!.dir, fx!.modelFile);
    const input = net.spec.inputs[0]!;
    expect(typeof input.shape[1]).toBe('number');
    const x = tf.zeros(
      [1, (input.shape[1] as number) + 3],
      input.dtype.startsWith('int') ? 'int32' : 'float32',
    );
    try {
      const err = (await net.predict({ [input.name]: x }).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(modelErrorCode(err)).toBeUndefined();
      expect(err.message.length).toBeGreaterThan(0);
    } finally {
      x.dispose();
      net.dispose();
    }
  });

  it('a layer docbatch cannot run is MODEL_INCOMPATIBLE naming its class', async () => {
    expect(layersFixture).toBeDefined();
    const dir = copyOf(layersFixture!);
    const file = path.join(dir, layersFixture!.modelFile);
    const text = readFileSync(file, 'utf8').replace(
      /"class_name": ?"Dense"/,
      '"class_name": "MultiHeadAttention"',
    );
    writeFileSync(file, text);
    const err = await loadError(dir, layersFixture!.modelFile);
    expect(err.code).toBe('MODEL_INCOMPATIBLE');
    expect(err.message).toContain('MultiHeadAttention');
  });
});
