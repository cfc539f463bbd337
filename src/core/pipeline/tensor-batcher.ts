/**
 * Forms tensor batches from encoded documents (pure, no I/O).
 *
 * A **tensor batch** is the set of documents that go through one `runBatch` call; the model pads
 * every document to the longest one, so its cost is `documents x padded length` tokens. Sorting by
 * length before cutting (length bucketing) keeps documents of similar length together, so little
 * of that cost is padding.
 */

/** Limits of one tensor batch. */
export interface TensorBatchLimits {
  /** Token budget: documents x padded length (the longest document's length). */
  maxTokens: number;
  /** Maximum documents. */
  maxSize: number;
}

/** Anything with a token length. */
export interface Sized {
  length: number;
}

/** Cost of a group padded to its longest member. */
export function paddedTokens(items: readonly Sized[]): number {
  let max = 0;
  for (const it of items) if (it.length > max) max = it.length;
  return items.length * Math.max(1, max);
}

/** Real (unpadded) tokens of a group. */
export function realTokens(items: readonly Sized[]): number {
  let sum = 0;
  for (const it of items) sum += Math.max(1, it.length);
  return sum;
}

/** Fraction of a group's padded tokens that are padding (0 = none). */
export function paddingRatio(items: readonly Sized[]): number {
  if (items.length === 0) return 0;
  const padded = paddedTokens(items);
  return (padded - realTokens(items)) / padded;
}

/**
 * Cuts `items` into tensor batches, in the given order: a batch closes when the next item would
 * exceed `maxSize` documents or `maxTokens` padded tokens. An item longer than the budget on its
 * own forms a batch alone. Every batch but the last is "full" (the next item did not fit).
 */
export function cutTensorBatches<T extends Sized>(items: readonly T[], limits: TensorBatchLimits): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let curMax = 0;
  for (const it of items) {
    const len = Math.max(1, it.length);
    const nextMax = Math.max(curMax, len);
    if (
      cur.length > 0 &&
      (cur.length + 1 > limits.maxSize || (cur.length + 1) * nextMax > limits.maxTokens)
    ) {
      out.push(cur);
      cur = [];
      curMax = 0;
    }
    cur.push(it);
    curMax = Math.max(curMax, len);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Sorts by length (stable), then cuts: length-bucketed tensor batches. */
export function bucketTensorBatches<T extends Sized>(items: readonly T[], limits: TensorBatchLimits): T[][] {
  const sorted = [...items].sort((a, b) => a.length - b.length);
  return cutTensorBatches(sorted, limits);
}

/** Padding ratio over several batches (padded tokens that are padding / all padded tokens). */
export function overallPaddingRatio(batches: readonly (readonly Sized[])[]): number {
  let padded = 0;
  let real = 0;
  for (const b of batches) {
    padded += paddedTokens(b);
    real += realTokens(b);
  }
  return padded === 0 ? 0 : (padded - real) / padded;
}
