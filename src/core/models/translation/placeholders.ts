/**
 * Placeholders: text a translation model should not translate but copy verbatim (URLs, e-mail addresses,
 * numbers, words with letters outside A-Z, symbols outside plain English punctuation) is replaced by
 * single private-use characters before tokenization and put back after decoding.
 *
 * The same functions prepare the training pairs (scripts/models/translation/build-corpus-v2.ts: the
 * English side is masked, translated by Apertium, which passes the private-use characters through, and
 * the pair is kept only when the Spanish side carries each placeholder exactly as often as the English)
 * and serve requests (translator.ts, when the model's `config.json` has `placeholders`), so the model
 * learns to copy what it sees at serving time.
 *
 * Rules, applied left to right in one pass over the normalised text (first match wins):
 * 1. URL: `http://`, `https://`, `ftp://` or `www.` up to the next whitespace, without trailing
 *    sentence punctuation (`.,;:!?` and closing brackets/quotes stay outside).
 * 2. E-mail address: `local@domain.tld`.
 * 3. Number: ASCII digits, with `.`, `,` or `:` between digit groups (`3.14`, `1,000`, `10:30`).
 * 4. Foreign word: a run of letters (and combining marks) containing any letter outside `A-Za-z`
 *    (`José`, `Martínez`, `Zürich`, `東京`).
 * 5. Symbols: a run of characters that are not whitespace, not ASCII letters or digits and not plain
 *    punctuation `. , ; : ! ? ' " ( ) $ % & -` (`/`, `@`, `#`, `++`, `¿`, `¡`, `€`, emoji, and any
 *    private-use character already in the input).
 *
 * Each distinct matched text gets the next slot (the same URL twice shares one slot); slot `i` is the
 * character `first + i`. When the slots run out, the remaining matches stay as plain text (numbers then
 * go through the subword vocabulary, unknown characters become `<unk>`).
 */

/** Placeholder scheme as declared in a model's `config.json` (`"placeholders": {"first": "U+E000", "slots": 16}`). */
export interface PlaceholderScheme {
  /** Code point of slot 0 (a private-use character). */
  first: number;
  /** Number of slots. */
  slots: number;
}

export const DEFAULT_PLACEHOLDER_SCHEME: PlaceholderScheme = { first: 0xe000, slots: 16 };

/** Plain punctuation that the model translates (everything else that is not a letter or digit is masked). */
export const PLAIN_PUNCTUATION = '.,;:!?\'"()$%&-';

export interface MaskedText {
  /** Text with placeholders. */
  text: string;
  /** Original text of each slot, by slot index. */
  originals: string[];
}

const URL = String.raw`(?:https?:\/\/|ftp:\/\/|www\.)[^\s<>"]*[^\s<>".,;:!?)\]}'*]`;
const EMAIL = String.raw`[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+`;
const NUMBER = String.raw`[0-9]+(?:[.,:][0-9]+)*`;
const WORD = String.raw`[\p{L}\p{M}]+`;
const SYMBOLS = String.raw`[^\sA-Za-z0-9\p{L}\p{M}.,;:!?'"()$%&\-]+`;
const ENTITY_RE = new RegExp(`(${URL})|(${EMAIL})|(${NUMBER})|(${WORD})|(${SYMBOLS})`, 'gu');
const ASCII_WORD_RE = /^[A-Za-z]+$/;

