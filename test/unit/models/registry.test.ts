import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { AppError } from '../../../src/core/errors';
import { loadTextClassifier } from '../../../src/core/models/classification/text-classifier';
import { ModelRegistry } from '../../../src/core/models/registry';
import type { ClassificationResult, ModelInfo, TaskModel } from '../../../src/core/models/types';
import { writeUserClassifier } from './user-model-fixture';

async function codeOf(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
  } catch (err) {
    return err instanceof AppError ? err.code : `not an AppError: ${String(err)}`;
  }
  return undefined;
}

describe('ModelRegistry', () => {
  let userRepo: string;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    userRepo = mkdtempSync(path.join(os.tmpdir(), 'docbatch-models-'));
    await writeUserClassifier(userRepo, 'sentiment-mini', 1);
    await writeUserClassifier(userRepo, 'sentiment-mini', 2, { default: true });
    // Entries the registry must skip, not crash on.
    mkdirSync(path.join(userRepo, 'broken', '1'), { recursive: true });
    writeFileSync(path.join(userRepo, 'broken', '1', 'config.json'), '{ not json');
    mkdirSync(path.join(userRepo, 'odd-runtime', '1'), { recursive: true });
    writeFileSync(
      path.join(userRepo, 'odd-runtime', '1', 'config.json'),
      JSON.stringify({
        name: 'odd-runtime',
        task: 'classification',
        runtime: 'nope',
        labels: ['a', 'b'],
        max_length: 4,
      }),
    );
    mkdirSync(path.join(userRepo, 'sentiment-mini', 'latest'), { recursive: true });
  });

  afterAll(() => rmSync(userRepo, { recursive: true, force: true }));

  it('discovers models in MODELS_DIR beside the bundled repository', async () => {
    const registry = new ModelRegistry({ modelsDir: userRepo });
    const ids = (await registry.list()).map((m) => m.id);
    expect(ids).toEqual(
      expect.arrayContaining(['sentiment-mini@1', 'sentiment-mini@2', 'extractive-summarizer@1']),
    );
    expect(ids).not.toContain('broken@1');
    expect(ids).not.toContain('odd-runtime@1');
    expect((await registry.problems()).map((p) => path.basename(path.dirname(p.dir))).sort()).toEqual([
      'broken',
      'odd-runtime',
    ]);
  });

  it('marks exactly one default per task, preferring a default-flagged MODELS_DIR model', async () => {
    const registry = new ModelRegistry({ modelsDir: userRepo });
    const list = await registry.list();
    for (const task of new Set(list.map((m) => m.task))) {
      expect(list.filter((m) => m.task === task && m.default)).toHaveLength(1);
    }
    expect((await registry.resolve('classification')).id).toBe('sentiment-mini@2');
    expect((await registry.resolve('summarization')).id).toBe('extractive-summarizer@1');
  });

  it('resolves name to the latest version and name@version exactly', async () => {
    const registry = new ModelRegistry({ modelsDir: userRepo, bundledDir: null });
    expect((await registry.resolve('classification', 'sentiment-mini')).id).toBe('sentiment-mini@2');
    expect(await registry.resolve('classification', 'sentiment-mini@1')).toMatchObject<Partial<ModelInfo>>({
      id: 'sentiment-mini@1',
      version: 1,
      labels: ['neg', 'pos'],
      maxLength: 16,
      runtime: 'text-classifier',
      dir: path.join(userRepo, 'sentiment-mini', '1'),
    });
  });

  it('rejects unknown models, versions and tasks with stable codes', async () => {
    const registry = new ModelRegistry({ modelsDir: userRepo });
    expect(await codeOf(() => registry.resolve('classification', 'nope'))).toBe('UNKNOWN_MODEL');
    expect(await codeOf(() => registry.resolve('classification', 'sentiment-mini@3'))).toBe('UNKNOWN_MODEL');
    expect(await codeOf(() => registry.resolve('classification', 'sentiment-mini@latest'))).toBe(
      'UNKNOWN_MODEL',
    );
    expect(await codeOf(() => registry.resolve('classification', 'sentiment-mini@01'))).toBe('UNKNOWN_MODEL');
    expect(await codeOf(() => registry.resolve('summarization', 'sentiment-mini'))).toBe('UNKNOWN_MODEL');
    expect(await codeOf(() => registry.resolve('sentiment', undefined))).toBe('UNKNOWN_TASK');
    const onlyUser = new ModelRegistry({ modelsDir: userRepo, bundledDir: null });
    expect(await codeOf(() => onlyUser.resolve('summarization'))).toBe('UNKNOWN_TASK');
    expect((await onlyUser.resolve('classification', '')).id).toBe('sentiment-mini@2');
  });

  it('loads a user tfjs classifier by name and serves it through the text-classifier runtime', async () => {
    const registry = new ModelRegistry({ modelsDir: userRepo, bundledDir: null });
    const info = await registry.resolve('classification', 'sentiment-mini');
    const model = await registry.load(info);
    expect(model.info.id).toBe('sentiment-mini@2');
    const docs = ['A great movie, good plot', 'awful. Bad bad movie', 'GOOD!'];
    const results = (await model.runBatch(
      docs.map((d) => model.encode(d, {})),
      {},
    )) as ClassificationResult[];
    expect(results.map((r) => r.label)).toEqual(['pos', 'neg', 'pos']);
    for (const r of results) {
      expect(r.scores.neg! + r.scores.pos!).toBeCloseTo(1, 5);
      expect(r.score).toBe(Math.max(r.scores.neg!, r.scores.pos!));
    }
    const top1 = (await model.runBatch([model.encode('bad plot', {})], {
      top_k: 1,
    })) as ClassificationResult[];
    expect(Object.keys(top1[0]!.scores)).toEqual(['neg']);
    await registry.disposeAll();
  });

  it('a model without padding_invariant gives the same scores alone and in a padded batch', async () => {
    const registry = new ModelRegistry({ modelsDir: userRepo, bundledDir: null });
    const model = await registry.load('sentiment-mini@1');
    const short = model.encode('good', {});
    const long = model.encode('bad movie plot plot plot plot movie', {});
    const [alone] = (await model.runBatch([short], {})) as ClassificationResult[];
    const [inBatch] = (await model.runBatch([short, long], {})) as ClassificationResult[];
    expect(inBatch!.scores.pos).toBeCloseTo(alone!.scores.pos!, 6);
    await registry.disposeAll();
  });

  it('caches loads, and disposeAll releases every tensor', async () => {
    const before = tf.memory().numTensors;
    const registry = new ModelRegistry({ modelsDir: userRepo, bundledDir: null });
    const a = registry.load('sentiment-mini@1');
    const b = registry.load('sentiment-mini@1');
    expect(a).toBe(b);
    const model: TaskModel = await a;
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    await registry.disposeAll();
    expect(tf.memory().numTensors).toBe(before);
    await expect(registry.load('nope@1')).rejects.toMatchObject({ code: 'UNKNOWN_MODEL' });
    expect(model.info.id).toBe('sentiment-mini@1');
  });

  it('serves a MODELS_DIR entry in place of a bundled one with the same name@version', async () => {
    const repo = mkdtempSync(path.join(os.tmpdir(), 'docbatch-shadow-'));
    try {
      const dir = path.join(repo, 'extractive-summarizer', '1');
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        path.join(dir, 'config.json'),
        JSON.stringify({
          name: 'extractive-summarizer',
          task: 'summarization',
          runtime: 'extractive-summarizer',
          max_length: 50,
        }),
      );
      const registry = new ModelRegistry({ modelsDir: repo });
      const info = await registry.resolve('summarization', 'extractive-summarizer@1');
      expect(info.dir).toBe(dir);
      expect(info.maxLength).toBe(50);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });

  it('fails fast when MODELS_DIR does not exist', () => {
    expect(() => new ModelRegistry({ modelsDir: path.join(os.tmpdir(), 'no-such-docbatch-dir') })).toThrow(
      /MODELS_DIR/,
    );
  });
});

