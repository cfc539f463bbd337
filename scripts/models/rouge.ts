/** ROUGE-N (clipped n-gram overlap, Lin 2004) over pre-tokenized text. */
export interface RougeScore {
  precision: number;
  recall: number;
  f1: number;
}

function ngrams(tokens: string[], n: number): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join(' ');
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

export function rougeN(candidate: string[], reference: string[], n: number): RougeScore {
  const c = ngrams(candidate, n);
  const r = ngrams(reference, n);
  let overlap = 0;
  for (const [g, count] of c) overlap += Math.min(count, r.get(g) ?? 0);
  const cTotal = Math.max(0, candidate.length - n + 1);
  const rTotal = Math.max(0, reference.length - n + 1);
  const precision = cTotal === 0 ? 0 : overlap / cTotal;
  const recall = rTotal === 0 ? 0 : overlap / rTotal;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}
