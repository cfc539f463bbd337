import { Router } from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { Database } from '../../core/db/database';
import { resolveTenant } from '../../core/tenants';
import { getUsage, parseUsageQuery } from '../../core/usage';
import { usageParam } from '../routes/usage';
import { allowQuery } from '../strict-url';

/**
 * `GET /admin/api/usage?start=&end=&group_by=&tenant=`: usage across tenants for operators (behind
 * the admin credentials, mounted at `/admin/api`): the same buckets as `GET /v1/usage`, each with
 * its `tenant` (`{id, name}`); `tenant` (id or name) narrows to one tenant.
 */
export function usageAdminRoutes(db: Database): Router {
  const router = Router();
  router.get('/usage', (req: Request, res: Response, next: NextFunction) => {
    void (async () => {
      allowQuery(req, ['start', 'end', 'group_by', 'tenant']);
      const query = parseUsageQuery({
        start: usageParam(req, 'start'),
        end: usageParam(req, 'end'),
        group_by: usageParam(req, 'group_by'),
      });
      const ref = usageParam(req, 'tenant');
      const tenantId = ref !== undefined ? (await resolveTenant(db, ref)).id : undefined;
      res.json(await getUsage(db.pool, query, { perTenant: true, tenantId }));
    })().catch(next);
  });
  return router;
}
