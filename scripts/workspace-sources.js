'use strict';
/**
 * The workspace packages' TypeScript sources for code run without a build (scripts/run-ts.js, the
 * CLI tests' subprocesses): `require('@docbatch/sdk')` and `require('@docbatch/cli')` resolve to
 * packages/<name>/src/index.ts instead of the compiled packages/<name>/dist that node_modules
 * links to. jest.config.js maps them the same way (moduleNameMapper) and tsconfig.json (paths).
 */
const Module = require('node:module');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const SOURCES = {
  '@docbatch/sdk': path.join(ROOT, 'packages', 'sdk', 'src', 'index.ts'),
  '@docbatch/cli': path.join(ROOT, 'packages', 'cli', 'src', 'index.ts'),
};

/** Makes require() resolve the workspace packages to their sources (a `.ts` hook must be installed). */
function register() {
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function resolveWorkspaceSource(request, ...rest) {
    return Object.prototype.hasOwnProperty.call(SOURCES, request)
      ? SOURCES[request]
      : resolve.call(this, request, ...rest);
  };
}

module.exports = { SOURCES, register };
