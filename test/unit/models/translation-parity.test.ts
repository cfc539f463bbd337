import { readFileSync } from 'node:fs';
import path from 'node:path';

import { initTfBackend, type TfBackendChoice } from '../../../src/core/models/backend';
import { readSeq2SeqArtifacts } from '../../../src/core/models/translation/seq2seq-weights';
import { TransformerTranslator } from '../../../src/core/models/translation/transformer';

// A tiny random model with a factorised shared embedding, exported by train.py, and the greedy output ids
// of train.py's own PyTorch model (scripts/models/fixtures/make_translator_fixture.py).
const DIR = path.resolve(__dirname, '../../fixtures/translation/factorised');

describe('seq2seq runtime parity with train.py (factorised embedding)', () => {
  beforeAll(async () => {
    await initTfBackend((process.env.TF_BACKEND as TfBackendChoice | undefined) || 'auto');
  });

  it('reads embedding_dim and decodes exactly what PyTorch decodes, batched and alone', async () => {
    const expected = JSON.parse(readFileSync(path.join(DIR, 'expected.json'), 'utf8')) as {
      max_tokens: number;
      sources: number[][];
      outputs: number[][];
    };
    const artifacts = await readSeq2SeqArtifacts(DIR);
    expect(artifacts.architecture.embedding_dim).toBe(16);
    expect(artifacts.architecture.d_model).toBe(32);
    const network = new TransformerTranslator(artifacts);
    try {
      const rows = expected.sources.map((src) => ({ src, maxTokens: expected.max_tokens }));
      expect(await network.translate(rows)).toEqual(expected.outputs);
      for (let i = 0; i < rows.length; i += 1)
        expect(await network.translate([rows[i]!])).toEqual([expected.outputs[i]]);
    } finally {
      network.dispose();
    }
  });
});
