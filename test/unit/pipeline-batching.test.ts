import { DynamicBatcher } from '../../src/core/pipeline/dynamic-batcher';
import { alignToChunks, subtractRanges } from '../../src/core/pipeline/reconciler';
import {
  bucketTensorBatches,
  cutTensorBatches,
  overallPaddingRatio,
  paddedTokens,
  paddingRatio,
} from '../../src/core/pipeline/tensor-batcher';
import { ThroughputMeter } from '../../src/core/workers/throughput-meter';

const L = (...lengths: number[]): { length: number }[] => lengths.map((length) => ({ length }));

describe('tensor batches', () => {
  it('cuts by token budget (documents x padded length) and by size', () => {
    const batches = cutTensorBatches(L(10, 10, 10, 10, 10), { maxTokens: 30, maxSize: 10 });
    expect(batches.map((b) => b.length)).toEqual([3, 2]);
    const bySize = cutTensorBatches(L(1, 1, 1, 1, 1), { maxTokens: 1000, maxSize: 2 });
    expect(bySize.map((b) => b.length)).toEqual([2, 2, 1]);
    // The padded length is the longest member: a long document closes the batch early.
    expect(cutTensorBatches(L(5, 5, 20), { maxTokens: 40, maxSize: 10 }).map((b) => b.length)).toEqual([
      2, 1,
    ]);
  });

  it('puts a document longer than the budget in a batch of its own', () => {
    expect(cutTensorBatches(L(3, 500, 3), { maxTokens: 100, maxSize: 10 }).map((b) => b.length)).toEqual([
      1, 1, 1,
    ]);
  });

  it('never exceeds the limits, keeps every item once', () => {
    let seed = 7;
    const rand = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const items = Array.from({ length: 2000 }, () => ({ length: 1 + Math.floor(rand() * rand() * 300) }));
    const limits = { maxTokens: 4096, maxSize: 64 };
    const batches = bucketTensorBatches(items, limits);
    expect(batches.flat().length).toBe(items.length);
    expect(new Set(batches.flat()).size).toBe(items.length);
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(64);
      if (b.length > 1) expect(paddedTokens(b)).toBeLessThanOrEqual(4096);
    }
  });

  it('length bucketing cuts padding far below arrival order', () => {
    let seed = 11;
    const rand = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const items = Array.from({ length: 4096 }, () => ({ length: 4 + Math.floor(rand() * rand() * 250) }));
    const limits = { maxTokens: 16384, maxSize: 256 };
    const unsorted = overallPaddingRatio(cutTensorBatches(items, limits));
    const bucketed = overallPaddingRatio(bucketTensorBatches(items, limits));
    expect(unsorted).toBeGreaterThan(0.4);
    expect(bucketed).toBeLessThan(0.15); // the target: under 15% padded tokens
  });

  it('computes the padding ratio of one batch', () => {
    expect(paddingRatio(L(4, 4))).toBe(0);
    expect(paddingRatio(L(2, 4))).toBe(0.25);
    expect(paddingRatio([])).toBe(0);
  });
});

