import { IdHashSet } from '../../src/core/batches/id-hash-set';

describe('IdHashSet', () => {
  it('answers like a Set<string> across growth, for short, long and unicode ids', () => {
    const set = new IdHashSet(4);
    const ref = new Set<string>();
    const ids: string[] = [];
    for (let i = 0; i < 50_000; i++)
      ids.push(i % 3 === 0 ? `doc-${i}` : i % 3 === 1 ? `${'x'.repeat(100)}${i}` : `ünï-${i}-✓`);
    for (const id of ids) {
      expect(set.add(id)).toBe(!ref.has(id));
      ref.add(id);
    }
    expect(set.size).toBe(ref.size);
    for (const id of ids) expect(set.has(id)).toBe(true);
    expect(set.add(ids[123]!)).toBe(false);
    expect(set.has('doc-1')).toBe(false);
    expect(set.has('')).toBe(false);
    expect(set.add('')).toBe(true);
    expect(set.has('')).toBe(true);
    expect(set.size).toBe(ref.size + 1);
  });
});
