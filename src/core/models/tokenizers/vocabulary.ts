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

  toFileContent(): string {
    return this.tokens.join('\n') + '\n';
  }
}
