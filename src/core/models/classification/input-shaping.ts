/**
 * Input shaping: turning a tokenizer's ids into what the network takes, as data (`config.json`
 * `input`), the way Keras's `pad_sequences(maxlen=length, padding=..., truncating=...)` does.
 *
 * - `length` set: every document becomes exactly `length` ids: longer ones lose ids at the start
 *   (`truncating: "pre"`, Keras's default) or at the end (`"post"`); shorter ones get `padId` before
 *   (`padding: "pre"`, Keras's default) or after (`"post"`).
 * - `length` unset (a network with a free input length): ids are kept as they are, up to
 *   `maxLength` (cut per `truncating`); tensor batches pad them after the ids (right) with `padId`.
 */
export type Side = 'pre' | 'post';

export interface InputShape {
  /** Fixed input length, or undefined for a free length. */
  length?: number;
  /** Where padding goes when `length` is set (default `pre`, like Keras). */
  padding: Side;
  /** Which end is cut when there are too many ids (default `pre`, like Keras). */
  truncating: Side;
  /** Id of the padding token (0 for Keras and docbatch tokenizers). */
  padId: number;
  /** Ids per document at most when `length` is unset. */
  maxLength: number;
}

/** Cuts `ids` to `max` per `truncating` (a view, no copy). */
export function truncateIds(ids: Int32Array, max: number, truncating: Side): Int32Array {
  if (ids.length <= max) return ids;
  return truncating === 'pre' ? ids.subarray(ids.length - max) : ids.subarray(0, max);
}

/**
 * Shapes one document's ids. Returns the ids to feed and, where `length` is fixed, the positions
 * that are real tokens (`[start, end)`), for an attention mask.
 */
export function shapeIds(
  ids: Int32Array,
  shape: InputShape,
): { ids: Int32Array; start: number; end: number } {
  if (shape.length === undefined) {
    const cut = truncateIds(ids, shape.maxLength, shape.truncating);
    return { ids: cut, start: 0, end: cut.length };
  }
  const len = shape.length;
  const cut = truncateIds(ids, len, shape.truncating);
  if (cut.length === len) return { ids: cut, start: 0, end: len };
  const out = new Int32Array(len);
  if (shape.padId !== 0) out.fill(shape.padId);
  const start = shape.padding === 'pre' ? len - cut.length : 0;
  out.set(cut, start);
  return { ids: out, start, end: start + cut.length };
}
