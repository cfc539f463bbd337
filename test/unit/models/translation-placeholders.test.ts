import type { BpeVocabFile } from '../../../src/core/models/translation/bpe-tokenizer';
import { BpeTokenizer, SPECIAL_TOKENS } from '../../../src/core/models/translation/bpe-tokenizer';
import {
  DEFAULT_PLACEHOLDER_SCHEME,
  maskPlaceholders,
  parsePlaceholderScheme,
  placeholderChar,
  placeholderSlots,
  restorePlaceholders,
} from '../../../src/core/models/translation/placeholders';
import type { TransformerTranslator } from '../../../src/core/models/translation/transformer';
import { Translator, DEFAULT_TRANSLATOR_SETTINGS } from '../../../src/core/models/translation/translator';
import type { ModelInfo, TranslationResult } from '../../../src/core/models/types';

const show = (s: string): string => s.replace(/[\uE000-\uE0FF]/g, (c) => `<${c.charCodeAt(0) - 0xe000}>`);

describe('translation placeholders', () => {
  const cases: Array<[string, string, string[]]> = [
    ['José Martínez lives in Zürich.', '<0> <1> lives in <2>.', ['José', 'Martínez', 'Zürich']],
    [
      'See https://example.com/a?b=1&c=2. Or www.example.org!',
      'See <0>. Or <1>!',
      ['https://example.com/a?b=1&c=2', 'www.example.org'],
    ],
    [
      'Write to john.doe+list@mail.example.co.uk today.',
      'Write to <0> today.',
      ['john.doe+list@mail.example.co.uk'],
    ],
    [
      'It costs $1,000.50, or 3.14% more, at 10:30 on day 7.',
      'It costs $<0>, or <1>% more, at <2> on day <3>.',
      ['1,000.50', '3.14', '10:30', '7'],
    ],
    ['¿Qué pasa? ¡Hola!', '<0><1> pasa? <2>Hola!', ['¿', 'Qué', '¡']],
    ['Use C++ and a/b [sic] #tag.', 'Use C<0> and a<1>b <2>sic<3> <4>tag.', ['++', '/', '[', ']', '#']],
    ['The same 42 and 42 again.', 'The same <0> and <0> again.', ['42']],
    [
      "Plain English words stay, even e-mail and don't.",
      "Plain English words stay, even e-mail and don't.",
      [],
    ],
  ];

  it.each(cases)('masks %j', (text, masked, originals) => {
    const m = maskPlaceholders(text);
    expect(show(m.text)).toBe(masked);
    expect(m.originals).toEqual(originals);
    expect(restorePlaceholders(m.text, m.originals)).toBe(text);
  });

  it('restores placeholders a translation moved, and keeps what it dropped', () => {
    const m = maskPlaceholders('José Martínez paid 300 dollars at https://shop.example.com.');
    const [jose, martinez, n, url] = [0, 1, 2, 3].map((i) => placeholderChar(i));
    // A translation that reorders, and one that drops the URL and invents slot 9.
    expect(restorePlaceholders(`${jose} ${martinez} pagó ${n} dólares en ${url}.`, m.originals)).toBe(
      'José Martínez pagó 300 dólares en https://shop.example.com.',
    );
    expect(
      restorePlaceholders(`${jose} ${martinez} pagó ${n} dólares${placeholderChar(9)}.`, m.originals),
    ).toBe('José Martínez pagó 300 dólares. https://shop.example.com');
    // Only the expected slots are appended (a sentence cut into pieces expects its own slots only).
    expect(restorePlaceholders(`${jose} pagó`, m.originals, [0])).toBe('José pagó');
  });

  it('masks placeholder characters that are already in the input, so they come back as they were', () => {
    const text = `odd ${placeholderChar(0)} char and 5`;
    const m = maskPlaceholders(text);
    expect(m.originals).toEqual([placeholderChar(0), '5']);
    expect(restorePlaceholders(m.text, m.originals)).toBe(text);
  });

  it('leaves matches beyond the last slot as text', () => {
    const text = Array.from({ length: 20 }, (_, i) => `n${i} ${i + 100}`).join(' ');
    const m = maskPlaceholders(text);
    expect(m.originals).toHaveLength(DEFAULT_PLACEHOLDER_SCHEME.slots);
    expect(m.text).toContain('116');
    expect(restorePlaceholders(m.text, m.originals)).toBe(text);
  });

  it('parses the config field and refuses bad ones', () => {
    expect(parsePlaceholderScheme(undefined)).toBeUndefined();
    expect(parsePlaceholderScheme(false)).toBeUndefined();
    expect(parsePlaceholderScheme(true)).toEqual(DEFAULT_PLACEHOLDER_SCHEME);
    expect(parsePlaceholderScheme({ first: 'U+E100', slots: 8 })).toEqual({ first: 0xe100, slots: 8 });
    expect(() => parsePlaceholderScheme({ first: 'E000' })).toThrow(/U\+E000/);
    expect(() => parsePlaceholderScheme({ first: 'U+0041' })).toThrow(/private-use/);
    expect(() => parsePlaceholderScheme({ slots: 0 })).toThrow(/slots/);
    expect(() => parsePlaceholderScheme('yes')).toThrow(/object/);
  });

  it('lists the slots of a text in order of first occurrence', () => {
    expect(placeholderSlots(`a ${placeholderChar(2)} b ${placeholderChar(0)} ${placeholderChar(2)}`)).toEqual(
      [2, 0],
    );
  });
});

