import { ModelError } from '../../src/core/models/model-errors';
import { DocumentInputError } from '../../src/core/models/types';
import type { EncodedDocument, ModelInfo, TaskModel, TaskResult } from '../../src/core/models/types';
import {
  capMessage,
  MAX_MODEL_MESSAGE,
  modelLoadError,
  modelRunError,
} from '../../src/core/pipeline/inference-errors';
import { runSafe } from '../../src/core/pipeline/run-safe';

/**
 * The failure rule of the inference thread (run-safe.ts, docs/pipeline.md "Guarantees"): a
 * document's fault fails the document, the model's fault fails the batch.
 */

const info: ModelInfo = {
  id: 'm@1',
  name: 'm',
  version: 1,
  task: 'classification',
  maxLength: 16,
  dir: '/x',
};

/** Documents whose single id is the document number. */
const docs = (n: number): EncodedDocument[] =>
  Array.from({ length: n }, (_, i) => ({ ids: Int32Array.of(i), length: 1 }));

/** A model whose runBatch throws `fail(id)` for the first document it rejects; counts calls. */
function fakeModel(fail: (id: number) => Error | null): TaskModel & { calls: number[][] } {
  const calls: number[][] = [];
  return {
    info,
    calls,
    encode: () => ({ ids: new Int32Array(0), length: 0 }),
    runBatch(batch: EncodedDocument[]): Promise<TaskResult[]> {
      const ids = batch.map((d) => d.ids[0]!);
      calls.push(ids);
      for (const id of ids) {
        const err = fail(id);
        if (err) return Promise.reject(err);
      }
      return Promise.resolve(ids.map((id) => ({ label: `l${id}`, score: 1, scores: {} })));
    },
    dispose: () => undefined,
  };
}

const shapeError = (): Error => new Error('Total size of new array must be unchanged.\nmore internals');

describe('runSafe: the model or the document', () => {
  it('runs a healthy tensor batch in one call', async () => {
    const m = fakeModel(() => null);
    const out = await runSafe(m, docs(8), {}, false);
    expect('results' in out && out.results.map((r) => ('result' in r ? r.result : null))).toHaveLength(8);
    expect(m.calls).toHaveLength(1);
  });

  it('a DocumentInputError fails that document only (split to isolate it)', async () => {
    const m = fakeModel((id) => (id === 5 ? new DocumentInputError('EMPTY_DOCUMENT', 'empty') : null));
    const out = await runSafe(m, docs(8), {}, false);
    if (!('results' in out)) throw new Error('expected results');
    expect(out.results[5]).toEqual({ error: { code: 'EMPTY_DOCUMENT', message: 'empty' } });
    expect(out.results.filter((r) => 'result' in r)).toHaveLength(7);
  });

  it('a ModelError fails the model at once with its code, without splitting', async () => {
    const m = fakeModel(() => new ModelError('MODEL_INCOMPATIBLE', 'model.json input: [null, 100] vs 16'));
    const out = await runSafe(m, docs(64), {}, true);
    expect(out).toEqual({
      modelError: {
        code: 'MODEL_INCOMPATIBLE',
        message: "model 'm@1' failed when it ran: model.json input: [null, 100] vs 16",
      },
    });
    expect(m.calls).toHaveLength(1);
  });

  it('an error on every document fails the model after a few calls (not one per document)', async () => {
    const m = fakeModel(shapeError);
    const out = await runSafe(m, docs(256), {}, false);
    expect(out).toEqual({
      modelError: {
        code: 'MODEL_INCOMPATIBLE',
        message: "model 'm@1' failed when it ran: Total size of new array must be unchanged.",
      },
    });
    // 256, 128, 64, 32, 16, 8, 4, 2, then documents 0 and 1 alone.
    expect(m.calls.length).toBe(10);
  });

  it('a one-document tensor batch that fails on a model never seen working fails the model', async () => {
    const out = await runSafe(fakeModel(shapeError), docs(1), {}, false);
    expect(out).toMatchObject({ modelError: { code: 'MODEL_INCOMPATIBLE' } });
  });

  it('an error on some documents while others run fails those documents only', async () => {
    const m = fakeModel((id) => (id === 3 || id === 6 ? shapeError() : null));
    const out = await runSafe(m, docs(8), {}, false);
    if (!('results' in out)) throw new Error(`expected results, got ${JSON.stringify(out)}`);
    expect(out.results.filter((r) => 'result' in r)).toHaveLength(6);
    for (const i of [3, 6]) {
      expect(out.results[i]).toEqual({
        error: {
          code: 'MODEL_INCOMPATIBLE',
          message: "model 'm@1' failed on this document: Total size of new array must be unchanged.",
        },
      });
    }
  });

  it('the first document failing alone is not enough when the next one runs', async () => {
    const m = fakeModel((id) => (id === 0 ? shapeError() : null));
    const out = await runSafe(m, docs(4), {}, false);
    expect('results' in out && out.results.map((r) => 'error' in r)).toEqual([true, false, false, false]);
  });

  it('on a model that has produced results before, every failure is per document', async () => {
    const m = fakeModel(shapeError);
    const out = await runSafe(m, docs(4), {}, true);
    if (!('results' in out)) throw new Error('expected results');
    expect(out.results.every((r) => 'error' in r && r.error.code === 'MODEL_INCOMPATIBLE')).toBe(true);
  });

  it('document errors alone never fail the model', async () => {
    const m = fakeModel(() => new DocumentInputError('EMPTY_DOCUMENT', 'empty'));
    const out = await runSafe(m, docs(4), {}, false);
    expect('results' in out && out.results.every((r) => 'error' in r)).toBe(true);
  });

  it('a wrong number of results is a model failure', async () => {
    const m: TaskModel = { ...fakeModel(() => null), runBatch: () => Promise.resolve([]) };
    const out = await runSafe(m, docs(3), {}, false);
    expect(out).toMatchObject({
      modelError: { code: 'MODEL_INCOMPATIBLE', message: expect.stringContaining('returned 0 results') },
    });
  });
});

describe('model failure messages', () => {
  it('load errors keep the ModelError code; others are MODEL_LOAD_FAILED; one line, capped', () => {
    expect(modelLoadError('x@1', new ModelError('MODEL_INCOMPATIBLE', 'config.json labels: 3 vs 2'))).toEqual(
      {
        code: 'MODEL_INCOMPATIBLE',
        message: "model 'x@1' could not be loaded: config.json labels: 3 vs 2",
      },
    );
    // A ModelError from another module instance (a worker thread) is recognised by name and code.
    const foreign = Object.assign(new Error('weights.bin: missing'), {
      name: 'ModelError',
      code: 'MODEL_LOAD_FAILED',
    });
    expect(modelLoadError('x@1', foreign).code).toBe('MODEL_LOAD_FAILED');
    expect(modelLoadError('x@1', Object.assign(new Error('unknown'), { code: 'UNKNOWN_MODEL' })).code).toBe(
      'UNKNOWN_MODEL',
    );
    const dump = new Error(`Improper config format: ${'{"a": 1}'.repeat(600)}\nline 2`);
    const e = modelLoadError('x@1', dump);
    expect(e.code).toBe('MODEL_LOAD_FAILED');
    expect(e.message.length).toBeLessThanOrEqual(MAX_MODEL_MESSAGE);
    expect(e.message).not.toContain('\n');
    expect(e.message.endsWith('...')).toBe(true);
    expect(modelRunError('x@1', new Error('boom')).code).toBe('MODEL_INCOMPATIBLE');
    expect(capMessage('short')).toBe('short');
  });
});
