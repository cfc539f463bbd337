import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { ApiServer } from './api/server';
import { loadConfig } from './core/config';
import { Database } from './core/db/database';
import { migrate } from './core/db/migrator';
import { ConfigError, ServiceUnavailableError } from './core/errors';
import { createLogger } from './core/logger';
import type { Logger } from './core/logger';
import { ensurePostgres, ensureRedis } from './core/services';
import { WorkerProcess } from './workers/worker-process';

/**
 * Entry point. `node dist/main.js [all|api|worker|migrate]`:
 * - `all` (default): checks services, applies migrations, then runs the API and one worker as
 *   child processes and stops both on SIGTERM/SIGINT.
 * - `api` / `worker`: one process, for scaling out.
 * - `migrate`: applies pending migrations and exits.
 */

type Stoppable = { stop(): Promise<void> };

/** One shutdown path: first signal stops gracefully, a second forces exit. */
function onSignals(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: forcing exit');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took longer than 30 s: forcing exit');
      process.exit(1);
    }, 30_000);
    force.unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

async function preflight(databaseUrl: string, redisUrl: string, logger: Logger): Promise<void> {
  await ensurePostgres(databaseUrl);
  await ensureRedis(redisUrl);
  const db = new Database(databaseUrl, 1);
  try {
    const applied = await migrate(db.pool);
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
  } finally {
    await db.close();
  }
}

async function runOne(kind: 'api' | 'worker', logger: Logger): Promise<void> {
  const config = loadConfig(kind);
  await ensurePostgres(config.DATABASE_URL);
  await ensureRedis(config.REDIS_URL);
  const part: Stoppable & { start(): Promise<void> } =
    kind === 'api'
      ? new ApiServer(loadConfig('api'), logger)
      : new WorkerProcess(loadConfig('worker'), logger);
  onSignals(logger, () => part.stop());
  await part.start();
  process.send?.({ ready: kind });
}

async function runAll(logger: Logger): Promise<void> {
  const api = loadConfig('api');
  loadConfig('worker');
  await preflight(api.DATABASE_URL, api.REDIS_URL, logger);
  const children = new Map<string, ChildProcess>();
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    stopping = true;
    await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
  };
  for (const kind of ['api', 'worker'] as const) {
    const child = fork(__filename, [kind], { stdio: 'inherit' });
    children.set(kind, child);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      logger.error({ process: kind, code, signal }, 'child process exited; stopping');
      void stopAll().then(() => process.exit(code || 1));
    });
  }
  onSignals(logger, stopAll);
}

async function main(): Promise<void> {
  const command = process.argv[2] ?? 'all';
  const logger = createLogger(
    process.env.LOG_LEVEL ?? 'info',
    command === 'all' ? 'docbatch' : `docbatch-${command}`,
  );
  try {
    if (command === 'all') await runAll(logger);
    else if (command === 'api' || command === 'worker') await runOne(command, logger);
    else if (command === 'migrate') {
      const config = loadConfig('worker');
      await preflight(config.DATABASE_URL, config.REDIS_URL, logger);
      process.exit(0);
    } else {
      process.stderr.write(`docbatch: unknown command "${command}" (expected all, api, worker or migrate)\n`);
      process.exit(2);
    }
  } catch (err) {
    if (err instanceof ServiceUnavailableError || err instanceof ConfigError) {
      process.stderr.write(`docbatch: ${err.message}\n`);
      process.exit(1);
    }
    logger.fatal({ err }, 'failed to start');
    process.exit(1);
  }
}

void main();
