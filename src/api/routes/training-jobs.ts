import { Router } from 'express';
import type { Request } from 'express';
import type { BatchDeps } from '../../core/batches';
import type { ApiConfig } from '../../core/config';
import { AppError } from '../../core/errors';
import {
  cancelTrainingJob,
  createTrainingJob,
  getTrainingJob,
  listTrainingJobs,
  TRAINING_JOB_STATUSES,
  trainingJobSettingsFrom,
} from '../../core/training-jobs';
import type { TrainingJobDeps, TrainingJobStatus } from '../../core/training-jobs';
import { tenantOf } from '../auth';
import { wrapAsync } from '../http';
import { allowQuery } from '../strict-url';
import { ndjsonUpload } from './batch-upload';

function queryString(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    throw new AppError('INVALID_REQUEST', `Query parameter \`${name}\` must be given once.`, [
      { field: name, message: 'must be given once' },
    ]);
  }
  return v;
}

function limitParam(req: Request): number | undefined {
  const v = queryString(req, 'limit');
  if (v === undefined || v === '') return undefined;
  const n = /^[0-9]{1,9}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 100) {
    throw new AppError('INVALID_REQUEST', 'limit must be an integer from 1 to 100.', [
      { field: 'limit', message: 'must be an integer from 1 to 100' },
    ]);
  }
  return n;
}

/**
 * `/v1/training_jobs...`: create (NDJSON upload of labelled examples, parameters in the query),
 * list, get, cancel. Always scoped to the key's tenant (another tenant's job is a plain 404).
 */
export function trainingJobsRouter(batchDeps: BatchDeps, config: ApiConfig): Router {
  const router = Router();
  const deps: TrainingJobDeps = {
    db: batchDeps.db,
    queues: batchDeps.queues,
    logger: batchDeps.logger,
    // Training uploads share the batch uploads' slots: together they bound the connections uploads hold.
    ...(batchDeps.uploadSlots ? { uploadSlots: batchDeps.uploadSlots } : {}),
    // Training submissions count against the batch submissions' RATE_LIMIT_PER_MINUTE.
    ...(batchDeps.limiter ? { limiter: batchDeps.limiter } : {}),
    settings: trainingJobSettingsFrom(config),
  };
  const pool = deps.db.pool;

  router.post(
    '/training_jobs',
    wrapAsync(async (req, res) => {
      const tenant = tenantOf(res);
      try {
        const upload = ndjsonUpload(req, config, deps.settings.maxBodyBytes);
        await assertNotSharedName(batchDeps, upload.fields.model);
        const job = await createTrainingJob(deps, {
          tenantId: tenant.id,
          fields: upload.fields,
          examples: upload.source,
        });
        return { status: 201, body: job, headers: { Location: `/v1/training_jobs/${job.id}` } };
      } catch (err) {
        // The body was not read to its end: answer, then close the connection rather than read the rest.
        if (!req.readableEnded) res.set('Connection', 'close');
        throw err;
      }
    }),
  );

  router.get(
    '/training_jobs',
    wrapAsync(async (req, res) => {
      allowQuery(req, ['limit', 'after', 'status']);
      const status = queryString(req, 'status');
      if (status !== undefined && !(TRAINING_JOB_STATUSES as readonly string[]).includes(status)) {
        throw new AppError('INVALID_REQUEST', `status must be one of ${TRAINING_JOB_STATUSES.join(', ')}.`, [
          { field: 'status', message: `must be one of ${TRAINING_JOB_STATUSES.join(', ')}` },
        ]);
      }
      const page = await listTrainingJobs(pool, tenantOf(res).id, {
        limit: limitParam(req),
        after: queryString(req, 'after') || undefined,
        status: status as TrainingJobStatus | undefined,
      });
      return { status: 200, body: page };
    }),
  );

  router.get(
    '/training_jobs/:id',
    wrapAsync(async (req, res) => {
      allowQuery(req, []);
      return { status: 200, body: await getTrainingJob(pool, tenantOf(res).id, req.params.id as string) };
    }),
  );

  router.post(
    '/training_jobs/:id/cancel',
    wrapAsync(async (req, res) => {
      allowQuery(req, []);
      return { status: 202, body: await cancelTrainingJob(deps, tenantOf(res).id, req.params.id as string) };
    }),
  );

  return router;
}

/** A tenant model may not take the name of a shared (registry) model: refused before the upload is read. */
async function assertNotSharedName(deps: BatchDeps, model: unknown): Promise<void> {
  if (typeof model !== 'string' || model === '') return;
  const shared = await deps.models.list();
  if (shared.some((m) => m.id.split('@')[0] === model)) {
    throw new AppError(
      'MODEL_NAME_TAKEN',
      `${JSON.stringify(model)} is the name of a shared model; a trained model needs another name.`,
      [{ field: 'model', message: 'is the name of a shared model' }],
    );
  }
}
