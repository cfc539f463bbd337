import { initTfBackend } from '../../../src/core/models/backend';
import { backendName, testBackends } from '../../support/test-backend';
import { ModelRegistry } from '../../../src/core/models/registry';
import {
  hasUnbalancedQuotes,
  quotedShare,
  selectSentences,
  sentenceQuality,
  summaryLength,
  topIndices,
} from '../../../src/core/models/summarization/extractive-summarizer';
import { DocumentInputError, type SummarizationResult, type TaskModel } from '../../../src/core/models/types';

const DOC = [
  'The city council met on Tuesday to debate the new transit budget.', // 0
  'Council members argued that the transit budget must fund more buses.', // 1
  'My neighbour adopted a small grey cat last spring.', // 2
  'The transit budget adds buses and extends night service across the city.', // 3
  'Weather was mild.', // 4
  'After a long debate, the council approved the transit budget and the new buses.', // 5
].join(' ');

describe('extractive summarizer', () => {
  const registry = new ModelRegistry();
  let model: TaskModel;

  beforeAll(async () => {
    const [backend] = testBackends(['wasm']);
    await expect(initTfBackend(backend)).resolves.toBe(backendName(backend!));
    model = await registry.load((await registry.resolve('summarization')).id);
  });
  afterAll(() => registry.disposeAll());

  async function summarize(text: string, options: object): Promise<SummarizationResult> {
    const [r] = await model.runBatch([model.encode(text, options)], options);
    return r as SummarizationResult;
  }

  it('picks central sentences, not the off-topic ones, and returns them in document order', async () => {
    const r = await summarize(DOC, { max_sentences: 3 });
    expect(r.sentence_indices).toHaveLength(3);
    expect(r.sentence_indices).not.toContain(2);
    expect(r.sentence_indices).not.toContain(4);
    expect([...r.sentence_indices].sort((a, b) => a - b)).toEqual(r.sentence_indices);
    const sentences = DOC.match(/[^.]+\./g)!.map((s) => s.trim());
    expect(r.summary).toBe(r.sentence_indices.map((i) => sentences[i]).join(' '));
  });

  it('defaults to 3 sentences and honours max_sentences and ratio (the smaller wins)', async () => {
    expect((await summarize(DOC, {})).sentence_indices).toHaveLength(3);
    expect((await summarize(DOC, { max_sentences: 1 })).sentence_indices).toHaveLength(1);
    expect((await summarize(DOC, { ratio: 0.5 })).sentence_indices).toHaveLength(3);
    expect((await summarize(DOC, { ratio: 0.2 })).sentence_indices).toHaveLength(2);
    expect((await summarize(DOC, { ratio: 1 })).sentence_indices).toEqual([0, 1, 2, 3, 4, 5]);
    expect((await summarize(DOC, { ratio: 1, max_sentences: 2 })).sentence_indices).toHaveLength(2);
    expect((await summarize('Only one sentence here.', { max_sentences: 5 })).sentence_indices).toEqual([0]);
  });

  it('rejects invalid options as a DocumentInputError', () => {
    for (const options of [{ max_sentences: 0 }, { max_sentences: 1.5 }, { ratio: 0 }, { ratio: 1.2 }]) {
      expect(() => model.encode(DOC, options)).toThrow(DocumentInputError);
    }
  });

  it('rejects symbol-only text as EMPTY_DOCUMENT', () => {
    expect(() => model.encode('— … · • ¶', {})).toThrow(expect.objectContaining({ code: 'EMPTY_DOCUMENT' }));
  });

  it('still summarises a document made only of stopwords', async () => {
    const r = await summarize('It is what it is. We were there. They are here.', { max_sentences: 2 });
    expect(r.sentence_indices).toEqual([0, 1]);
  });

  it('summaryLength and topIndices', () => {
    expect(summaryLength(10, {})).toBe(3);
    expect(summaryLength(2, {})).toBe(2);
    expect(summaryLength(100, { ratio: 0.1 })).toBe(10);
    expect(summaryLength(100, { ratio: 0.001 })).toBe(1);
    expect(topIndices(Float32Array.of(0.1, 0.5, 0.5, 0.2), 2)).toEqual([1, 2]);
    expect(topIndices(Float32Array.of(0.3, 0.1, 0.3), 1)).toEqual([0]);
  });

  it('sentenceQuality: dialogue fragments, unbalanced quotes and cuts after a title score 0', () => {
    expect(sentenceQuality('"Oh! dear, how very shocking!"')).toBe(0);
    expect(sentenceQuality('"I am sure I never thought of it at all, and she said so')).toBe(0);
    expect(sentenceQuality('He had often thought of it, as he had often been.--Mr.')).toBe(0);
    expect(sentenceQuality('Too short to stand.')).toBe(0);
    expect(sentenceQuality('The council approved the transit budget after a long debate.')).toBe(1);
    const speech = '"We shall all go to the ball on Tuesday and dance," said she.';
    expect(sentenceQuality(speech)).toBeGreaterThan(0);
    expect(sentenceQuality(speech)).toBeLessThan(0.9);
    expect(hasUnbalancedQuotes('“Yes,” he said, “it is')).toBe(true);
    expect(hasUnbalancedQuotes('“Yes,” he said.')).toBe(false);
    expect(quotedShare('"abcd" ab')).toBeCloseTo(4 / 6);
  });

  it('selectSentences skips poor candidates while others remain, and falls back to centrality', () => {
    const sentences = [
      'The council approved the transit budget after a long debate.',
      '"Oh! what a shame!"',
      '"It cannot be, I say, it cannot be that the budget',
      'The buses will run at night across the whole of the city.',
    ];
    const scores = Float32Array.of(0.2, 0.9, 0.8, 0.1);
    expect(selectSentences(scores, sentences, 2)).toEqual([0, 3]);
    expect(selectSentences(scores, sentences, 3)).toEqual([0, 1, 3]);
    expect(selectSentences(scores, sentences, 4)).toEqual([0, 1, 2, 3]);
  });
});
