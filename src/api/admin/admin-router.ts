import express, { Router } from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { BatchDeps } from '../../core/batches';
import { TASKS } from '../../core/models/types';
import { AppError, clientDataError, isClientDataError, isUnavailableError } from '../../core/errors';
import type { ApiContext } from '../app';
import {
  LoginThrottle,
  adminOf,
  csrfProtection,
  csrfTokenOf,
  principalOf,
  requireAdmin,
  safeNext,
  sameOrigin,
} from './admin-auth';
import { AdminSessions, SESSION_COOKIE, SESSION_TTL_SECONDS } from './admin-session';
import { DASHBOARD_CSS } from './assets/dashboard-css';
import { DASHBOARD_JS } from './assets/dashboard-js';
import type { BatchActions } from './batch-actions';
import { coreBatchActions } from './batch-actions';
import { getUsage, parseUsageQuery } from '../../core/usage';
import type { UsageCounters } from '../../core/usage';
import { redeliver } from '../../core/webhooks';
import { readThroughput } from '../../core/workers';
import type { ThroughputSeries } from '../../core/workers';
import {
  batchThroughput,
  errorOverview,
  getDashboardBatch,
  isBatchStatus,
  listDashboardBatches,
  listFailedDocuments,
  listTenants,
  listWebhookDeliveries,
  taskBacklog,
  tenantOverview,
} from './dashboard-queries';
import type { BatchFilters, DashboardBatch } from './dashboard-queries';
import { queuesBoard } from './queues-board';
import { tenantAdminRoutes } from './tenant-routes';
import { usageAdminRoutes } from './usage-routes';
import type { WorkerSource } from './worker-source';
import { heartbeatWorkerSource } from './worker-source';
import { batchView, canCancel, canRetry } from './views/batch-view';
import { batchesView } from './views/batches-view';
import { errorsView } from './views/errors-view';
import { trainingView } from './views/training-view';
import { listTrainingJobsForOps, TRAINING_JOB_STATUSES } from '../../core/training-jobs';
import type { TrainingJobStatus } from '../../core/training-jobs';
import {
  THROUGHPUT_RANGES,
  backlogSection,
  isThroughputRange,
  throughputSection,
} from './views/overview-view';
import type { ThroughputRange } from './views/overview-view';
import { USAGE_RANGES, tenantsView } from './views/tenants-view';
import type { TenantUsage } from './views/tenants-view';
import { ADMIN_BASE, DASHBOARD_CSP } from './views/layout';
import { loginView, messageView } from './views/login-view';
import { html } from './views/html';
import { workersPanel } from './views/workers-view';

function zeroUsage(): UsageCounters {
  return {
    batches: 0,
    documents_submitted: 0,
    documents_completed: 0,
    documents_failed: 0,
    input_characters: 0,
    input_tokens: 0,
  };
}

/** What the dashboard needs beyond the API context; tests may replace parts. */
export interface AdminDeps {
  actions: BatchActions;
  workers: WorkerSource;
  sessions: AdminSessions;
}

const DISABLED_MESSAGE =
  'The admin dashboard is disabled: set ADMIN_TOKEN (at least 16 characters) on the API process to enable /admin and /admin/queues.';

function wantsHtml(req: Request): boolean {
  if (req.path.startsWith('/api/') || req.path.startsWith('/queues/api/')) return false;
  return Boolean(req.accepts(['json', 'html']) === 'html');
}

function sendPage(res: Response, status: number, page: string): void {
  res
    .status(status)
    .set({
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': DASHBOARD_CSP,
      'Cache-Control': 'no-store',
    })
    .send(page);
}

/** Wraps an async handler; errors go to the dashboard's error handler. */
function handle(fn: (req: Request, res: Response) => Promise<void>) {
  return (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch(next);
  };
}

