/**
 * Splits a document into the sentence-sized segments the translator was trained on.
 *
 * Boundaries: blank lines (paragraphs), and `.`, `!`, `?` (optionally followed by closing quotes/brackets)
 * followed by whitespace and an upper-case letter, digit or opening quote, except after common abbreviations
 * and single initials. A single line break is plain whitespace (hard-wrapped text such as e-mail stays one
 * sentence). Each segment remembers whether a paragraph break followed it, so translations keep the layout.
 */
export interface Segment {
  text: string;
  /** Separator to put after this segment's translation: a blank line at a paragraph end, else a space. */
  separator: ' ' | '\n\n';
}

const ABBREVIATIONS = new Set([
  'mr',
  'mrs',
  'ms',
  'dr',
  'st',
  'jr',
  'sr',
  'gen',
  'gov',
  'sen',
  'rep',
  'hon',
  'vs',
  'etc',
  'e.g',
  'i.e',
  'u.s',
  'u.s.a',
  'no',
  'vol',
  'inc',
  'co',
  'corp',
  'ltd',
  'jan',
  'feb',
  'mar',
  'apr',
  'jun',
  'jul',
  'aug',
  'sep',
  'sept',
  'oct',
  'nov',
  'dec',
  'fig',
  'approx',
  'a.m',
  'p.m',
  'mt',
  'ft',
  'capt',
  'lt',
  'col',
  'prof',
]);

const BOUNDARY_RE = /[.!?]+["'\u201D\u2019)\]]*\s+(?=["'\u201C\u2018([]?[\p{Lu}\p{N}])/gu;

function splitLine(line: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (const m of line.matchAll(BOUNDARY_RE)) {
    const idx = m.index ?? 0;
    const before = line.slice(start, idx + 1);
    const lastWord = /([\p{L}.]+)\.$/u.exec(before)?.[1]?.toLowerCase() ?? '';
    if (ABBREVIATIONS.has(lastWord) || /^\p{L}$/u.test(lastWord)) continue;
    const end = idx + m[0].trimEnd().length;
    out.push(line.slice(start, end).trim());
    start = idx + m[0].length;
  }
  const rest = line.slice(start).trim();
  if (rest) out.push(rest);
  return out.filter((s) => s.length > 0);
}

export function segmentSentences(text: string): Segment[] {
  const segments: Segment[] = [];
  for (const paragraph of text.split(/(?:\r?\n|\r|\u2028|\u2029)\s*(?:\r?\n|\r|\u2028|\u2029)/)) {
    const sentences = splitLine(paragraph.replace(/\s+/g, ' '));
    sentences.forEach((s, i) =>
      segments.push({ text: s, separator: i === sentences.length - 1 ? '\n\n' : ' ' }),
    );
  }
  return segments;
}
