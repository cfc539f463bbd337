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