/** The `type` body-parser gives the errors of a body it could not read (`entity.parse.failed`, ...). */
function bodyErrorType(err: unknown): string | undefined {
  const type = (err as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : undefined;
}

function param(req: Request, name: string): string {
  const v = req.params[name];
  return typeof v === 'string' ? v : '';
}

function queryString(req: Request, name: string, max = 200): string | undefined {
  const v = req.query[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max) {
    throw new AppError('INVALID_REQUEST', `Invalid \`${name}\` parameter.`);
  }
  return v.trim() || undefined;
}

function parseFilters(req: Request, defaultLimit: number): BatchFilters {
  const status = queryString(req, 'status');
  if (status !== undefined && !isBatchStatus(status)) {
    throw new AppError('INVALID_REQUEST', 'Invalid `status` parameter.');
  }
  const task = queryString(req, 'task');
  if (task !== undefined && !(TASKS as readonly string[]).includes(task)) {
    throw new AppError('INVALID_REQUEST', 'Invalid `task` parameter.');
  }
  const limitRaw = queryString(req, 'limit');
  const limit = limitRaw === undefined ? defaultLimit : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw new AppError('INVALID_REQUEST', '`limit` must be an integer from 1 to 100.');
  }
  return {
    tenant: queryString(req, 'tenant'),
    status,
    task,
    q: queryString(req, 'q'),
    after: queryString(req, 'after', 600),
    limit,
  };
}

/**
 * The ops dashboard, mounted at /admin: login, the batch views, their JSON endpoints and bull-board
 * at /admin/queues. Without ADMIN_TOKEN every path answers 503 and says how to enable it.
 */
