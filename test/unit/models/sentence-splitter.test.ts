import { iterateSentences, splitSentences } from '../../../src/core/models/text/sentence-splitter';

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
    [
      'a dash after the stop does not hide the title (.--Mr.)',
      "as he had often been.--Mr. Knightley's words were true.",
      ['as he had often been.', "Mr. Knightley's words were true."],
    ],
    [
      'a title after a dash is still a title',
      'She turned--Mrs. Weston was there. They spoke.',
      ['She turned--Mrs. Weston was there.', 'They spoke.'],
    ],
    [
      'em dash after an exclamation',
      'Poor Miss Taylor!—It was a pity.',
      ['Poor Miss Taylor!', 'It was a pity.'],
    ],
    ['dialogue: said she', '"Oh!" said she. "It is late."', ['"Oh!" said she.', '"It is late."']],
    [
      'dialogue: a one-word exclamation does not end the speech',
      '"Oh! Mr. Knightley, how could you?" He smiled.',
      ['"Oh! Mr. Knightley, how could you?"', 'He smiled.'],
    ],
    [
      'closing quotes stay with their sentence',
      'He said, "It is done." She nodded. “Really?” asked Tom.',
      ['He said, "It is done."', 'She nodded.', '“Really?” asked Tom.'],
    ],
    [
      'a short speech of several sentences is kept whole',
      '"I cannot. I will not. Never," said Emma. Then she left.',
      ['"I cannot. I will not. Never," said Emma.', 'Then she left.'],
    ],
    [
      'a quote that never closes in its paragraph does not hold boundaries back',
      '"It was late. We walked home.\n\n"Next day we rose early.',
      ['"It was late.', 'We walked home.', '"Next day we rose early.'],
    ],
    ['the pronoun I ends a sentence', 'So did I. Then we left.', ['So did I.', 'Then we left.']],
    ['ellipsis in the middle', 'I wonder... Perhaps not.', ['I wonder...', 'Perhaps not.']],
    ['decimal followed by a sentence', 'It cost 3.5 dollars. Cheap.', ['It cost 3.5 dollars.', 'Cheap.']],
    [
      'St. and Dr. before names',
      'They met at St. Paul with Dr. Grant. Good.',
      ['They met at St. Paul with Dr. Grant.', 'Good.'],
    ],
  ])('%s', (_name, text, expected) => {
    expect(sentences(text)).toEqual(expected);
  });

  it('splits inside quotes with maxQuotedChars 0, and splits long speeches anyway', () => {
    const text = '"I cannot. I will not," said Emma.';
    expect(splitSentences(text, { maxQuotedChars: 0 }).map((s) => text.slice(s.start, s.end))).toEqual([
      '"I cannot.',
      'I will not," said Emma.',
    ]);
    const long = `"${'This is a long sentence of speech. '.repeat(20)}" said she.`;
    expect(splitSentences(long).length).toBeGreaterThan(1);
  });

  it('spans are offsets into the original text', () => {
    const text = 'often been.--Mr. Knightley came.';
    const spans = splitSentences(text);
    expect(spans).toEqual([
      { start: 0, end: 11 },
      { start: 13, end: text.length },
    ]);
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
    expect(huge.search(/$/)).toBe(huge.length); // flattens V8's rope string first, so only splitting is timed
    const started = Date.now();
    const first = iterateSentences(huge).next();
    expect(first.done).toBe(false);
    expect(Date.now() - started).toBeLessThan(50);
  });
});
