import { kerasWords } from './keras-tokenizer-fit';

/**
 * Multinomial naive Bayes with Laplace (add-one) smoothing over the words a Keras tokenizer sees
 * (default filters, lower-cased, split on spaces): the baseline trained models are compared with
 * (card, tests). Ties go to the label listed first.
 */
export class NaiveBayes {
  private readonly labels: string[];
  private readonly counts = new Map<string, Map<string, number>>();
  private readonly docs = new Map<string, number>();
  private readonly totals = new Map<string, number>();
  private readonly vocabulary: number;
  private readonly documents: number;

  constructor(examples: readonly { text: string; label: string }[]) {
    const vocab = new Set<string>();
    for (const e of examples) {
      if (!this.counts.has(e.label)) {
        this.counts.set(e.label, new Map());
        this.docs.set(e.label, 0);
        this.totals.set(e.label, 0);
      }
      const c = this.counts.get(e.label)!;
      this.docs.set(e.label, this.docs.get(e.label)! + 1);
      for (const w of kerasWords(e.text)) {
        c.set(w, (c.get(w) ?? 0) + 1);
        this.totals.set(e.label, this.totals.get(e.label)! + 1);
        vocab.add(w);
      }
    }
    this.labels = [...this.counts.keys()].sort();
    this.vocabulary = vocab.size;
    this.documents = examples.length;
  }

  /** The most likely label of a text. */
  predict(text: string): string {
    const words = kerasWords(text);
    let best = '';
    let bestScore = -Infinity;
    for (const label of this.labels) {
      const c = this.counts.get(label)!;
      const denom = this.totals.get(label)! + this.vocabulary;
      let s = Math.log(this.docs.get(label)! / this.documents);
      for (const w of words) s += Math.log(((c.get(w) ?? 0) + 1) / denom);
      if (s > bestScore) {
        bestScore = s;
        best = label;
      }
    }
    return best;
  }

  /** Share of `examples` whose label it predicts. */
  accuracy(examples: readonly { text: string; label: string }[]): number {
    if (examples.length === 0) return 0;
    return examples.filter((e) => this.predict(e.text) === e.label).length / examples.length;
  }
}
