import { splitSentences } from '../text/sentence-splitter';

/**
 * Splits a document into the sentence-sized segments the translator was trained on, with the project's
 * one sentence splitter (`src/core/models/text/sentence-splitter.ts`: abbreviations, initials, decimals,
 * `.--Mr.`, closing quotes, `"Oh!" said she.`).
 *
 * Paragraphs (blank lines) are split first; inside a paragraph every run of whitespace is one space, so a
 * single line break is plain whitespace (hard-wrapped text such as e-mail stays one sentence). Sentences
 * inside quoted speech are split like any other (`maxQuotedChars: 0`): the model was trained on single
 * sentences, and a merged speech would only be cut again by length. A paragraph with no word characters
 * (`* * *`) is kept as one segment. Each segment remembers whether a paragraph break followed it, so
 * translations keep the layout.
 */
export interface Segment {
  text: string;
  /** Separator to put after this segment's translation: a blank line at a paragraph end, else a space. */
  separator: ' ' | '\n\n';
}

export function segmentSentences(text: string): Segment[] {
  const segments: Segment[] = [];
  for (const paragraph of text.split(/(?:\r?\n|\r|\u2028|\u2029)\s*(?:\r?\n|\r|\u2028|\u2029)/)) {
    const line = paragraph.replace(/\s+/g, ' ').trim();
    if (!line) continue;
    const spans = splitSentences(line, { maxQuotedChars: 0 });
    const sentences = spans.length > 0 ? spans.map((s) => line.slice(s.start, s.end)) : [line];
    sentences.forEach((s, i) =>
      segments.push({ text: s, separator: i === sentences.length - 1 ? '\n\n' : ' ' }),
    );
  }
  return segments;
}
