#!/usr/bin/env node
/**
 * Runs a TypeScript file without a build step: `node scripts/run-ts.js path/to/file.ts [args...]`.
 *
 * Installs a require hook that compiles `.ts` files on the fly with @swc/core's `transformSync`
 * (CommonJS output, no type checking; run `npm run typecheck` for that). Used for the model
 * training and evaluation scripts under scripts/models/ and the benchmarks. The workspace packages
 * (@docbatch/sdk, @docbatch/cli) load from their sources too (scripts/workspace-sources.js).
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { transformSync } = require('@swc/core');

function compile(source, filename) {
  return transformSync(source, {
    filename,
    sourceMaps: 'inline',
    module: { type: 'commonjs' },
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
  }).code;
}

Module._extensions['.ts'] = function loadTs(module, filename) {
  module._compile(compile(fs.readFileSync(filename, 'utf8'), filename), filename);
};
// @docbatch/sdk and @docbatch/cli from their sources, like the rest (no build step).
require('./workspace-sources').register();

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-ts.js <file.ts> [args...]');
  process.exit(2);
}
const entryPath = path.resolve(entry);
process.argv = [process.argv[0], entryPath, ...args];
require(entryPath);
