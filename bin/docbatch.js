#!/usr/bin/env node
/**
 * The `docbatch` command (see docs/cli.md). Runs the compiled CLI in dist/; `npm run cli -- ...`
 * builds first. From a source checkout without dist/, run `npm run build` once.
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const entry = path.join(__dirname, '..', 'dist', 'cli', 'bin.js');
if (!fs.existsSync(entry)) {
  process.stderr.write(
    'docbatch: the CLI is not built (dist/cli/bin.js is missing): run `npm run build` first, ' +
      'or use `npm run cli -- <command>` which builds it\n',
  );
  process.exit(1);
}
require(entry);
