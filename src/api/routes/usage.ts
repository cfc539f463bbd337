import { Router } from 'express';
import type { Request } from 'express';
import type { Database } from '../../core/db/database';
import { AppError } from '../../core/errors';
import { getUsage, parseUsageQuery } from '../../core/usage';
import { tenantOf } from '../auth';
import { wrapAsync } from '../http';
import { allowQuery } from '../strict-url';

/** A query parameter given at most once, as a string. */
export function usageParam(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    throw new AppError('INVALID_REQUEST', `Query parameter \`${name}\` must be given once.`, [
      { field: name, message: 'must be given once' },
    ]);
  }
  return v;
}

/** `GET /v1/usage?start=&end=&group_by=`: the tenant's own usage per UTC day, task and model. */
export function usageRouter(db: Database): Router {
  const router = Router();
  router.get(
    '/usage',
    wrapAsync(async (req, res) => {
      allowQuery(req, ['start', 'end', 'group_by']);
      const query = parseUsageQuery({
        start: usageParam(req, 'start'),
        end: usageParam(req, 'end'),
        group_by: usageParam(req, 'group_by'),
      });
      return { status: 200, body: await getUsage(db.pool, query, { tenantId: tenantOf(res).id }) };
    }),
  );
  return router;
}
