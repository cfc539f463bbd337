import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { modelErrorCode } from '../../../src/core/models/model-errors';
import { loadNetwork } from '../../../src/core/models/network';
import { createTokenizer } from '../../../src/core/models/tokenizers';

/**
 * Files a model's config.json names are read from its version directory only: a name that leaves
 * it (`../`, an absolute path) is refused naming the field, even when the file it points at exists.
 */
describe('files named by config.json stay inside the model directory', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'docbatch-paths-'));
  const dir = path.join(root, 'm', '1');
  beforeAll(() => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(root, 'tokenizer.json'), '{}');
    writeFileSync(path.join(root, 'vocab.txt'), '[PAD]\n[UNK]\nword\n');
    writeFileSync(path.join(root, 'model.json'), '{}');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it.each([
    [{ tokenizer: { type: 'keras', file: '../../tokenizer.json' } }, 'tokenizer.file'],
    [{ tokenizer: { type: 'huggingface', file: path.join(root, 'tokenizer.json') } }, 'tokenizer.file'],
    [{ tokenizer: { type: 'word' }, vocab_file: '../../vocab.txt' }, 'vocab_file'],
  ])('tokenizer %j', (config, field) => {
    let err: unknown;
    try {
      createTokenizer(dir, config);
    } catch (e) {
      err = e;
    }
    expect(modelErrorCode(err)).toBe('MODEL_LOAD_FAILED');
    expect((err as Error).message).toMatch(/is outside the model directory/);
    expect((err as { field?: string }).field).toContain(field);
  });

  it.each(['../../model.json', path.join(root, 'model.json')])('model_file %s', async (file) => {
    const err = await loadNetwork(dir, file).catch((e: unknown) => e);
    expect(modelErrorCode(err)).toBe('MODEL_LOAD_FAILED');
    expect((err as Error).message).toMatch(/outside the model directory/);
  });
});
