import { incompatible } from '../model-errors';

/**
 * Output heads: what turns a network's raw output row into one score per label (`config.json`
 * `output`), the part Hugging Face calls the pipeline's post-processing.
 *
 * - `probabilities` (default): the row already holds one probability per label (softmax layer).
 * - `logits`: one logit per label; softmax is applied.
 * - `sigmoid`: one unit `p` (a Dense(1, sigmoid) head) and exactly two labels: scores `[1 - p, p]`.
 * - `multi_label`: one independent sigmoid probability per label (a Dense(n, sigmoid) head); each
 *   label's own probability is its score, the highest is the label.
 */
export const OUTPUT_KINDS = ['probabilities', 'logits', 'sigmoid', 'multi_label'] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

export interface OutputHead {
  readonly kind: OutputKind;
  /** Units the network's output must have for `labels` labels. */
  unitsFor(labels: number): number;
  /**
   * Scores of `rows` documents, `labels` each, from the raw output (`rows x units`, row-major).
   * Writes into a new array; the input is not changed.
   */
  scores(raw: Float32Array, rows: number, labels: number): Float32Array;
  /** True when labels are independent (every label's score is its own probability). */
  readonly multiLabel: boolean;
}

function softmaxRows(raw: Float32Array, rows: number, n: number): Float32Array {
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, raw[r * n + i]!);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.exp(raw[r * n + i]! - max);
      out[r * n + i] = e;
      sum += e;
    }
    for (let i = 0; i < n; i++) out[r * n + i] = out[r * n + i]! / sum;
  }
  return out;
}

const HEADS: Record<OutputKind, OutputHead> = {
  probabilities: {
    kind: 'probabilities',
    multiLabel: false,
    unitsFor: (labels) => labels,
    scores: (raw) => Float32Array.from(raw),
  },
  logits: {
    kind: 'logits',
    multiLabel: false,
    unitsFor: (labels) => labels,
    scores: softmaxRows,
  },
  sigmoid: {
    kind: 'sigmoid',
    multiLabel: false,
    unitsFor: () => 1,
    scores: (raw, rows) => {
      const out = new Float32Array(rows * 2);
      for (let r = 0; r < rows; r++) {
        const p = raw[r]!;
        out[2 * r] = 1 - p;
        out[2 * r + 1] = p;
      }
      return out;
    },
  },
  multi_label: {
    kind: 'multi_label',
    multiLabel: true,
    unitsFor: (labels) => labels,
    scores: (raw) => Float32Array.from(raw),
  },
};

/**
 * The head for `config.json` `output` (default `probabilities`), checked against the labels:
 * `sigmoid` needs exactly two labels.
 */
export function createHead(output: unknown, labels: readonly string[]): OutputHead {
  const kind = output === undefined ? 'probabilities' : output;
  if (typeof kind !== 'string' || !(OUTPUT_KINDS as readonly string[]).includes(kind)) {
    throw incompatible(
      'config.json',
      'output',
      `must be one of ${OUTPUT_KINDS.join(', ')}, not ${JSON.stringify(output)}`,
    );
  }
  if (kind === 'sigmoid' && labels.length !== 2) {
    throw incompatible(
      'config.json',
      'labels',
      `output "sigmoid" (one unit) needs exactly 2 labels [negative, positive], not ${labels.length}`,
    );
  }
  return HEADS[kind as OutputKind];
}
