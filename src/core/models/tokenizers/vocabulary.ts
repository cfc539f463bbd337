import { readFileSync } from 'node:fs';

/** Id of the padding token; tensor batches are right-padded with it. */
export const PAD_ID = 0;
/** Id of the out-of-vocabulary token. */
export const UNK_ID = 1;
export const PAD_TOKEN = '[PAD]';
export const UNK_TOKEN = '[UNK]';

/**
 * A token -> id table read from a `vocab.txt` file: one token per line, the line number (0-based) is
 * the id. Line 0 must be `[PAD]` and line 1 `[UNK]`. Bigram entries are two words joined by one space.
 */
export class Vocabulary {
  private readonly ids = new Map<string, number>();
  /** Bigram ids keyed by `id(w1) * size + id(w2)`, for bigrams whose words are both known. */
  private pairs?: Map<number, number>;
  /** Some bigram has a word that is not in the vocabulary on its own (looked up by string then). */
  private orphanPairs = false;

  constructor(readonly tokens: readonly string[]) {
    if (tokens[PAD_ID] !== PAD_TOKEN || tokens[UNK_ID] !== UNK_TOKEN) {
      throw new Error(`vocabulary must start with ${PAD_TOKEN} and ${UNK_TOKEN}`);
    }
    tokens.forEach((t, i) => {
      if (!this.ids.has(t)) this.ids.set(t, i);
    });
  }

  static fromFile(file: string): Vocabulary {
    const lines = readFileSync(file, 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return new Vocabulary(lines);
  }

  get size(): number {
    return this.tokens.length;
  }

  /** The id of `token`, or `undefined` when it is not in the vocabulary. */
  lookup(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** The id of `token`, or {@link UNK_ID}. */
  idOf(token: string): number {
    return this.ids.get(token) ?? UNK_ID;
  }

  /**
   * The id of the bigram `"w1 w2"`, or `undefined`; `id1` and `id2` are the words' own ids. Same
   * answer as `lookup(w1 + ' ' + w2)`, without building and hashing the joined string for every
   * pair of known words (a numeric table, built on first use).
   */
  bigramId(w1: string, id1: number, w2: string, id2: number): number | undefined {
    const pairs = this.pairs ?? this.buildPairs();
    if (id1 !== UNK_ID && id2 !== UNK_ID) return pairs.get(id1 * this.tokens.length + id2);
    return this.orphanPairs ? this.ids.get(w1 + ' ' + w2) : undefined;
  }

  private buildPairs(): Map<number, number> {
    const pairs = new Map<number, number>();
    for (const [token, id] of this.ids) {
      const space = token.indexOf(' ');
      if (space < 0) continue;
      const a = this.ids.get(token.slice(0, space));
      const b = this.ids.get(token.slice(space + 1));
      // `[UNK]` written as a word of a bigram is looked up by string, like an unknown word.
      if (
        a === undefined ||
        b === undefined ||
        a === UNK_ID ||
        b === UNK_ID ||
        token.indexOf(' ', space + 1) >= 0
      ) {
        this.orphanPairs = true;
        continue;
      }
      const key = a * this.tokens.length + b;
      if (!pairs.has(key)) pairs.set(key, id);
    }
    this.pairs = pairs;
    return pairs;
  }

  toFileContent(): string {
    return this.tokens.join('\n') + '\n';
  }
}
