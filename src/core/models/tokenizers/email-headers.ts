/**
 * Locates the RFC 5322 header block at the top of a raw e-mail so classifiers can skip it.
 *
 * Only the header block is scanned (line by line, at most {@link MAX_HEADER_SCAN} characters), never
 * the body. Text that does not start like an e-mail is returned unchanged (`bodyStart` 0, no subject):
 * the block must start with an mbox `From ` line or a `Name: value` line, and contain at least one
 * standard header (From, To, Subject, Date, Received, Message-ID, ...), so a plain document that merely
 * starts with "Note: ..." keeps its first line.
 */
export const MAX_HEADER_SCAN = 65_536;

const HEADER_LINE = /^[A-Za-z0-9][A-Za-z0-9-]*:/;
const KNOWN_HEADER =
  /^(?:from|to|cc|bcc|subject|date|received|return-path|message-id|delivered-to|reply-to|sender|mime-version|content-type|content-transfer-encoding|in-reply-to|references|x-[a-z0-9-]+):/i;
const PLAIN: EmailParts = { subject: '', bodyStart: 0 };

export interface EmailParts {
  /** Value of the `Subject:` header (unfolded), or '' when there is none. */
  subject: string;
  /** Offset of the first body character (0 when the text has no header block). */
  bodyStart: number;
}

/** The patterns above, matched in place at a line's start (flag y) instead of on a copy of the line. */
const HEADER_LINE_AT = new RegExp(HEADER_LINE.source.slice(1), 'y');
const KNOWN_HEADER_AT = new RegExp(KNOWN_HEADER.source.slice(1), 'iy');
const SUBJECT_AT = /subject:/iy;
/** A character that `trim()` keeps (`\s` is the set trim removes). */
const NON_SPACE = /\S/g;

/** Index of the first character of `text[pos, end)` that `trim()` keeps, or `end`. */
function firstNonSpace(text: string, pos: number, end: number): number {
  for (let i = pos; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) continue;
    if (c < 0x80) return i;
    // Beyond ASCII (no-break space, U+2028, ...): the regex knows the set.
    NON_SPACE.lastIndex = i;
    const m = NON_SPACE.exec(text);
    return m === null ? end : Math.min(m.index, end);
  }
  return end;
}

/** Whether `re` (flag y) matches at `pos` and within the line ending at `lineEnd`. */
function matchesAt(re: RegExp, text: string, pos: number, lineEnd: number): boolean {
  re.lastIndex = pos;
  return re.test(text) && re.lastIndex <= lineEnd;
}

/**
 * Reads the header block line by line in place: no line is copied except the Subject's (the
 * patterns cannot match across a line end, and a line's trailing `\r` is whitespace, so the
 * answers are those of cutting each line out, stripping `\r`, trimming and testing the copy).
 */
export function splitEmailHeaders(text: string): EmailParts {
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
    const next = lineEnd + 1;
    // A blank line (only whitespace) ends the block.
    if (firstNonSpace(text, pos, lineEnd) >= lineEnd) return done(Math.min(next, text.length));
    const c = text.charCodeAt(pos);
    if (c === 0x20 || c === 0x09) {
      if (inSubject) subject += ' ' + text.slice(pos, lineEnd).trim();
    } else {
      inSubject = matchesAt(SUBJECT_AT, text, pos, lineEnd);
      if (!known && matchesAt(KNOWN_HEADER_AT, text, pos, lineEnd)) known = true;
      if (inSubject) subject = text.slice(pos + 'subject:'.length, lineEnd).trim();
      else if (pos > 0 && !matchesAt(HEADER_LINE_AT, text, pos, lineEnd)) return done(pos);
    }
    pos = next;
  }
  // No blank line within the scan window: treat everything scanned as headers only if the text ended.
  return limit === text.length ? done(text.length) : PLAIN;
}
