#!/usr/bin/env node
import { runCli } from './main';

/** Process entry of the packaged `docbatch` bin (package.json `bin`: dist/bin.js). */
void runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    // Flush stdout, then exit without waiting for idle keep-alive sockets.
    process.stdout.write('', () => process.exit(code));
  },
);
