import type { ClassifierTokenizerConfig } from '../../src/core/models/classification/classifier-encoder';
import type { EmailParts } from '../../src/core/models/tokenizers/email-headers';
import type { Vocabulary } from '../../src/core/models/tokenizers/vocabulary';
import { tokenizeWords } from '../../src/core/models/tokenizers/word-tokenizer';

/**
 * The classifier's `word` encoding as it was written before the scanner of classifier-encoder.ts
 * (commit 4615bb0, verbatim, with the header split of that commit below): the words of the shared
 * regex tokenizer (word-tokenizer.ts) as strings, each looked up in the vocabulary's Map. Slower, plainly right; the tests hold the fast
 * encoder to it.
 */
export function encodeClassifierTextReference(
  text: string,
  vocab: Vocabulary,
  tokenizer: ClassifierTokenizerConfig,
  maxLength: number,
): Int32Array {
  const lowercase = tokenizer.lowercase ?? true;
  const bigrams = tokenizer.bigrams ?? false;
  let start = 0;
  let words: string[] = [];
  if (tokenizer.strip_email_headers) {
    const parts = splitEmailHeadersReference(text);
    start = parts.bodyStart;
    if (parts.subject) words = tokenizeWords(parts.subject, { maxTokens: maxLength, lowercase });
  }
  if (words.length < maxLength) {
    words = words.concat(tokenizeWords(text, { maxTokens: maxLength - words.length, lowercase, start }));
  }
  const ids = new Int32Array(maxLength);
  let n = 0;
  let prev: string | undefined;
  let prevId = 0;
  for (const w of words) {
    if (n >= maxLength) break;
    const wordId = vocab.idOf(w);
    ids[n++] = wordId;
    if (bigrams && prev !== undefined && n < maxLength) {
      const id = vocab.bigramId(prev, prevId, w, wordId);
      if (id !== undefined) ids[n++] = id;
    }
    prev = w;
    prevId = wordId;
  }
  return ids.slice(0, n);
}

const HEADER_LINE = /^[A-Za-z0-9][A-Za-z0-9-]*:/;
const KNOWN_HEADER =
  /^(?:from|to|cc|bcc|subject|date|received|return-path|message-id|delivered-to|reply-to|sender|mime-version|content-type|content-transfer-encoding|in-reply-to|references|x-[a-z0-9-]+):/i;
const PLAIN: EmailParts = { subject: '', bodyStart: 0 };
const MAX_HEADER_SCAN = 65_536;

/**
 * email-headers.ts's splitEmailHeaders as it was before it read the lines in place (commit
 * 4615bb0, verbatim): each line cut out, `\r` stripped, trimmed, and matched by anchored regexes.
 */
export function splitEmailHeadersReference(text: string): EmailParts {
  const firstEnd = text.indexOf('\n');
  const firstLine = text.slice(0, firstEnd === -1 ? Math.min(text.length, 200) : Math.min(firstEnd, 998));
  if (!firstLine.startsWith('From ') && !HEADER_LINE.test(firstLine)) return PLAIN;
  const limit = Math.min(text.length, MAX_HEADER_SCAN);
  let subject = '';
  let inSubject = false;
  let known = false;
  let pos = 0;
  const done = (bodyStart: number): EmailParts => (known ? { subject: subject.trim(), bodyStart } : PLAIN);
  while (pos < limit) {
    const nl = text.indexOf('\n', pos);
    const lineEnd = nl === -1 || nl > limit ? limit : nl;
    const line = text.slice(pos, lineEnd).replace(/\r$/, '');
    const next = lineEnd + 1;
    if (line.trim() === '') return done(Math.min(next, text.length));
    if (/^[ \t]/.test(line)) {
      if (inSubject) subject += ' ' + line.trim();
    } else {
      inSubject = /^subject:/i.test(line);
      if (KNOWN_HEADER.test(line)) known = true;
      if (inSubject) subject = line.slice(line.indexOf(':') + 1).trim();
      else if (pos > 0 && !HEADER_LINE.test(line)) return done(pos);
    }
    pos = next;
  }
  // No blank line within the scan window: treat everything scanned as headers only if the text ended.
  return limit === text.length ? done(text.length) : PLAIN;
}
