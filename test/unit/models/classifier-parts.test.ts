import { createHead, OUTPUT_KINDS } from '../../../src/core/models/classification/heads';
import { shapeIds, type InputShape } from '../../../src/core/models/classification/input-shaping';
import { ModelError } from '../../../src/core/models/model-errors';

/**
 * Input shaping follows Keras's `pad_sequences` (the cases below are what
 * `pad_sequences([[1, 2, 3, 4, 5]], maxlen=3, padding=..., truncating=...)` and
 * `pad_sequences([[1, 2]], maxlen=4, ...)` return in Keras 3.15), and the heads turn raw output
 * rows into one score per label.
 */
const ids = (...v: number[]): Int32Array => Int32Array.from(v);
const shape = (over: Partial<InputShape>): InputShape => ({
  padding: 'pre',
  truncating: 'pre',
  padId: 0,
  maxLength: 512,
  ...over,
});

describe('input shaping (pad_sequences)', () => {
  it.each([
    ['pre', 'pre', [1, 2, 3, 4, 5], [3, 4, 5]],
    ['pre', 'post', [1, 2, 3, 4, 5], [1, 2, 3]],
    ['post', 'pre', [1, 2, 3, 4, 5], [3, 4, 5]],
    ['post', 'post', [1, 2, 3, 4, 5], [1, 2, 3]],
  ] as const)('padding %s truncating %s cuts to the length', (padding, truncating, input, expected) => {
    const out = shapeIds(ids(...input), shape({ length: 3, padding, truncating }));
    expect(Array.from(out.ids)).toEqual(expected);
    expect([out.start, out.end]).toEqual([0, 3]);
  });

  it.each([
    ['pre', [0, 0, 1, 2], [2, 4]],
    ['post', [1, 2, 0, 0], [0, 2]],
  ] as const)('padding %s pads short documents', (padding, expected, span) => {
    const out = shapeIds(ids(1, 2), shape({ length: 4, padding }));
    expect(Array.from(out.ids)).toEqual(expected);
    expect([out.start, out.end]).toEqual(span);
  });

  it('pads with the tokenizer pad id, and an empty document becomes all padding', () => {
    expect(Array.from(shapeIds(ids(7), shape({ length: 3, padding: 'post', padId: 9 })).ids)).toEqual([
      7, 9, 9,
    ]);
    const empty = shapeIds(ids(), shape({ length: 3 }));
    expect(Array.from(empty.ids)).toEqual([0, 0, 0]);
    expect(empty.end - empty.start).toBe(0);
  });

  it('a free length keeps the ids and cuts at max_length per truncating', () => {
    expect(Array.from(shapeIds(ids(1, 2, 3), shape({ maxLength: 5 })).ids)).toEqual([1, 2, 3]);
    expect(Array.from(shapeIds(ids(1, 2, 3), shape({ maxLength: 2, truncating: 'post' })).ids)).toEqual([
      1, 2,
    ]);
    expect(Array.from(shapeIds(ids(1, 2, 3), shape({ maxLength: 2, truncating: 'pre' })).ids)).toEqual([
      2, 3,
    ]);
  });
});

describe('output heads', () => {
  const rows = (head: ReturnType<typeof createHead>, raw: number[], n: number, labels: number): number[] =>
    Array.from(head.scores(Float32Array.from(raw), n, labels));

  it('probabilities are read as they are', () => {
    expect(rows(createHead(undefined, ['a', 'b']), [0.25, 0.75], 1, 2)).toEqual([0.25, 0.75]);
  });

  it('logits get a softmax per row (stable for large values)', () => {
    const out = rows(createHead('logits', ['a', 'b', 'c']), [1, 2, 3, 1000, 1000, 0], 2, 3);
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const sum = e[0]! + e[1]! + e[2]!;
    e.forEach((v, i) => expect(out[i]).toBeCloseTo(v / sum, 6));
    expect(out.slice(3)).toEqual([0.5, 0.5, 0]);
  });

  it('sigmoid turns one unit p into [1 - p, p] in label order', () => {
    const head = createHead('sigmoid', ['negative', 'positive']);
    expect(head.unitsFor(2)).toBe(1);
    const out = rows(head, [0.9, 0.2], 2, 2);
    [0.1, 0.9, 0.8, 0.2].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
  });

  it('multi_label keeps each label its own probability', () => {
    const head = createHead('multi_label', ['x', 'y', 'z']);
    expect(head.multiLabel).toBe(true);
    expect(rows(head, [0.5, 0.75, 0.25], 1, 3)).toEqual([0.5, 0.75, 0.25]);
  });

  it('refuses an unknown output and sigmoid with other than two labels, naming the field', () => {
    expect(() => createHead('softmax', ['a', 'b'])).toThrow(ModelError);
    expect(() => createHead('softmax', ['a', 'b'])).toThrow(/config\.json output/);
    expect(() => createHead('sigmoid', ['a', 'b', 'c'])).toThrow(/config\.json labels: .*exactly 2 labels/);
    expect(OUTPUT_KINDS).toEqual(['probabilities', 'logits', 'sigmoid', 'multi_label']);
  });
});
