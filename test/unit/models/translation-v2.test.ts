import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
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
  target_words?: string;
  source_words?: string;
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

/** The lower-cased words of one of the model's word files (`#` lines are comments). */
function wordList(file: string): Set<string> {
  return new Set(
    readFileSync(path.join(MODEL_DIR, file), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#')),
  );
}

/** Sentences with words the model knows badly or not at all (news abbreviations, Moby Dick, office English). */
const CONSTRAINED = [
  'I will send you the invoice next week.',
  'The stock rose 5 pct to 12 mln dlrs in the first quarter.',
  'He flung the harpoon at the whale and the mariners cheered.',
  'Please do not hesitate to contact me if you need more information.',
  'The photographer refreshed the undimmed lamps of the lighthouse.',
  'Ahab stood upon the quarter-deck, gazing at the ambergris.',
];

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
    // "invoice" itself comes out wrong at step 5,200 ("inseguridad", "insejo" before word-constrained
    // decoding; see the card's failures).
    expect(out[1]).toMatch(/enviar/);
    expect(out[1]).toMatch(/semana/);
    expect(out[2]).toMatch(/fr[ií]o/);
    expect(out[2]).toMatch(/carreteras|caminos/);
  });

  it('writes only words of its target list, or source words it was not trained on (word-constrained decoding)', async () => {
    expect(config.target_words).toBe('target-words.txt');
    expect(config.source_words).toBe('source-words.txt');
    const target = wordList('target-words.txt');
    const knownSource = wordList('source-words.txt');
    const out = await translate(model, CONSTRAINED);
    const outside = out.flatMap((t, i) => {
      // Copyable: a source word written with a capital (a name), or one the model was not trained on.
      const copyable = new Set(
        (CONSTRAINED[i]!.match(/\p{L}+/gu) ?? [])
          .filter((w) => w !== w.toLowerCase() || !knownSource.has(w))
          .map((w) => w.toLowerCase()),
      );
      return (t.toLowerCase().match(/\p{L}+/gu) ?? [])
        .filter((w) => !target.has(w) && !copyable.has(w))
        .map((w) => ({ word: w, translation: t }));
    });
    expect(outside).toEqual([]);
    // `stock` and `invoice` are English words the model was trained on: not copied; `mln` it never saw.
    expect(knownSource.has('stock') && knownSource.has('invoice') && !knownSource.has('mln')).toBe(true);
    expect(out.join(' ')).not.toMatch(/\binvoice\b/);
  });

  it('invents words without its word lists (what the constraint prevents)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'translator-unconstrained-'));
    try {
      for (const f of ['model.json', 'weights.bin', 'vocab.json'])
        copyFileSync(path.join(MODEL_DIR, f), path.join(dir, f));
      const { target_words: _t, source_words: _s, ...plain } = config;
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify(plain));
      const unconstrained = await loadTranslator({ ...info(), dir });
      try {
        const target = wordList('target-words.txt');
        const words = (await translate(unconstrained, CONSTRAINED)).flatMap(
          (t) => t.toLowerCase().match(/\p{L}+/gu) ?? [],
        );
        const sourceWords = new Set(
          CONSTRAINED.join(' ')
            .toLowerCase()
            .match(/\p{L}+/gu) ?? [],
        );
        expect(words.filter((w) => !target.has(w) && !sourceWords.has(w)).length).toBeGreaterThan(0);
      } finally {
        unconstrained.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
