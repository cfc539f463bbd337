import { iterateSentences, splitSentences } from '../../../src/core/models/summarization/sentence-splitter';

function sentences(text: string): string[] {
  return splitSentences(text).map((s) => text.slice(s.start, s.end));
}

describe('splitSentences', () => {
  it.each([
    ['titles', 'Mr. Smith met Dr. Jones. They talked.', ['Mr. Smith met Dr. Jones.', 'They talked.']],
    [
      'latin abbreviations',
      'Bring fruit, e.g. apples. I.e. Not pears.',
      ['Bring fruit, e.g. apples.', 'I.e. Not pears.'],
    ],
    ['U.S. inside a sentence', 'The U.S. Senate voted. It passed.', ['The U.S. Senate voted.', 'It passed.']],
    [
      'U.S. at the end of a sentence',
      'He lives in the U.S. We do not.',
      ['He lives in the U.S.', 'We do not.'],
    ],
    [
      'decimals',
      'Pi is 3.14 and e is 2.72. Both are irrational.',
      ['Pi is 3.14 and e is 2.72.', 'Both are irrational.'],
    ],
    ['initials', 'J. R. R. Tolkien wrote it. It sold well.', ['J. R. R. Tolkien wrote it.', 'It sold well.']],
    [
      'quotes',
      'He said, "Stop!" Then he left. "Why?" she asked.',
      ['He said, "Stop!"', 'Then he left.', '"Why?" she asked.'],
    ],
    ['curly quotes', 'She wrote “Done.” The end.', ['She wrote “Done.”', 'The end.']],
    ['ellipsis before lower case', 'Well... maybe not. Fine.', ['Well... maybe not.', 'Fine.']],
    ['ellipsis before upper case', 'Wait… What happened?', ['Wait…', 'What happened?']],
    ['parentheses', 'Thank you. (Applause.) Thank you.', ['Thank you.', '(Applause.)', 'Thank you.']],
    [
      'month abbreviation and digits',
      'It rose in Jan. 2020 by 2 percent. It fell.',
      ['It rose in Jan. 2020 by 2 percent.', 'It fell.'],
    ],
    ['URLs and inner dots', 'See www.example.com for more. Bye.', ['See www.example.com for more.', 'Bye.']],
    [
      'paragraph breaks',
      'Heading without stop\n\nBody text here. More',
      ['Heading without stop', 'Body text here.', 'More'],
    ],
    ['no terminator', 'just some words', ['just some words']],
    ['punctuation-only pieces are dropped', '... !!! Real sentence.', ['Real sentence.']],
  ])('%s', (_name, text, expected) => {
    expect(sentences(text)).toEqual(expected);
  });

  it('returns nothing for whitespace', () => {
    expect(splitSentences(' \n\t ')).toEqual([]);
  });

  it('honours maxSentences and maxChars', () => {
    const text = 'One. Two. Three. Four.';
    expect(splitSentences(text, { maxSentences: 2 }).map((s) => text.slice(s.start, s.end))).toEqual([
      'One.',
      'Two.',
    ]);
    expect(splitSentences(text, { maxChars: 9 }).map((s) => text.slice(s.start, s.end))).toEqual([
      'One.',
      'Two.',
    ]);
  });

  it('is lazy: taking the first sentence of a huge text is fast', () => {
    const huge = 'First sentence here. ' + 'Another sentence follows. '.repeat(200_000);
    const started = Date.now();
    const first = iterateSentences(huge).next();
    expect(first.done).toBe(false);
    expect(Date.now() - started).toBeLessThan(50);
  });
});
