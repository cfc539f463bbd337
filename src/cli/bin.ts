import { runCli } from './main';

/** Process entry of the server's `docbatch` bin (bin/docbatch.js loads the compiled copy of this file). */
void runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    // Flush stdout, then exit without waiting for idle keep-alive sockets.
    process.stdout.write('', () => process.exit(code));
  },
);
