import type { ListPage } from './types';

/**
 * Cursor pagination over a list endpoint. Iterating it yields pages (`for await (const page of
 * paginator)`); `items()` yields their elements across pages. Pages are fetched lazily, one at a
 * time, following `next_cursor` while `has_more` is true.
 */
export class Paginator<T> implements AsyncIterable<ListPage<T>> {
  constructor(private readonly fetchPage: (after: string | undefined) => Promise<ListPage<T>>) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<ListPage<T>, void, undefined> {
    let after: string | undefined;
    for (;;) {
      const page = await this.fetchPage(after);
      yield page;
      if (!page.has_more || !page.next_cursor || page.next_cursor === after) return;
      after = page.next_cursor;
    }
  }

  /** Every element of every page. */
  async *items(): AsyncGenerator<T, void, undefined> {
    for await (const page of this) yield* page.data;
  }

  /** Collects up to `max` elements (default: all). */
  async toArray(max = Infinity): Promise<T[]> {
    const out: T[] = [];
    if (max <= 0) return out;
    for await (const item of this.items()) {
      out.push(item);
      if (out.length >= max) break;
    }
    return out;
  }
}
