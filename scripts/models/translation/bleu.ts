/**
 * Corpus BLEU (Papineni et al., 2002) as computed by sacrebleu with its defaults: `13a` tokenization,
 * case-sensitive, n-grams up to 4, clipped counts summed over the corpus, geometric mean of the four
 * precisions, brevity penalty exp(1 - r/c) when the hypotheses are shorter than the references.
 * One reference per segment.
 */

/** sacrebleu's `13a` tokenizer (mteval-v13a.pl). */
export function tokenize13a(line: string): string[] {
  let s = line
    .replace(/<skipped>/g, '')
    .replace(/-\n/g, '')
    .replace(/\n/g, ' ');
  if (s.includes('&')) {
    s = s
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, '&')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>');
  }
  s = ` ${s} `;
  s = s.replace(/([{-~[-` -&(-+:-@/])/g, ' $1 ');
  s = s.replace(/([^0-9])([.,])/g, '$1 $2 ');
  s = s.replace(/([.,])([^0-9])/g, ' $1 $2');
  s = s.replace(/([0-9])(-)/g, '$1 $2 ');
  return s.split(/\s+/).filter((t) => t.length > 0);
}

function ngramCounts(tokens: string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i += 1) {
    const key = tokens.slice(i, i + n).join('\u0001');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

export interface BleuScore {
  /** 0..100. */
  bleu: number;
  /** n-gram precisions (1..4), 0..100. */
  precisions: number[];
  brevityPenalty: number;
  hypLength: number;
  refLength: number;
}

export function corpusBleu(
  hypotheses: readonly string[],
  references: readonly string[],
  maxOrder = 4,
): BleuScore {
  if (hypotheses.length !== references.length) throw new Error('hypotheses and references differ in length');
  const matches = new Array<number>(maxOrder).fill(0);
  const totals = new Array<number>(maxOrder).fill(0);
  let hypLength = 0;
  let refLength = 0;
  hypotheses.forEach((hyp, i) => {
    const h = tokenize13a(hyp);
    const r = tokenize13a(references[i] ?? '');
    hypLength += h.length;
    refLength += r.length;
    for (let n = 1; n <= maxOrder; n += 1) {
      const hc = ngramCounts(h, n);
      const rc = ngramCounts(r, n);
      for (const [g, c] of hc) matches[n - 1]! += Math.min(c, rc.get(g) ?? 0);
      totals[n - 1]! += Math.max(0, h.length - n + 1);
    }
  });
  const precisions = matches.map((m, i) => (totals[i]! > 0 ? (100 * m) / totals[i]! : 0));
  const brevityPenalty =
    hypLength === 0 ? 0 : hypLength < refLength ? Math.exp(1 - refLength / hypLength) : 1;
  const logMean = precisions.every((p) => p > 0)
    ? precisions.reduce((acc, p) => acc + Math.log(p / 100), 0) / maxOrder
    : -Infinity;
  return { bleu: 100 * brevityPenalty * Math.exp(logMean), precisions, brevityPenalty, hypLength, refLength };
}
