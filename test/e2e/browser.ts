import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';

/** Debian's chromium (installed by scripts/ensure-chromium.sh). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where the browser tests write their screenshots (git-ignored). */
export const SCREENSHOT_DIR = path.resolve(__dirname, '../../test-output/dashboard');

/**
 * Headless Chromium with a new empty profile. The flags keep it off the network (this machine has
 * none) and quiet: no background connections, no component updates, no sync, no QUIC.
 */
export async function launchBrowser(
  executablePath = CHROMIUM_PATH,
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium is not installed at ${executablePath}: the dashboard's browser test needs it. ` +
        'Install it with `bash scripts/ensure-chromium.sh` (Debian package "chromium").',
    );
  }
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const profile = mkdtempSync(path.join(os.tmpdir(), 'docbatch-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1360, height: 860 },
    timeout: 30_000,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
