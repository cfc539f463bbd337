import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express from 'express';
import type { Express, Router } from 'express';
import { CHUNK_QUEUES, WEBHOOK_QUEUE } from '../../core/queue/catalog';
import type { QueueSet } from '../../core/queue/queues';

type RenderCallback = (err: Error | null, html?: string) => void;
type Engine = (file: string, options: object, callback: RenderCallback) => void;

/**
 * bull-board's index page links Google Fonts; air-gapped sites cannot load it (and the page waits on
 * it). The board falls back to system fonts without it.
 */
export function stripExternalFonts(page: string): string {
  return page.replace(/<link[^>]*(?:fonts\.googleapis\.com|fonts\.gstatic\.com)[^>]*>/g, '');
}

/**
 * Content-Security-Policy of bull-board's pages: its scripts, styles and fonts come from this
 * server; it needs inline styles (its loading screen and React's style attributes), never inline
 * script (its only inline `<script>` is JSON data, which is not executed).
 */
export const QUEUES_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

type JobStatus = ReturnType<BullMQAdapter['getJobStatuses']>[number];

/**
 * Job states a queue never keeps, so bull-board's tab for them would always be empty: chunk jobs
 * are removed on completion (src/core/queue/enqueue-chunks.ts; their history is the dashboard's
 * throughput chart), webhook attempt jobs on completion and on failure (src/workers/webhook-relay.ts;
 * the attempts are in each batch's webhook deliveries).
 */
export const UNKEPT_STATES: Readonly<Record<string, readonly string[]>> = {
  ...Object.fromEntries(CHUNK_QUEUES.map((q) => [q, ['completed']])),
  [WEBHOOK_QUEUE]: ['completed', 'failed'],
};

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  ...Object.fromEntries(
    CHUNK_QUEUES.map((q) => [
      q,
      'Chunk jobs (ranges of a batch). Completed jobs are removed at once: see the throughput chart on the Batches page.',
    ]),
  ),
  [WEBHOOK_QUEUE]:
    'Webhook attempts. Jobs are removed when done: each batch page lists its deliveries and attempts.',
};

/** A BullMQ adapter without the tabs of the states its queue never keeps. */
class KeptStatesAdapter extends BullMQAdapter {
  constructor(
    queue: ConstructorParameters<typeof BullMQAdapter>[0],
    private readonly unkept: readonly string[],
    options: ConstructorParameters<typeof BullMQAdapter>[1],
  ) {
    super(queue, options);
  }

  override getJobStatuses(): JobStatus[] {
    return super.getJobStatuses().filter((s) => !this.unkept.includes(s));
  }

  override getStatuses(): ReturnType<BullMQAdapter['getStatuses']> {
    return super.getStatuses().filter((s) => !this.unkept.includes(s));
  }
}

/**
 * bull-board for every queue of the platform (ALL_QUEUES, through the API process's QueueSet),
 * to mount at `basePath`. Authentication and CSRF checks are the caller's middleware.
 */
export function queuesBoard(
  queues: QueueSet,
  o: { basePath: string; readOnly: boolean; batchesUrl: string },
): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(o.basePath);
  createBullBoard({
    queues: queues.all().map(
      (q) =>
        new KeptStatesAdapter(q, UNKEPT_STATES[q.name] ?? [], {
          readOnlyMode: o.readOnly,
          ...(DESCRIPTIONS[q.name] ? { description: DESCRIPTIONS[q.name] } : {}),
        }),
    ),
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: o.readOnly ? 'docbatch queues (read-only)' : 'docbatch queues',
        hideDocsLink: true,
        miscLinks: [{ text: 'Batches', url: o.batchesUrl }],
      },
    },
  });
  const app = serverAdapter.getRouter() as Express;
  app.disable('x-powered-by');
  const engines = (app as unknown as { engines: Record<string, Engine | undefined> }).engines;
  const ejs = engines['.ejs'];
  if (ejs) {
    app.engine('ejs', (file, options, callback) =>
      ejs(file, options, (err, page) => callback(err, page === undefined ? page : stripExternalFonts(page))),
    );
  }
  const board = express.Router();
  board.use((_req, res, next) => {
    res.set('Content-Security-Policy', QUEUES_CSP);
    next();
  });
  board.use(app);
  return board;
}