/** Parses the `placeholders` field of a translation model's config.json; undefined when absent or false. */
export function parsePlaceholderScheme(raw: unknown, where = 'config.json'): PlaceholderScheme | undefined {
  if (raw === undefined || raw === null || raw === false) return undefined;
  if (raw === true) return DEFAULT_PLACEHOLDER_SCHEME;
  if (typeof raw !== 'object') throw new Error(`${where}: placeholders must be an object or true`);
  const r = raw as { first?: unknown; slots?: unknown };
  let first = DEFAULT_PLACEHOLDER_SCHEME.first;
  if (r.first !== undefined) {
    const m = typeof r.first === 'string' ? /^U\+([0-9A-Fa-f]{4,6})$/.exec(r.first) : null;
    if (!m) throw new Error(`${where}: placeholders.first must be a code point like "U+E000"`);
    first = parseInt(m[1]!, 16);
  }
  const slots = r.slots === undefined ? DEFAULT_PLACEHOLDER_SCHEME.slots : r.slots;
  if (typeof slots !== 'number' || !Number.isInteger(slots) || slots < 1 || slots > 256)
    throw new Error(`${where}: placeholders.slots must be an integer from 1 to 256`);
  const inPrivateUse = (c: number): boolean =>
    (c >= 0xe000 && c <= 0xf8ff) || (c >= 0xf0000 && c <= 0x10fffd);
  if (!inPrivateUse(first) || !inPrivateUse(first + slots - 1))
    throw new Error(`${where}: placeholders must lie in a Unicode private-use area`);
  return { first, slots };
}

/** The character of slot `i`. */
export function placeholderChar(i: number, scheme: PlaceholderScheme = DEFAULT_PLACEHOLDER_SCHEME): string {
  return String.fromCodePoint(scheme.first + i);
}

/** Slot of a placeholder character, or -1. */
export function placeholderSlot(ch: string, scheme: PlaceholderScheme = DEFAULT_PLACEHOLDER_SCHEME): number {
  const c = ch.codePointAt(0) ?? -1;
  return c >= scheme.first && c < scheme.first + scheme.slots ? c - scheme.first : -1;
}

/** Replaces what must be copied verbatim by placeholders (see the rules above). Expects normalised text. */
export function maskPlaceholders(
  text: string,
  scheme: PlaceholderScheme = DEFAULT_PLACEHOLDER_SCHEME,
): MaskedText {
  const originals: string[] = [];
  const slotOf = new Map<string, number>();
  let out = '';
  let last = 0;
  for (const m of text.matchAll(ENTITY_RE)) {
    const value = m[0];
    const at = m.index ?? 0;
    // Plain English words stay text.
    if (m[4] !== undefined && ASCII_WORD_RE.test(value)) continue;
    let slot = slotOf.get(value);
    if (slot === undefined) {
      if (originals.length >= scheme.slots) continue;
      slot = originals.length;
      originals.push(value);
      slotOf.set(value, slot);
    }
    out += text.slice(last, at) + placeholderChar(slot, scheme);
    last = at + value.length;
  }
  out += text.slice(last);
  return { text: out, originals };
}

/** Slots whose placeholder occurs in a text (in order of first occurrence). */
export function placeholderSlots(
  text: string,
  scheme: PlaceholderScheme = DEFAULT_PLACEHOLDER_SCHEME,
): number[] {
  const seen: number[] = [];
  for (const ch of text) {
    const s = placeholderSlot(ch, scheme);
    if (s >= 0 && !seen.includes(s)) seen.push(s);
  }
  return seen;
}

/**
 * Puts the originals back. A placeholder whose slot has no original (the model invented it) is removed;
 * an expected slot (`expected`, default every original) the output lacks is appended at the end, so
 * nothing of the source is lost.
 */
export function restorePlaceholders(
  text: string,
  originals: readonly string[],
  expected: readonly number[] = originals.map((_, i) => i),
  scheme: PlaceholderScheme = DEFAULT_PLACEHOLDER_SCHEME,
): string {
  const used = new Set<number>();
  let out = '';
  for (const ch of text) {
    const s = placeholderSlot(ch, scheme);
    if (s < 0) out += ch;
    else if (s < originals.length) {
      out += originals[s];
      used.add(s);
    }
  }
  const missing = expected.filter((s) => !used.has(s) && s < originals.length).map((s) => originals[s]);
  if (missing.length > 0) out = `${out.trimEnd()} ${missing.join(' ')}`;
  return out.replace(/\s+/g, ' ').trim();
}
