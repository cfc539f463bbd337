import { WORD_BOUNDARY } from './bpe-tokenizer';

const LETTERS = /^[\p{L}\p{M}]+$/u;

/**
 * Word-constrained decoding: the decoder may only write words of a closed list (the words of the target side
 * of the model's training corpus, `config.json` `target_words`) or words of the source segment (an English
 * word the model cannot translate is copied rather than invented: `invoice`, not `insejo`).
 *
 * A word is a maximal run of letters (`\p{L}\p{M}`), compared lower-cased. A BPE token (see bpe-tokenizer.ts)
 * never mixes letters with anything but a leading `▁`, so the current word of a partial output is the letter
 * run at its end, and a candidate token is accepted when:
 * - it continues the current word (letters, no `▁`): the extended word is a prefix of an allowed word;
 * - it starts a new word (letters after `▁`, or after a non-letter token): the current word, if any, is a
 *   whole allowed word, and the new letters are a prefix of one;
 * - it is anything else (punctuation, digits, placeholders, `▁` alone, `</s>`): the current word, if any,
 *   is a whole allowed word.
 * So a greedy decoder that always takes an accepted token never reaches a dead end: a valid prefix always
 * has a single-letter continuation (every letter is a token).
 */
export class TargetWordList {
  private readonly sorted: string[];
  private readonly whole: Set<string>;

  constructor(words: Iterable<string>) {
    const set = new Set<string>();
    for (const w of words) {
      const x = w.trim().toLowerCase();
      if (x.length > 0 && LETTERS.test(x)) set.add(x);
    }
    this.whole = set;
    this.sorted = [...set].sort();
  }

  /** Parses a word file: one word per line, `#` comments and blank lines ignored. */
  static parse(text: string): TargetWordList {
    return new TargetWordList(text.split('\n').filter((l) => !l.startsWith('#')));
  }

  get size(): number {
    return this.whole.size;
  }

  has(word: string): boolean {
    return this.whole.has(word);
  }

  /** Whether some allowed word starts with `prefix` (binary search in the sorted list). */
  hasPrefix(prefix: string): boolean {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.sorted.length && this.sorted[lo]!.startsWith(prefix);
  }
}

/** What a vocabulary token is, for the word constraint. */
interface TokenShape {
  /** Starts with `▁`. */
  boundary: boolean;
  /** Is `▁` alone: a word starts, its letters follow. */
  bare: boolean;
  /** Lower-cased letters of the token (without `▁`), or `undefined` when the rest is not letters. */
  letters: string | undefined;
}

/** Per-row view of a decode: accepts or refuses a candidate next token given the row's output so far. */
export interface DecodeConstraint {
  accepts(output: readonly number[], candidate: number): boolean;
}

/** Builds per-segment constraints for one vocabulary and word list. */
export class WordConstraintFactory {
  private readonly shapes: TokenShape[];

  /**
   * `specialIds`: ids that are not text (`<pad>`, `<s>`, `</s>`, `<unk>`); they end a word. `knownSource`: the
   * source-language words the model was trained on (see {@link forSource}); without it every source word may
   * be copied.
   */
  constructor(
    tokens: readonly string[],
    private readonly words: TargetWordList,
    specialIds: ReadonlySet<number>,
    private readonly knownSource?: TargetWordList,
  ) {
    this.shapes = tokens.map((tok, id) => {
      if (specialIds.has(id)) return { boundary: false, bare: false, letters: undefined };
      const boundary = tok.startsWith(WORD_BOUNDARY);
      const rest = (boundary ? tok.slice(WORD_BOUNDARY.length) : tok).toLowerCase();
      return {
        boundary,
        bare: boundary && rest.length === 0,
        letters: rest.length > 0 && LETTERS.test(rest) ? rest : undefined,
      };
    });
  }

  /**
   * A constraint for one segment; `sourceText` is the segment's source. Its words may be copied, except, when
   * the factory has a list of the source words the model was trained on (`knownSource`), a lower-case word of
   * that list: the model has seen it translated and must translate it (`stock` is not copied into the Spanish),
   * while a word it never saw (`mln`) or a capitalised one (a name) may be carried over as it is.
   */
  forSource(sourceText: string): DecodeConstraint {
    const sourceWords = new Set<string>();
    for (const w of sourceText.match(/[\p{L}\p{M}]+/gu) ?? []) {
      const lower = w.toLowerCase();
      if (!this.knownSource || lower !== w || !this.knownSource.has(lower)) sourceWords.add(lower);
    }
    const isWord = (w: string): boolean => this.words.has(w) || sourceWords.has(w);
    const isPrefix = (p: string): boolean => {
      if (this.words.hasPrefix(p)) return true;
      for (const w of sourceWords) if (w.startsWith(p)) return true;
      return false;
    };
    return {
      accepts: (output, candidate) => {
        const current = this.currentWord(output);
        const shape = this.shapes[candidate];
        if (shape?.letters !== undefined && !shape.boundary && current !== undefined)
          return isPrefix(current + shape.letters);
        if (current !== undefined && current.length > 0 && !isWord(current)) return false;
        return shape?.letters === undefined || isPrefix(shape.letters);
      },
    };
  }

  /**
   * The word being written at the end of `output`: its lower-cased letters (`''` right after a lone `▁`), or
   * `undefined` when the output does not end inside a word.
   */
  private currentWord(output: readonly number[]): string | undefined {
    const last = output.length > 0 ? this.shapes[output[output.length - 1]!] : undefined;
    if (!last) return undefined;
    if (last.letters === undefined) return last.bare ? '' : undefined;
    let word = '';
    for (let i = output.length - 1; i >= 0; i -= 1) {
      const shape = this.shapes[output[i]!];
      if (!shape || shape.letters === undefined) break;
      word = shape.letters + word;
      if (shape.boundary) break;
    }
    return word;
  }
}
