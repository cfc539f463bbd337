import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express from 'express';
import type { Express, Router } from 'express';
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
    queues: queues.all().map((q) => new BullMQAdapter(q, { readOnlyMode: o.readOnly })),
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
