import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The version of @docbatch/sdk, read once from its package.json (one level above src/ and dist/),
 * so the `user-agent` header (`docbatch-sdk/<version> node/<version>`) follows the published version.
 */
export const SDK_VERSION: string = (() => {
  const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as {
    name?: unknown;
    version?: unknown;
  };
  if (pkg.name !== '@docbatch/sdk' || typeof pkg.version !== 'string') {
    throw new Error(`@docbatch/sdk: ${path.join(__dirname, '..', 'package.json')} is not its package.json`);
  }
  return pkg.version;
})();
