/**
 * Runs every model evaluation, one process each (so backends and memory start clean), and prints
 * their figures and run times.
 *
 *   node scripts/run-ts.js scripts/models/eval-all.ts [--backend auto|wasm|cpu]
 *
 * The Austen-chapter summarizer eval runs only when Debian's r-cran-janeaustenr is installed. The
 * translation evals run only when the bundled translators' weights exist: v1 on the first 400 of its own
 * 1,000 test pairs, then v1 and v2 side by side on issue 14's four held-out sets (3,219 sentences each,
 * ~5 minutes per version on 2 cores with wasm; scripts/models/translation/eval-translator.ts runs one).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const backendIndex = process.argv.indexOf('--backend');
const backend = backendIndex > 0 ? (process.argv[backendIndex + 1] ?? 'auto') : 'auto';

const evals: { name: string; script: string; args: string[]; when?: string }[] = [
  // Every served spam-classifier version side by side: SpamAssassin test split and held-out non-email FP rate.
  { name: 'spam-classifier (v1 and v2)', script: 'scripts/models/eval-spam-classifier.ts', args: [] },
  {
    name: 'sentiment-classifier',
    script: 'scripts/models/eval-sentiment-classifier.ts',
    args: [],
    when: 'models/sentiment-classifier/1/model.h5',
  },
  { name: 'extractive-summarizer', script: 'scripts/models/eval-extractive-summarizer.ts', args: [] },
  {
    name: 'extractive-summarizer (Austen chapters)',
    script: 'scripts/models/eval-summarizer-novels.ts',
    args: [],
    when: '/usr/lib/R/site-library/janeaustenr',
  },
  {
    name: 'en-es-translator@1 (its own in-domain test, first 400)',
    script: 'scripts/models/translation/eval-translator.ts',
    args: ['--model-dir', 'models/en-es-translator/1', '--limit', '400', '--samples', '3'],
    when: 'models/en-es-translator/1/model.json',
  },
  // Issue 14's translator figures: v1 and v2 on the same held-out sets, one after the other on the same backend.
  ...[
    ['general held-out, 1,500, Apertium references', 'general-heldout'],
    ['Moby Dick, 600, Apertium references', 'moby-dick'],
    ['everyday sentences, 119, human references', 'everyday-human'],
    ['in-domain test, 1,000, Apertium references', 'test-indomain'],
  ].flatMap(([label, set]) =>
    [1, 2].map((v) => ({
      name: `en-es-translator@${v} (${label!})`,
      script: 'scripts/models/translation/eval-translator.ts',
      args: [
        '--model-dir',
        `models/en-es-translator/${v}`,
        '--test',
        `scripts/models/translation/data/v2/${set!}.tsv`,
        '--samples',
        '0',
      ],
      when: 'models/en-es-translator/2/model.json',
    })),
  ),
];

let failed = 0;
const timings: string[] = [];
for (const e of evals) {
  if (!existsSync(path.join(root, e.script)) || (e.when && !existsSync(path.resolve(root, e.when)))) {
    timings.push(`${e.name}: skipped (${e.when ?? e.script} missing)`);
    continue;
  }
  console.log(`\n=== ${e.name} (${e.script}) ===`);
  const started = Date.now();
  const run = spawnSync(
    process.execPath,
    [path.join(root, 'scripts/run-ts.js'), path.join(root, e.script), '--backend', backend, ...e.args],
    { cwd: root, stdio: 'inherit' },
  );
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (run.status !== 0) failed++;
  timings.push(`${e.name}: ${run.status === 0 ? 'ok' : `FAILED (exit ${run.status})`} in ${seconds} s`);
}
console.log(`\n=== summary ===\n${timings.join('\n')}`);
process.exit(failed > 0 ? 1 : 0);