describe('DynamicBatcher', () => {
  type It = { length: number; id: number; enqueuedAt?: number };
  const make = (n: number, length = 10, from = 0): It[] =>
    Array.from({ length: n }, (_, i) => ({ id: from + i, length }));

  it('dispatches full batches at once and a partial one after the queue delay', async () => {
    const sent: { at: number; ids: number[] }[] = [];
    const b = new DynamicBatcher<It>(
      { maxTokens: 1000, maxSize: 4, maxQueueDelayMs: 80 },
      async (_g, items) => {
        sent.push({ at: Date.now(), ids: items.map((i) => i.id) });
      },
    );
    const t0 = Date.now();
    b.add('m', make(10));
    await b.idle();
    expect(sent.map((s) => s.ids.length)).toEqual([4, 4, 2]);
    expect(sent[0]!.at - t0).toBeLessThan(40);
    expect(sent[2]!.at - t0).toBeGreaterThanOrEqual(75);
    b.stop();
  });

  it('batches documents of several jobs of the same group together, and keeps groups apart', async () => {
    const sent: [string, number[]][] = [];
    const b = new DynamicBatcher<It>(
      { maxTokens: 1000, maxSize: 8, maxQueueDelayMs: 30 },
      async (g, items) => {
        sent.push([g, items.map((i) => i.id)]);
      },
    );
    b.add('a', make(3, 10, 0));
    b.add('a', make(3, 10, 100));
    b.add('b', make(2, 10, 200));
    await b.idle();
    const a = sent.filter(([g]) => g === 'a');
    expect(a).toHaveLength(1);
    expect(a[0]![1].sort((x, y) => x - y)).toEqual([0, 1, 2, 100, 101, 102]);
    expect(sent.filter(([g]) => g === 'b')).toEqual([['b', [200, 201]]]);
    b.stop();
  });

  it('keeps at most maxInflight batches dispatched', async () => {
    let inflight = 0;
    let peak = 0;
    const b = new DynamicBatcher<It>(
      { maxTokens: 1000, maxSize: 2, maxQueueDelayMs: 0, maxInflight: 2 },
      async () => {
        inflight++;
        peak = Math.max(peak, inflight);
        await new Promise((r) => setTimeout(r, 5));
        inflight--;
      },
    );
    b.add('m', make(20));
    await b.idle();
    expect(peak).toBe(2);
    b.stop();
  });

  it('removes waiting items (cancelled batch) and flushes partial batches at once when stopping', async () => {
    const sent: number[][] = [];
    const b = new DynamicBatcher<It>(
      { maxTokens: 1000, maxSize: 100, maxQueueDelayMs: 60_000 },
      async (_g, items) => {
        sent.push(items.map((i) => i.id));
      },
    );
    b.add('m', make(5));
    const removed = b.remove((it) => it.id < 2);
    expect(removed.map((i) => i.id)).toEqual([0, 1]);
    expect(b.pending).toBe(3);
    b.flush();
    await b.idle();
    expect(sent).toEqual([[2, 3, 4]]);
    b.stop();
  });
});

describe('reconciler ranges', () => {
  it('subtracts covered ranges from unfinished runs', () => {
    expect(subtractRanges([{ from: 1, to: 100 }], [{ from: 1, to: 50 }])).toEqual([{ from: 51, to: 100 }]);
    expect(
      subtractRanges(
        [
          { from: 1, to: 100 },
          { from: 200, to: 300 },
        ],
        [
          { from: 20, to: 30 },
          { from: 90, to: 210 },
        ],
      ),
    ).toEqual([
      { from: 1, to: 19 },
      { from: 31, to: 89 },
      { from: 211, to: 300 },
    ]);
    expect(subtractRanges([{ from: 5, to: 9 }], [{ from: 1, to: 20 }])).toEqual([]);
  });

  it('aligns uncovered ranges to chunks, one job per chunk', () => {
    expect(
      alignToChunks(
        [
          { from: 3, to: 5 },
          { from: 8, to: 23 },
        ],
        10,
      ),
    ).toEqual([
      { chunk: 0, from: 3, to: 10 },
      { chunk: 1, from: 11, to: 20 },
      { chunk: 2, from: 21, to: 23 },
    ]);
  });
});

describe('ThroughputMeter', () => {
  it('reports documents per second per 10 s bucket and over the last minute', () => {
    let now = 1_000_000;
    const m = new ThroughputMeter(10_000, 30, () => now);
    m.add(100);
    now += 10_000;
    m.add(50);
    const series = m.series();
    expect(series).toHaveLength(30);
    expect(series.slice(-2)).toEqual([10, 5]);
    now += 5 * 60_000;
    expect(m.series().every((v) => v === 0)).toBe(true);
  });
});
