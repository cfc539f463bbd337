import { TargetWordList, WordConstraintFactory } from '../../../src/core/models/translation/target-words';

// Word-constrained decoding (config.json `target_words`): the decoder may write only words of the list or of
// the source segment. A small vocabulary in the BPE layout of bpe-tokenizer.ts: `▁` marks a word start.
const TOKENS = [
  '<pad>',
  '<s>',
  '</s>',
  '<unk>',
  '▁',
  '▁ca',
  'sa',
  's',
  'a',
  'j',
  'o',
  '▁in',
  'voice',
  '.',
  '▁.',
  ',',
  '7',
  '\uE000',
  '▁Ca',
  'é',
  'ón',
];
const id = (tok: string): number => {
  const i = TOKENS.indexOf(tok);
  if (i < 0) throw new Error(`no token ${tok}`);
  return i;
};
const ids = (...toks: string[]): number[] => toks.map(id);

const words = new TargetWordList(['casa', 'casas', 'caja', 'Cajón', '', 'no-letters', 'café']);
const factory = new WordConstraintFactory(TOKENS, words, new Set([0, 1, 2, 3]));

describe('TargetWordList', () => {
  it('keeps lower-cased letter-only words and answers prefixes by binary search', () => {
    expect(words.size).toBe(5); // '' and 'no-letters' are not words
    expect(words.has('cajón')).toBe(true);
    expect(words.has('Cajón')).toBe(false); // callers compare lower-cased
    for (const p of ['c', 'ca', 'cas', 'casa', 'casas', 'caj', 'cajó', 'caf'])
      expect(words.hasPrefix(p)).toBe(true);
    for (const p of ['x', 'cb', 'casass', 'cajon', 'cafe']) expect(words.hasPrefix(p)).toBe(false);
  });

  it('parses a word file with comments and blank lines', () => {
    const list = TargetWordList.parse('# words of the training targets\ncasa\n\nperro\r\n');
    expect(list.size).toBe(2);
    expect(list.has('perro')).toBe(true);
  });
});

describe('WordConstraintFactory', () => {
  const c = factory.forSource('Send the invoice.');

  it('accepts a word start only when its letters begin an allowed word', () => {
    expect(c.accepts([], id('▁ca'))).toBe(true);
    expect(c.accepts([], id('▁Ca'))).toBe(true); // case-insensitive
    expect(c.accepts([], id('▁in'))).toBe(true); // a source word: `invoice` may be copied
    expect(factory.forSource('Send it.').accepts([], id('▁in'))).toBe(false);
  });

  it('accepts a continuation only while the word stays a prefix of an allowed word', () => {
    expect(c.accepts(ids('▁ca'), id('sa'))).toBe(true);
    expect(c.accepts(ids('▁ca'), id('j'))).toBe(true);
    expect(c.accepts(ids('▁ca', 'j'), id('ón'))).toBe(true);
    expect(c.accepts(ids('▁ca', 'j'), id('o'))).toBe(false); // `cajo` is no prefix of `cajón`
    expect(c.accepts(ids('▁ca', 'sa'), id('s'))).toBe(true);
    expect(c.accepts(ids('▁ca', 'sa', 's'), id('a'))).toBe(false); // `casasa`
    expect(c.accepts(ids('▁in'), id('voice'))).toBe(true);
  });

  it('lets a word end (punctuation, a new word, </s>) only when it is a whole allowed word', () => {
    expect(c.accepts(ids('▁ca', 'sa'), id('.'))).toBe(true);
    expect(c.accepts(ids('▁ca', 'sa'), id('▁ca'))).toBe(true);
    expect(c.accepts(ids('▁ca', 'sa'), 2)).toBe(true); // </s>
    expect(c.accepts(ids('▁ca'), id('.'))).toBe(false); // `ca` is only a prefix
    expect(c.accepts(ids('▁ca'), 2)).toBe(false);
    expect(c.accepts(ids('▁ca', 'j'), id('▁.'))).toBe(false);
    expect(c.accepts(ids('▁in', 'voice'), id('.'))).toBe(true);
  });

  it('leaves punctuation, digits and placeholders free, and starts a new word after them', () => {
    expect(c.accepts([], id('\uE000'))).toBe(true);
    expect(c.accepts(ids('\uE000'), id('7'))).toBe(true);
    expect(c.accepts(ids('▁ca', 'sa', ','), id('j'))).toBe(false); // `j` after `,` starts the word `j`
    expect(c.accepts(ids('▁ca', 'sa', ','), id('▁ca'))).toBe(true);
    expect(c.accepts(ids('7'), id('sa'))).toBe(false);
  });

  it('treats a lone `▁` as the start of a word whose letters follow', () => {
    expect(c.accepts(ids('▁ca', 'sa', '▁'), id('sa'))).toBe(false); // `sa` alone
    expect(c.accepts(ids('▁'), id('.'))).toBe(true);
    expect(c.accepts(ids('▁ca', 'sa', '▁'), id('.'))).toBe(true);
  });

  it('counts accented letters as letters of the word', () => {
    expect(c.accepts(ids('▁ca'), id('é'))).toBe(false); // `caé`
    expect(factory.forSource('').accepts(ids('▁Ca', 'j'), id('ón'))).toBe(true);
  });
});
