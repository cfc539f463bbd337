import express, { Router } from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { Database } from '../../core/db/database';
import { AppError } from '../../core/errors';
import type { Logger } from '../../core/logger';
import {
  createTenant,
  createTenantKey,
  DEFAULT_GRACE_SECONDS,
  getTenant,
  getWebhookSecret,
  listTenantKeys,
  listTenants,
  revokeApiKey,
  rotateTenantWebhookSecret,
} from '../../core/tenants';
import { adminOf } from './admin-auth';

/**
 * The admin API for tenants, keys and webhook secrets, mounted at `/admin/api` behind the admin
 * credentials (`Authorization: Bearer <ADMIN_TOKEN>`, or the dashboard session with its CSRF
 * token). Documented in openapi/openapi.json (tag `admin`) and docs/operations.md. Every change is
 * logged with the tenant and key ids (never a key or a secret).
 */
export function tenantAdminRoutes(db: Database, logger: Logger): Router {
  const router = Router();
  const log = logger.child({ component: 'admin-api' });
  const json = express.json({ limit: '16kb', strict: true });

  const handle =
    (fn: (req: Request, res: Response) => Promise<void>) =>
    (req: Request, res: Response, next: NextFunction): void => {
      fn(req, res).catch(next);
    };
  const audit = (res: Response, fields: Record<string, unknown>, msg: string): void =>
    log.info({ ...fields, via: adminOf(res).via }, msg);

  router.get(
    '/tenants',
    handle(async (req, res) => {
      const limit = intQuery(req, 'limit', 100, 1, 1000);
      const after = stringQuery(req, 'after');
      res.json(await listTenants(db, { limit, after }));
    }),
  );

  router.post(
    '/tenants',
    json,
    handle(async (req, res) => {
      const body = objectBody(req, ['name']);
      if (body.name === undefined) throw missing('name', 'the tenant name');
      const tenant = await createTenant(db, body.name);
      audit(res, { tenantId: tenant.id, tenant: tenant.name }, 'tenant created');
      res.status(201).json(tenant);
    }),
  );

  router.get(
    '/tenants/:tenant',
    handle(async (req, res) => {
      res.json(await getTenant(db, param(req, 'tenant')));
    }),
  );

  router.get(
    '/tenants/:tenant/keys',
    handle(async (req, res) => {
      const data = await listTenantKeys(db, param(req, 'tenant'));
      res.json({ object: 'list', data, has_more: false, next_cursor: null });
    }),
  );

  router.post(
    '/tenants/:tenant/keys',
    json,
    handle(async (req, res) => {
      objectBody(req, []);
      const key = await createTenantKey(db, param(req, 'tenant'));
      audit(res, { tenantId: key.tenant.id, keyId: key.id }, 'api key created');
      res.status(201).json(key);
    }),
  );

  router.post(
    '/keys/revoke',
    json,
    handle(async (req, res) => {
      const body = objectBody(req, ['key']);
      if (body.key === undefined) throw missing('key', 'a key id (key_...) or an API key (dbk_...)');
      const result = await revokeApiKey(db, body.key);
      if (result.revoked)
        audit(res, { tenantId: result.key.tenant.id, keyId: result.key.id }, 'api key revoked');
      res.json(result);
    }),
  );

  router.get(
    '/tenants/:tenant/webhook_secret',
    handle(async (req, res) => {
      const secret = await getWebhookSecret(db, param(req, 'tenant'));
      audit(res, { tenantId: secret.tenant.id }, 'webhook secret read');
      res.json(secret);
    }),
  );

  router.post(
    '/tenants/:tenant/webhook_secret/rotate',
    json,
    handle(async (req, res) => {
      const body = objectBody(req, ['grace_seconds']);
      const grace = 'grace_seconds' in body ? body.grace_seconds : DEFAULT_GRACE_SECONDS;
      const secret = await rotateTenantWebhookSecret(db, param(req, 'tenant'), grace);
      audit(
        res,
        { tenantId: secret.tenant.id, graceSeconds: grace, previousUntil: secret.previous_secret_expires_at },
        'webhook secret rotated',
      );
      res.json(secret);
    }),
  );

  return router;
}

function param(req: Request, name: string): string {
  const v = req.params[name];
  return typeof v === 'string' ? v : '';
}

function stringQuery(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || v.length > 200)
    throw new AppError('INVALID_REQUEST', `Invalid \`${name}\` parameter.`);
  return v;
}

function intQuery(req: Request, name: string, dflt: number, min: number, max: number): number {
  const raw = stringQuery(req, name);
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    throw new AppError('INVALID_REQUEST', `\`${name}\` must be an integer from ${min} to ${max}.`);
  }
  return n;
}

function missing(field: string, what: string): AppError {
  return new AppError('INVALID_REQUEST', `\`${field}\` is required: ${what}.`, [
    { field, message: 'required' },
  ]);
}

/**
 * The JSON object body of a request (an absent body is `{}`), with no field beyond `allowed`: an
 * unknown field is a 400 rather than silently ignored (a typo such as `grace_second` would
 * otherwise rotate with the default).
 */
function objectBody(req: Request, allowed: string[]): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new AppError('INVALID_REQUEST', 'The request body must be a JSON object.');
  }
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k) && k !== '_csrf');
  if (unknown.length > 0) {
    throw new AppError(
      'INVALID_REQUEST',
      `Unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.map((k) => JSON.stringify(k)).join(', ')}.`,
      unknown.map((field) => ({ field, message: 'unknown field' })),
    );
  }
  return body as Record<string, unknown>;
}