export function adminRouter(
  ctx: ApiContext,
  batchDeps: BatchDeps,
  overrides: Partial<AdminDeps> = {},
): Router {
  const router = Router();
  const { config, logger } = ctx;
  const log = logger.child({ component: 'admin' });

  if (!config.ADMIN_TOKEN) {
    log.warn('admin dashboard disabled: ADMIN_TOKEN is not set; /admin and /admin/queues answer 503');
    router.use((req, res) => {
      const err = new AppError('UNAVAILABLE', DISABLED_MESSAGE);
      if (wantsHtml(req))
        sendPage(res, 503, messageView({ title: 'Dashboard disabled', message: DISABLED_MESSAGE }));
      else res.status(503).json(err.toBody());
    });
    return router;
  }

  const deps: AdminDeps = {
    sessions: overrides.sessions ?? new AdminSessions(config.ADMIN_TOKEN),
    actions: overrides.actions ?? coreBatchActions(batchDeps),
    workers: overrides.workers ?? heartbeatWorkerSource(ctx),
  };
  const { sessions } = deps;
  const throttle = new LoginThrottle();
  const pool = ctx.db.pool;

  router.use((_req, res, next) => {
    res.set({
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
    });
    next();
  });
  router.use(express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 }));

  // Static assets: public (the login page uses them), nothing secret in them.
  router.get('/static/dashboard.css', (_req, res) => {
    res.type('text/css').set('Cache-Control', 'public, max-age=300').send(DASHBOARD_CSS);
  });
  router.get('/static/dashboard.js', (_req, res) => {
    res.type('application/javascript').set('Cache-Control', 'public, max-age=300').send(DASHBOARD_JS);
  });

  router.get('/login', (req, res) => {
    if (principalOf(req, sessions)) return res.redirect(303, safeNext(req.query.next));
    sendPage(res, 200, loginView({ next: safeNext(req.query.next) }));
  });

  router.post('/login', (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = safeNext(body.next);
    const client = req.socket.remoteAddress ?? 'unknown';
    const wait = throttle.retryAfter(client);
    if (wait > 0) {
      res.set('Retry-After', String(wait));
      return sendPage(
        res,
        429,
        loginView({ next, error: `Too many failed attempts: try again in ${wait} s.` }),
      );
    }
    if (!sameOrigin(req)) {
      return sendPage(res, 403, loginView({ next, error: 'Cross-origin login refused: use this page.' }));
    }
    const token = typeof body.token === 'string' ? body.token : '';
    if (!sessions.checkToken(token)) {
      throttle.fail(client);
      log.warn({ client }, 'admin login failed');
      return sendPage(res, 401, loginView({ next, error: 'Wrong admin token.' }));
    }
    throttle.succeed(client);
    const { cookie } = sessions.issue();
    res.cookie(SESSION_COOKIE, cookie, {
      path: ADMIN_BASE,
      httpOnly: true,
      sameSite: 'strict',
      secure: req.secure || (req.get('origin') ?? '').startsWith('https://'),
      maxAge: SESSION_TTL_SECONDS * 1000,
      encode: String,
    });
    log.info({ client }, 'admin login');
    res.redirect(303, next);
  });

  const refuse = (req: Request, res: Response): void => {
    const err = new AppError('UNAUTHORIZED', 'Admin credentials required: log in at /admin/login.');
    res.set('Cache-Control', 'no-store');
    if (wantsHtml(req) && req.method === 'GET') {
      sendPage(res, 401, loginView({ next: safeNext(req.originalUrl) }));
    } else {
      res.status(401).json(err.toBody());
    }
  };
  // Wrong bearer tokens count as failed logins of the client address (issue 16: never throttled): once
  // throttled, even a right token waits, so a throttled client learns nothing from its guesses.
  router.use((req, res, next) => {
    const auth = req.headers.authorization;
    if (!auth?.startsWith('Bearer ')) return next();
    const client = req.socket.remoteAddress ?? 'unknown';
    const wait = throttle.retryAfter(client);
    if (wait > 0) {
      res.set('Retry-After', String(wait));
      res
        .status(429)
        .json(
          new AppError('RATE_LIMITED', `Too many failed admin authentications: retry in ${wait} s.`).toBody(),
        );
      return;
    }
    if (sessions.checkToken(auth.slice(7).trim())) throttle.succeed(client);
    else {
      throttle.fail(client);
      log.warn({ client }, 'admin bearer token refused');
    }
    next();
  });
  router.use(requireAdmin(sessions, refuse));
  // Sessions are signed cookies; a logged-out session is remembered in Redis until it would have expired
  // (issue 16: a copied cookie stayed valid after logout), so every API process refuses it.
  const revokedKey = (nonce: string): string => `${config.QUEUE_PREFIX}:admin:revoked:${nonce}`;
  router.use((req, res, next) => {
    const p = adminOf(res);
    if (p.via !== 'cookie') return next();
    ctx.redis.exists(revokedKey(p.session.nonce)).then((n) => {
      if (n !== 1) return next();
      res.clearCookie(SESSION_COOKIE, { path: ADMIN_BASE, httpOnly: true, sameSite: 'strict' });
      refuse(req, res);
    }, next);
  });

  router.post(
    '/logout',
    csrfProtection(sessions, true),
    handle(async (_req, res) => {
      const p = adminOf(res);
      if (p.via === 'cookie') {
        const ttl = Math.max(1, p.session.expiresAt - Math.floor(Date.now() / 1000));
        await ctx.redis.set(revokedKey(p.session.nonce), '1', 'EX', ttl);
      }
      res.clearCookie(SESSION_COOKIE, { path: ADMIN_BASE, httpOnly: true, sameSite: 'strict' });
      res.redirect(303, `${ADMIN_BASE}/login`);
    }),
  );

  router.use(
    '/queues',
    csrfProtection(sessions, false),
    queuesBoard(ctx.queues, {
      basePath: `${ADMIN_BASE}/queues`,
      readOnly: config.BULL_BOARD_READ_ONLY,
      batchesUrl: ADMIN_BASE,
    }),
  );
  router.use(csrfProtection(sessions, true));
  router.use('/api', tenantAdminRoutes(ctx.db, logger));
  router.use('/api', usageAdminRoutes(ctx.db));

  const loadWorkers = async () => {
    try {
      return workersPanel(await deps.workers());
    } catch (err) {
      if (!isUnavailableError(err)) throw err;
      return workersPanel([], true);
    }
  };

  const parseRange = (req: Request): ThroughputRange => {
    const range = queryString(req, 'range') ?? '1h';
    if (!isThroughputRange(range)) {
      throw new AppError(
        'INVALID_REQUEST',
        `\`range\` must be one of ${Object.keys(THROUGHPUT_RANGES).join(', ')}.`,
      );
    }
    return range;
  };
  /** The throughput history, or null when Redis cannot be reached (the page still renders). */
  const loadThroughput = async (range: ThroughputRange): Promise<ThroughputSeries | null> => {
    try {
      return await readThroughput(ctx.redis, config.QUEUE_PREFIX, {
        to: Date.now(),
        ...THROUGHPUT_RANGES[range],
        tasks: TASKS,
      });
    } catch (err) {
      if (!isUnavailableError(err)) throw err;
      return null;
    }
  };

  router.get(
    '/',
    handle(async (req, res) => {
      const filters = parseFilters(req, 50);
      const range = parseRange(req);
      const [page, tenants, workers, throughput, backlog] = await Promise.all([
        listDashboardBatches(pool, filters),
        listTenants(pool),
        loadWorkers(),
        loadThroughput(range),
        taskBacklog(pool, TASKS),
      ]);
      const p = adminOf(res);
      sendPage(
        res,
        200,
        batchesView({
          filters,
          page,
          tenants,
          workers,
          overview: html`${throughputSection(throughput, range)}${backlogSection(backlog)}`,
          csrf: p.via === 'cookie' ? csrfTokenOf(res, sessions) : undefined,
          bearer: p.via === 'bearer',
        }),
      );
    }),
  );

  const loadBatch = async (id: string): Promise<DashboardBatch> => {
    const batch = id.length <= 64 ? await getDashboardBatch(pool, id) : null;
    if (!batch) throw new AppError('NOT_FOUND', `No batch ${id}.`);
    return batch;
  };

  router.get(
    '/batches/:id',
    handle(async (req, res) => {
      const batch = await loadBatch(param(req, 'id'));
      const [failed, deliveries, throughput] = await Promise.all([
        listFailedDocuments(pool, batch.id),
        listWebhookDeliveries(pool, batch.id),
        batchThroughput(pool, batch),
      ]);
      sendPage(
        res,
        200,
        batchView({
          batch,
          failed,
          deliveries,
          throughput,
          csrf: csrfTokenOf(res, sessions),
          bearer: adminOf(res).via === 'bearer',
          notice: typeof req.query.notice === 'string' ? req.query.notice : undefined,
        }),
      );
    }),
  );

  for (const action of ['cancel', 'retry'] as const) {
    router.post(
      `/batches/:id/${action}`,
      handle(async (req, res) => {
        const batch = await loadBatch(param(req, 'id'));
        await deps.actions[action](batch);
        log.info(
          { batchId: batch.id, tenantId: batch.tenant.id, action, via: adminOf(res).via },
          'admin action',
        );
        if (req.accepts(['html', 'json']) === 'json') {
          res.status(202).json({ batch: await loadBatch(batch.id) });
          return;
        }
        const notice = action === 'cancel' ? 'cancelled' : 'retried';
        res.redirect(303, `${ADMIN_BASE}/batches/${encodeURIComponent(batch.id)}?notice=${notice}`);
      }),
    );
  }

  // Redelivery of a webhook delivery: the same core operation as
  // `POST /v1/batches/{id}/webhook_deliveries/{delivery_id}/redeliver`, across tenants.
  router.post(
    '/batches/:id/webhook_deliveries/:delivery_id/redeliver',
    handle(async (req, res) => {
      const batch = await loadBatch(param(req, 'id'));
      const deliveryId = param(req, 'delivery_id');
      const row = deliveryId.length <= 64 ? await redeliver(pool, batch.id, deliveryId) : null;
      if (!row) throw new AppError('NOT_FOUND', `No webhook delivery ${deliveryId} for batch ${batch.id}.`);
      log.info(
        {
          batchId: batch.id,
          tenantId: batch.tenant.id,
          deliveryId,
          action: 'redeliver',
          via: adminOf(res).via,
        },
        'admin action',
      );
      if (req.accepts(['html', 'json']) === 'json') {
        const [delivery] = (await listWebhookDeliveries(pool, batch.id)).filter((d) => d.id === deliveryId);
        res.status(202).json({ delivery });
        return;
      }
      res.redirect(303, `${ADMIN_BASE}/batches/${encodeURIComponent(batch.id)}?notice=redelivered`);
    }),
  );

  router.get(
    '/errors',
    handle(async (req, res) => {
      const code = queryString(req, 'code');
      const overview = await errorOverview(pool, code);
      const p = adminOf(res);
      sendPage(
        res,
        200,
        errorsView({
          overview,
          code,
          csrf: p.via === 'cookie' ? csrfTokenOf(res, sessions) : undefined,
          bearer: p.via === 'bearer',
        }),
      );
    }),
  );
  router.get(
    '/tenants',
    handle(async (req, res) => {
      const daysRaw = queryString(req, 'days') ?? '30';
      const days = USAGE_RANGES.find((d) => String(d) === daysRaw);
      if (days === undefined) {
        throw new AppError('INVALID_REQUEST', `\`days\` must be one of ${USAGE_RANGES.join(', ')}.`);
      }
      const end = new Date().toISOString().slice(0, 10);
      const start = new Date(Date.parse(end) - (days - 1) * 86_400_000).toISOString().slice(0, 10);
      const [tenants, report] = await Promise.all([
        tenantOverview(pool),
        getUsage(pool, parseUsageQuery({ start, end, group_by: 'task' }), { perTenant: true }),
      ]);
      const usage = new Map<string, TenantUsage>();
      for (const b of report.data) {
        if (!b.tenant) continue;
        const { day: _day, task, model: _model, tenant, ...counters } = b;
        let u = usage.get(tenant.id);
        if (!u) {
          u = { totals: zeroUsage(), by_task: {} };
          usage.set(tenant.id, u);
        }
        for (const k of Object.keys(counters) as Array<keyof UsageCounters>) {
          u.totals[k] = (u.totals[k] ?? 0) + counters[k];
        }
        if (task) u.by_task[task] = counters;
      }
      const p = adminOf(res);
      sendPage(
        res,
        200,
        tenantsView({
          tenants,
          usage,
          days,
          range: { start, end },
          csrf: p.via === 'cookie' ? csrfTokenOf(res, sessions) : undefined,
          bearer: p.via === 'bearer',
        }),
      );
    }),
  );

  const trainingStatus = (req: Request): TrainingJobStatus | undefined => {
    const status = queryString(req, 'status');
    if (status !== undefined && !(TRAINING_JOB_STATUSES as readonly string[]).includes(status)) {
      throw new AppError('INVALID_REQUEST', 'Invalid `status` parameter.');
    }
    return status as TrainingJobStatus | undefined;
  };
  router.get(
    '/training',
    handle(async (req, res) => {
      const jobs = await listTrainingJobsForOps(pool, { status: trainingStatus(req) });
      const p = adminOf(res);
      sendPage(
        res,
        200,
        trainingView({
          jobs,
          csrf: p.via === 'cookie' ? csrfTokenOf(res, sessions) : undefined,
          bearer: p.via === 'bearer',
        }),
      );
    }),
  );
  router.get(
    '/api/training_jobs',
    handle(async (req, res) => {
      res.json({ object: 'list', data: await listTrainingJobsForOps(pool, { status: trainingStatus(req) }) });
    }),
  );

  router.get(
    '/api/errors',
    handle(async (req, res) => {
      res.json(await errorOverview(pool, queryString(req, 'code')));
    }),
  );
  router.get(
    '/api/backlog',
    handle(async (_req, res) => {
      res.json({ object: 'list', data: await taskBacklog(pool, TASKS) });
    }),
  );
  router.get(
    '/api/throughput',
    handle(async (req, res) => {
      const range = parseRange(req);
      const t = await loadThroughput(range);
      if (!t)
        throw new AppError('UNAVAILABLE', 'Redis cannot be reached; retry shortly.', undefined, {
          'Retry-After': '5',
        });
      res.json({ range, ...t });
    }),
  );

  router.get(
    '/api/batches',
    handle(async (req, res) => {
      res.json({ object: 'list', ...(await listDashboardBatches(pool, parseFilters(req, 50))) });
    }),
  );
  router.get(
    '/api/batches/:id',
    handle(async (req, res) => {
      const batch = await loadBatch(param(req, 'id'));
      const [failed, deliveries, throughput] = await Promise.all([
        listFailedDocuments(pool, batch.id),
        listWebhookDeliveries(pool, batch.id),
        req.query.throughput === '1' ? batchThroughput(pool, batch) : undefined,
      ]);
      res.json({
        ...(throughput !== undefined ? { throughput } : {}),
        batch,
        can_cancel: canCancel(batch),
        can_retry: canRetry(batch),
        failed_documents: failed,
        webhook_deliveries: deliveries,
      });
    }),
  );
  router.delete(
    '/api/batches/:id',
    handle(async (req, res) => {
      const batch = await loadBatch(param(req, 'id'));
      await deps.actions.delete(batch);
      log.info(
        { batchId: batch.id, tenantId: batch.tenant.id, action: 'delete', via: adminOf(res).via },
        'admin action',
      );
      res.json({ id: batch.id, object: 'batch.deleted', deleted: true });
    }),
  );
  router.get(
    '/api/workers',
    handle(async (_req, res) => {
      res.json(await loadWorkers());
    }),
  );

  router.use((_req, _res, next) => next(new AppError('NOT_FOUND', 'No such dashboard page.')));
  router.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    let appErr: AppError;
    if (err instanceof AppError) appErr = err;
    else if (isUnavailableError(err)) {
      log.warn({ err: { message: (err as Error).message }, path: req.path }, 'backing service unavailable');
      appErr = new AppError('UNAVAILABLE', 'A backing service is unavailable; retry shortly.', undefined, {
        'Retry-After': '5',
      });
    } else if (isClientDataError(err)) {
      log.warn(
        { err: { message: (err as Error).message }, path: req.path },
        'client value refused by Postgres',
      );
      appErr = clientDataError();
    } else if (err instanceof URIError) {
      appErr = new AppError('INVALID_REQUEST', 'The URL is not valid percent-encoded UTF-8.');
    } else if (bodyErrorType(err) === 'entity.too.large') {
      appErr = new AppError('PAYLOAD_TOO_LARGE', 'Request body is too large.');
    } else if (bodyErrorType(err) === 'entity.parse.failed') {
      appErr = new AppError('INVALID_REQUEST', 'Request body is not valid JSON.');
    } else if (
      bodyErrorType(err) === 'encoding.unsupported' ||
      bodyErrorType(err) === 'charset.unsupported'
    ) {
      appErr = new AppError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported body encoding or charset.');
    } else {
      log.error({ err, path: req.path, method: req.method }, 'admin dashboard error');
      appErr = new AppError('INTERNAL', 'Internal server error.');
    }
    if (appErr.headers) res.set(appErr.headers);
    if (wantsHtml(req)) {
      const p = principalOf(req, sessions);
      sendPage(
        res,
        appErr.status,
        messageView({
          title: appErr.code === 'NOT_FOUND' ? 'Not found' : 'Request refused',
          message: appErr.message,
          csrf: p?.via === 'cookie' ? sessions.csrfToken(p.session) : undefined,
        }),
      );
    } else {
      res.status(appErr.status).json(appErr.toBody());
    }
  });
  return router;
}
