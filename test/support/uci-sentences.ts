import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The 3,000 UCI Sentiment Labelled Sentences (Amazon, IMDb, Yelp), as npm `sentiment@5.0.2` ships them. */
export const UCI_SOURCES = ['amazon', 'imdb', 'yelp'] as const;

export interface UciSentence {
  id: string;
  text: string;
  label: 'negative' | 'positive';
}

/** The sentences in fixture order (amazon, imdb, yelp), ids `<source>:<index>`. */
export function loadUciSentences(): UciSentence[] {
  const dir = path.join(path.dirname(require.resolve('sentiment/package.json')), 'test', 'fixtures');
  const out: UciSentence[] = [];
  for (const source of UCI_SOURCES) {
    const rows = JSON.parse(readFileSync(path.join(dir, `${source}.json`), 'utf8')) as {
      text?: unknown;
      class?: unknown;
    }[];
    rows.forEach((r, i) => {
      if (typeof r.text === 'string' && (r.class === 0 || r.class === 1) && r.text.trim())
        out.push({
          id: `${source}:${i}`,
          text: r.text.trim(),
          label: r.class === 1 ? 'positive' : 'negative',
        });
    });
  }
  return out;
}