describe('translator with placeholders (serving path, copy network)', () => {
  // A character-level vocabulary (no merges) with the placeholder characters, and a "network" that copies its
  // source: what comes out is exactly what the serving path did around the model.
  const chars = [
    ...new Set([
      ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,;:!?\'"()$%&-▁',
      ...Array.from({ length: 16 }, (_, i) => placeholderChar(i)),
    ]),
  ];
  const vocab: BpeVocabFile = { format: 'docbatch-bpe/1', tokens: [...SPECIAL_TOKENS, ...chars], merges: [] };
  const tokenizer = new BpeTokenizer(vocab);
  const copyNetwork = {
    translate: (rows: Array<{ src: ArrayLike<number> }>) =>
      Promise.resolve(rows.map((r) => Array.from(r.src))),
    dispose: () => undefined,
  } as unknown as TransformerTranslator;
  const info: ModelInfo = {
    id: 'copy@1',
    name: 'copy',
    version: 1,
    task: 'translation',
    source_lang: 'en',
    target_lang: 'es',
    maxLength: 512,
    dir: '/nonexistent',
  };

  async function run(translator: Translator, texts: string[]): Promise<string[]> {
    const encoded = texts.map((t) => translator.encode(t, {}));
    const out = (await translator.runBatch(encoded, {})) as TranslationResult[];
    return out.map((r) => r.translation);
  }

  const SURVIVORS = [
    'Write to José Martínez at jose.martinez@example.es about https://example.com/path?q=1&x=%20 today.',
    '¿Dónde está? ¡Aquí! The price is $1,234.56 (or 99%) at 10:30.',
    'Ça va, Zoë? Meet François in Málaga or 東京 😀 on 2026-12-05.',
    'Use C++ or a/b with x_y = <b> [1] #tag *bold* ~tilde.',
  ];

  it('carries URLs, e-mail addresses, numbers, ¿ ¡, accented names and symbols through verbatim', async () => {
    const translator = new Translator(info, tokenizer, copyNetwork, {
      ...DEFAULT_TRANSLATOR_SETTINGS,
      placeholders: DEFAULT_PLACEHOLDER_SCHEME,
    });
    expect(await run(translator, SURVIVORS)).toEqual(SURVIVORS);
  });

  it('restores placeholders in every piece of a sentence cut for length', async () => {
    const translator = new Translator(info, tokenizer, copyNetwork, {
      ...DEFAULT_TRANSLATOR_SETTINGS,
      maxSegmentTokens: 24,
      placeholders: DEFAULT_PLACEHOLDER_SCHEME,
    });
    const text =
      'First see https://a.example.com then write to ana@example.org and call 555 in the evening please';
    const encoded = translator.encode(text, {});
    expect((encoded.payload as { segmentLengths: number[] }).segmentLengths.length).toBeGreaterThan(2);
    expect(await run(translator, [text])).toEqual([text]);
  });

  it('without placeholders (as en-es-translator@1) the same text loses what the vocabulary lacks', async () => {
    const translator = new Translator(info, tokenizer, copyNetwork, DEFAULT_TRANSLATOR_SETTINGS);
    const [out] = await run(translator, [SURVIVORS[0]!]);
    expect(out).not.toContain('@');
    expect(out).not.toContain('José');
  });
});
