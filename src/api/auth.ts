import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Database } from '../core/db/database';
import { AppError } from '../core/errors';
import { authenticate } from '../core/tenants';
import type { AuthenticatedTenant } from '../core/tenants';

/**
 * API key authentication for every `/v1` route: `Authorization: Bearer <key>`. A missing,
 * malformed, unknown or revoked key is 401 UNAUTHORIZED (with `WWW-Authenticate: Bearer`). The
 * tenant is kept in `res.locals.tenant`; read it with {@link tenantOf}.
 */
export function requireApiKey(db: Database): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const header = req.get('authorization') ?? '';
    const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
    const unauthorized = (message: string): void =>
      next(
        new AppError('UNAUTHORIZED', message, undefined, { 'WWW-Authenticate': 'Bearer realm="docbatch"' }),
      );
    if (!m) {
      unauthorized('Missing API key: send "Authorization: Bearer <api key>".');
      return;
    }
    authenticate(db, m[1] as string).then((tenant) => {
      if (!tenant) {
        unauthorized('Invalid or revoked API key.');
        return;
      }
      res.locals.tenant = tenant;
      next();
    }, next);
  };
}

/** The tenant authenticated by {@link requireApiKey}. */
export function tenantOf(res: Response): AuthenticatedTenant {
  const tenant = res.locals.tenant as AuthenticatedTenant | undefined;
  if (!tenant) throw new Error('tenantOf() used on a route without requireApiKey');
  return tenant;
}
