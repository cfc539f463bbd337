#!/usr/bin/env node
// Runs `prisma generate` at install time, offline. Prisma's CLI wants its schema-engine binary to
// exist even though `generate` never calls it, and the binary cannot be downloaded here, so we
// point PRISMA_SCHEMA_ENGINE_BINARY at an existing file when no engine is installed.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' };
const engine = env.PRISMA_SCHEMA_ENGINE_BINARY;
if (!engine || !fs.existsSync(engine)) env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath;

const cli = require.resolve('prisma/build/index.js', { paths: [root] });
const res = spawnSync(process.execPath, [cli, 'generate'], { cwd: root, env, stdio: 'inherit' });
if (res.status !== 0) {
  console.error('docbatch: `prisma generate` failed (see above).');
  process.exit(res.status ?? 1);
}
