import { readFileSync } from 'node:fs';
import path from 'node:path';

import { initTfBackend } from '../../../src/core/models/backend';
import { backendName, testBackends } from '../../support/test-backend';
import { loadTranslator } from '../../../src/core/models/translation';
import type { ModelInfo, TaskModel, TranslationResult } from '../../../src/core/models/types';

// The bundled en-es-translator@2 (issue 14) with its real weights: what survives translation verbatim
// (URLs, e-mail addresses, numbers, accented names, ¿ ¡), that the output is Spanish, determinism and
// batch independence. The placeholder mechanics alone are covered by translation-placeholders.test.ts.
jest.setTimeout(60_000);

const MODEL_DIR = path.resolve(__dirname, '../../../models/en-es-translator/2');

interface Config {
  name: string;
  version: number;
  default?: boolean;
  source_lang: string;
  target_lang: string;
  max_length: number;
  placeholders?: { first: string; slots: number };
}

const config = JSON.parse(readFileSync(path.join(MODEL_DIR, 'config.json'), 'utf8')) as Config;

function info(): ModelInfo {
  return {
    id: `${config.name}@${config.version}`,
    name: config.name,
    version: config.version,
    task: 'translation',
    source_lang: config.source_lang,
    target_lang: config.target_lang,
    maxLength: config.max_length,
    dir: MODEL_DIR,
  };
}

async function translate(model: TaskModel, texts: string[]): Promise<string[]> {
  const encoded = texts.map((t) => model.encode(t, {}));
  const results = (await model.runBatch(encoded, {})) as TranslationResult[];
  return results.map((r) => r.translation);
}

/** Each sentence with the substrings that must come back exactly as written. */
const VERBATIM: [string, string[]][] = [
  [
    'Write to José Martínez at jose.martinez@example.com before 5:30 tomorrow.',
    ['José Martínez', 'jose.martinez@example.com', '5:30'],
  ],
  [
    'The report is at https://example.org/reports/2026?id=42 and costs $1,250.',
    ['https://example.org/reports/2026?id=42', '1,250'],
  ],
  ['She said "¡Hola!" and asked "¿Qué tal?" in Málaga.', ['¡Hola!', '¿Qué tal?', 'Málaga']],
  [
    'Call +34 912 345 678 or visit www.docbatch.dev/help before March 3, 2027.',
    ['+34 912 345 678', 'www.docbatch.dev/help', '2027'],
  ],
  [
    'The meeting with Zoë Müller in Zürich costs 1.250,50 € per person.',
    ['Zoë Müller', 'Zürich', '1.250,50', '€'],
  ],
  // Symbols are carried, ASCII words between them are translated: in `a/b` and `x_y` the `/` and `_`
  // survive but `a` and `x` may not.
  ['Use C++ with x_y = 7 and #tag.', ['C++', '_y', '= 7', '#tag']],
];

describe('en-es-translator@2 (bundled, default)', () => {
  let model: TaskModel;

  beforeAll(async () => {
    const [backend] = testBackends(['wasm']);
    await expect(initTfBackend(backend)).resolves.toBe(backendName(backend!));
    model = await loadTranslator(info());
  });

  afterAll(() => model?.dispose());

  it('is the default translator and masks with placeholders', () => {
    expect(config.version).toBe(2);
    expect(config.default).toBe(true);
    expect(config.placeholders).toEqual({ first: 'U+E000', slots: 16 });
    const v1 = JSON.parse(readFileSync(path.join(MODEL_DIR, '../1/config.json'), 'utf8')) as Config;
    expect(v1.default).toBeUndefined();
  });

  it('carries URLs, e-mail addresses, numbers, accented names and ¿ ¡ through verbatim', async () => {
    const out = await translate(
      model,
      VERBATIM.map(([s]) => s),
    );
    const missing = out.flatMap((t, i) =>
      VERBATIM[i]![1].filter((keep) => !t.includes(keep)).map((keep) => ({ keep, translation: t })),
    );
    expect(missing).toEqual([]);
    for (const t of out) expect(t).not.toMatch(/[\uE000-\uF8FF]/); // no placeholder left behind
  });

  it('adds ¿ and ¡ to questions and exclamations, as Spanish writes them', async () => {
    const [q, e] = await translate(model, ['Where is the station?', 'What a beautiful day!']);
    expect(q).toMatch(/^¿.*\?$/);
    expect(e).toMatch(/^¡.*!$/);
  });

  it('translates everyday English into Spanish words', async () => {
    const out = (
      await translate(model, [
        'The children are playing in the garden.',
        'I will send you the invoice next week.',
        'The weather was cold and the roads were closed.',
      ])
    ).map((t) => t.toLowerCase());
    expect(out[0]).toMatch(/niños/);
    expect(out[0]).toMatch(/jard[ií]n/);
    // "invoice" itself comes out wrong at step 5,200 ("insejo"; see the card's failures).
    expect(out[1]).toMatch(/enviar/);
    expect(out[1]).toMatch(/semana/);
    expect(out[2]).toMatch(/fr[ií]o/);
    expect(out[2]).toMatch(/carreteras|caminos/);
  });

  it('is deterministic and gives a document the same output alone as in a padded batch', async () => {
    const docs = [
      VERBATIM[0]![0],
      'Yes.',
      VERBATIM[1]![0],
      'The government of the United States has always sought peace with every nation of the world.',
    ];
    const batched = await translate(model, docs);
    expect(await translate(model, docs)).toEqual(batched);
    const single: string[] = [];
    for (const d of docs) single.push(...(await translate(model, [d])));
    expect(single).toEqual(batched);
  });
});
