import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The user-model fixtures: real artefacts written by Keras 2, Keras 3, the TensorFlow.js converter
 * and the Hugging Face `tokenizers` library (scripts/models/fixtures/make_model_fixtures.py), each a
 * model repository entry `test/fixtures/model-repo/<name>/1/` with the framework's own ids and
 * predictions for 200 texts in `expected.json` (format: test/fixtures/model-repo/README.md).
 */
export const MODEL_REPO = path.resolve(__dirname, '../fixtures/model-repo');
export const BROKEN_MODEL_REPO = path.resolve(__dirname, '../fixtures/model-repo-broken');

export interface FixtureExpectations {
  framework: string;
  texts: string[];
  token_ids: number[][];
  /** Per network input name: what the framework fed it, one row per text. */
  inputs: Record<string, number[][]>;
  /** The network's raw output row per text. */
  outputs: number[][];
}

export interface ModelFixture {
  name: string;
  id: string;
  dir: string;
  config: Record<string, unknown> & { labels: string[]; output?: string };
  expected: FixtureExpectations;
}

/** Every fixture with an expected.json (adding a directory adds a case everywhere). */
export function modelFixtures(repo = MODEL_REPO): ModelFixture[] {
  if (!existsSync(repo)) return [];
  return readdirSync(repo, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(repo, d.name, '1', 'expected.json')))
    .map((d) => {
      const dir = path.join(repo, d.name, '1');
      return {
        name: d.name,
        id: `${d.name}@1`,
        dir,
        config: JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as ModelFixture['config'],
        expected: JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as FixtureExpectations,
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The framework's scores per label for text `i`: its raw output through the config's head. */
export function expectedScores(f: ModelFixture, i: number): Record<string, number> {
  const raw = f.expected.outputs[i]!;
  const labels = f.config.labels;
  let scores: number[];
  switch (f.config.output ?? 'probabilities') {
    case 'sigmoid':
      scores = [1 - raw[0]!, raw[0]!];
      break;
    case 'logits': {
      const max = Math.max(...raw);
      const e = raw.map((v) => Math.exp(v - max));
      const sum = e.reduce((a, b) => a + b, 0);
      scores = e.map((v) => v / sum);
      break;
    }
    default:
      scores = raw;
  }
  return Object.fromEntries(labels.map((l, j) => [l, scores[j]!]));
}

/** The input that takes the token ids (config `inputs`, else the only input). */
export function idsInputName(f: ModelFixture): string {
  const inputs = f.config.inputs as Record<string, string> | undefined;
  if (inputs) return Object.entries(inputs).find(([, role]) => role === 'ids')![0];
  return Object.keys(f.expected.inputs)[0]!;
}
