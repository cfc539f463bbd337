import type { Hyperparameters, Recipe } from './hyperparameters';
import type { TrainingMetrics } from './train-text-classifier';

export interface ModelCardInput {
  name: string;
  recipe: Recipe;
  hyperparameters: Hyperparameters;
  metrics: TrainingMetrics;
  /** All examples received. */
  examples: number;
  heldOut: readonly { label: string }[];
  /** The model's label for each held-out example. */
  heldOutPredictions: readonly string[];
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

const RECIPE_TEXT: Record<Recipe, string> = {
  'embedding-pooling':
    'word embedding (Keras tokenizer ids; GloVe start plus one naive Bayes channel per label) -> masked mean and max over the words, beside a word-pair convolution (kernel 2, ReLU) with its own masked mean and max -> dropout -> dense ReLU layer -> dropout -> softmax; weights averaged over the second half of the epochs',
};

/** The generated `card.md` of a trained model: data, split, recipe, held-out metrics, where it fails. */
export function buildModelCard(c: ModelCardInput): string {
  const { metrics: m, hyperparameters: hp } = c;
  const lines: string[] = [];
  lines.push(`# ${c.name}`, '');
  lines.push(
    `Text classifier trained by docbatch (recipe \`${c.recipe}\`): ${RECIPE_TEXT[c.recipe]}.`,
    `Labels: ${m.labels.map((l) => `\`${l}\``).join(', ')}.`,
    '',
  );
  lines.push('## Data and split', '');
  lines.push(
    `- ${c.examples} labelled examples: ${m.train_size} for training, ${m.validation_size} held out (${pct(hp.validation_split)} of each label, stratified; identical texts kept on one side; seed ${hp.seed}).`,
  );
  lines.push(
    `- Vocabulary: ${m.vocabulary_size - 1} ids (the training words${hp.embeddings === 'glove-100d' ? ` and the ${hp.pretrained_words} most frequent GloVe words` : ''}); ${hp.embeddings === 'glove-100d' ? `embedding started from GloVe 6B 100-d (${m.words_without_vector} training words had no vector and started at random)` : 'embedding started at random'}.`,
  );
  lines.push(`- Documents are read up to their first ${hp.max_length} words.`, '');
  lines.push('## Training', '');
  lines.push('| hyperparameter | value |', '|---|---|');
  for (const [k, v] of Object.entries(hp)) lines.push(`| ${k} | ${String(v)} |`);
  lines.push(
    '',
    `${m.epochs_run} epochs in ${m.training_seconds.toFixed(1)} s (${m.seconds_per_epoch.toFixed(2)} s per epoch). The same examples (same order), recipe and hyperparameters give byte-identical files.`,
    '',
  );
  lines.push('## Held-out metrics', '');
  lines.push(
    `Accuracy **${pct(m.val_accuracy)}** on ${m.validation_size} held-out examples (cross-entropy ${m.val_loss.toFixed(4)}); a multinomial naive Bayes baseline trained on the same training part scores ${pct(m.naive_bayes_val_accuracy)} on the same held-out part.`,
    '',
  );
  lines.push('| label | precision | recall | F1 | held-out examples |', '|---|---|---|---|---|');
  for (const label of m.labels) {
    const s = m.per_label[label]!;
    lines.push(`| ${label} | ${pct(s.precision)} | ${pct(s.recall)} | ${pct(s.f1)} | ${s.support} |`);
  }
  lines.push('');
  if (m.labels.length <= 12) {
    lines.push('Confusion on the held-out part (rows: true label, columns: predicted):', '');
    lines.push(`| | ${m.labels.join(' | ')} |`, `|---|${m.labels.map(() => '---|').join('')}`);
    for (const truth of m.labels) {
      const row = m.labels.map(
        (p) => c.heldOut.filter((e, i) => e.label === truth && c.heldOutPredictions[i] === p).length,
      );
      lines.push(`| ${truth} | ${row.join(' | ')} |`);
    }
    lines.push('');
  }
  lines.push('## Where it fails', '');
  const worst = [...m.labels].sort((a, b) => m.per_label[a]!.f1 - m.per_label[b]!.f1 || (a < b ? -1 : 1))[0]!;
  const ws = m.per_label[worst]!;
  if (m.val_accuracy <= m.naive_bayes_val_accuracy)
    lines.push(
      `- **The naive Bayes baseline does as well or better on this data** (${pct(m.naive_bayes_val_accuracy)} vs ${pct(m.val_accuracy)}): more examples or more epochs may help; compare before relying on this model.`,
    );
  lines.push(
    `- Weakest label on the held-out part: \`${worst}\` (precision ${pct(ws.precision)}, recall ${pct(ws.recall)}, ${ws.support} examples).`,
    `- The held-out part is ${m.validation_size} examples drawn from the same data: the figures above say how the model does on more of the same, not on other domains, styles or languages. Words the training data lacks${hp.embeddings === 'glove-100d' ? ' and the GloVe table lacks' : ''} are read as one unknown word.`,
    '- The network reads words and pairs of adjacent words, not longer-range order: negation at a distance ("not at all what I would call good"), contrast ("nice, but it broke after a week") and sarcasm are often misread.',
    `- Documents longer than ${hp.max_length} words are scored on their first ${hp.max_length}.`,
    '- Labels with few examples get unreliable figures and predictions; check the per-label table before relying on one.',
    '',
  );
  return lines.join('\n');
}
