import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
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
 *   child processes, restarts a child that exits on its own (backoff 1 s doubling to 30 s, reset after
 *   a minute of running; the other child keeps running), and stops both on SIGTERM/SIGINT. The children
 *   run in process groups of their own, so Ctrl-C (or `kill -TERM` to the group) reaches only this
 *   supervisor, which stops each child once, gracefully; a child whose supervisor dies stops too.
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
  // Under `all`: when the supervisor is gone (killed with -9), stop gracefully rather than run orphaned.
  if (process.send) {
    process.once('disconnect', () => {
      logger.warn('supervisor gone: shutting down');
      process.kill(process.pid, 'SIGTERM');
    });
  }
  await part.start();
  process.send?.({ ready: kind });
}

async function runAll(logger: Logger): Promise<void> {
  const api = loadConfig('api');
  loadConfig('worker');
  await preflight(api.DATABASE_URL, api.REDIS_URL, logger);
  const children = new Map<string, ChildProcess>();
  const restarts = new Map<string, NodeJS.Timeout>();
  const failures = new Map<string, number>();
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    stopping = true;
    for (const t of restarts.values()) clearTimeout(t);
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
  // The same entry point as this process: dist/main.js, or src/main.ts through scripts/run-ts.js.
  const fromSource = __filename.endsWith('.ts');
  const entry = fromSource ? path.resolve(__dirname, '../scripts/run-ts.js') : __filename;
  const entryArgs = fromSource ? [__filename] : [];
  const start = (kind: 'api' | 'worker'): void => {
    const child = fork(entry, [...entryArgs, kind], { stdio: 'inherit', detached: true });
    const startedAt = Date.now();
    children.set(kind, child);
    logger.info({ process: kind, childPid: child.pid }, 'child process started');
    child.on('exit', (code, signal) => {
      if (stopping) return;
      const n = Date.now() - startedAt > 60_000 ? 1 : (failures.get(kind) ?? 0) + 1;
      failures.set(kind, n);
      const delayMs = Math.min(30_000, 1000 * 2 ** (n - 1));
      logger.error(
        { process: kind, code, signal, restartInMs: delayMs },
        'child process exited; restarting it',
      );
      restarts.set(
        kind,
        setTimeout(() => {
          restarts.delete(kind);
          if (!stopping) start(kind);
        }, delayMs),
      );
    });
  };
  start('api');
  start('worker');
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