describe('bundled spam-classifier', () => {
  const registry = new ModelRegistry();
  let model: TaskModel;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    model = await registry.load((await registry.resolve('classification', 'spam-classifier')).id);
  });
  afterAll(() => registry.disposeAll());

  it('rejects symbol-only text as EMPTY_DOCUMENT', () => {
    expect(() => model.encode('— … · • ¶', {})).toThrow(expect.objectContaining({ code: 'EMPTY_DOCUMENT' }));
  });

  it('loads the same way from a hand-built ModelInfo without config (config.json is read from dir)', async () => {
    const { config: _config, ...bare } = await registry.resolve('classification', 'spam-classifier');
    const direct = await loadTextClassifier(bare);
    try {
      const mail = 'Subject: hello\nReceived: x\n\nFREE money click here now';
      expect(Array.from(direct.encode(mail, {}).ids)).toEqual(Array.from(model.encode(mail, {}).ids));
    } finally {
      direct.dispose();
    }
  });

  it('rejects an invalid top_k as INVALID_OPTION', async () => {
    const batch = [model.encode('hello there', {})];
    await expect(model.runBatch(batch, { top_k: 0 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });

  it('separates obvious spam from an obvious work e-mail', async () => {
    const spam =
      'Subject: FREE money!!!\n\nClick here to claim your $1,000,000 prize now! Limited offer, act now, remove me.';
    const ham =
      'Subject: Re: patch for the build script\n\nThanks, I applied your patch to CVS. The build works on Linux now; can you check the docs?';
    const [a, b] = (await model.runBatch(
      [model.encode(spam, {}), model.encode(ham, {})],
      {},
    )) as ClassificationResult[];
    expect(a!.label).toBe('spam');
    expect(b!.label).toBe('ham');
  });
});
