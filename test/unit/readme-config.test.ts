import { readFileSync } from 'node:fs';
import path from 'node:path';
import { configSchemas } from '../../src/core/config';

/** The README's configuration table must list exactly the variables the processes read. */
describe('README configuration table', () => {
  it('lists every configuration variable, and only those', () => {
    const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
    const section = readme.split('## Configuration')[1]?.split('\n## ')[0] ?? '';
    const documented = new Set([...section.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
    const read = new Set([
      ...Object.keys(configSchemas.api.shape),
      ...Object.keys(configSchemas.worker.shape),
    ]);
    expect([...read].filter((v) => !documented.has(v)).sort()).toEqual([]);
    expect([...documented].filter((v) => !read.has(v as string)).sort()).toEqual([]);
  });
});
