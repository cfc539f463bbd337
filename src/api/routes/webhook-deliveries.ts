import { Router } from 'express';
import type { Database } from '../../core/db/database';
import { AppError } from '../../core/errors';
import { getTrainingJob } from '../../core/training-jobs';
import {
  batchBelongsToTenant,
  listDeliveries,
  listTrainingJobDeliveries,
  redeliver,
} from '../../core/webhooks/delivery-store';
import type { AttemptRow, DeliveryRow } from '../../core/webhooks/delivery-store';
import { tenantOf } from '../auth';
import { wrapAsync } from '../http';
import { allowQuery } from '../strict-url';

/** One attempt as the API shows it. */
export interface WebhookAttemptObject {
  attempt: number;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  created_at: string;
}

/** A webhook delivery as the API shows it. */
export interface WebhookDeliveryObject {
  id: string;
  object: 'webhook_delivery';
  batch_id: string;
  event_type: string;
  url: string;
  status: 'pending' | 'succeeded' | 'failed';
  /** The exact JSON body sent (parsed). */
  payload: unknown;
  attempt_count: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
  attempts: WebhookAttemptObject[];
}

function iso(d: Date | null): string | null {
  return d ? d.toISOString() : null;
}

export function toDeliveryObject(row: DeliveryRow, attempts: AttemptRow[]): WebhookDeliveryObject {
  let payload: unknown;
  try {
    payload = JSON.parse(row.payload);
  } catch {
    payload = null;
  }
  return {
    id: row.id,
    object: 'webhook_delivery',
    // Listed per batch: a batch's deliveries all carry its id.
    batch_id: row.batch_id as string,
    event_type: row.event_type,
    url: row.url,
    status: row.status,
    payload,
    attempt_count: row.attempts,
    next_attempt_at: row.status === 'pending' ? iso(row.next_attempt_at) : null,
    last_status_code: row.last_status_code,
    last_error: row.last_error,
    created_at: row.created_at.toISOString(),
    delivered_at: iso(row.delivered_at),
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      status_code: a.status_code,
      latency_ms: a.latency_ms,
      error: a.error,
      created_at: a.created_at.toISOString(),
    })),
  };
}

/** A training job's webhook delivery: the same object with `training_job_id` in place of `batch_id`. */
export type TrainingJobWebhookDeliveryObject = Omit<WebhookDeliveryObject, 'batch_id'> & {
  training_job_id: string;
};

export function toTrainingJobDeliveryObject(
  row: DeliveryRow,
  trainingJobId: string,
  attempts: AttemptRow[],
): TrainingJobWebhookDeliveryObject {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { id, object, batch_id, ...rest } = toDeliveryObject(row, attempts);
  return { id, object, training_job_id: trainingJobId, ...rest };
}

function batchNotFound(batchId: string): AppError {
  return new AppError('NOT_FOUND', `No batch ${batchId}.`);
}

/**
 * `GET /v1/batches/:id/webhook_deliveries`: the batch's deliveries (oldest first) with every
 * attempt (status code, latency, error). `POST /v1/batches/:id/webhook_deliveries/:delivery_id/redeliver`:
 * sends the delivery again with the same `webhook-id` and payload as a new attempt series (202).
 * Tenant-scoped: another tenant's batch is a 404. Mount under the authenticated v1 router.
 */
export function webhookDeliveriesRouter(db: Database): Router {
  const router = Router();

  router.get(
    '/batches/:id/webhook_deliveries',
    wrapAsync(async (req, res) => {
      const batchId = String(req.params.id);
      if (!(await batchBelongsToTenant(db.pool, batchId, tenantOf(res).id))) throw batchNotFound(batchId);
      const rows = await listDeliveries(db.pool, batchId);
      return {
        status: 200,
        body: { object: 'list', data: rows.map((r) => toDeliveryObject(r, r.attempt_log)), has_more: false },
      };
    }),
  );

  // A training job's deliveries (training_job.succeeded / failed / cancelled), oldest first. Another
  // tenant's job, or an unknown id, is a 404 as for GET /v1/training_jobs/{id}.
  router.get(
    '/training_jobs/:id/webhook_deliveries',
    wrapAsync(async (req, res) => {
      allowQuery(req, []);
      const job = await getTrainingJob(db.pool, tenantOf(res).id, String(req.params.id));
      const rows = await listTrainingJobDeliveries(db.pool, job.id);
      return {
        status: 200,
        body: {
          object: 'list',
          data: rows.map((r) => toTrainingJobDeliveryObject(r, job.id, r.attempt_log)),
          has_more: false,
        },
      };
    }),
  );

  router.post(
    '/batches/:id/webhook_deliveries/:delivery_id/redeliver',
    wrapAsync(async (req, res) => {
      const batchId = String(req.params.id);
      const deliveryId = String(req.params.delivery_id);
      if (!(await batchBelongsToTenant(db.pool, batchId, tenantOf(res).id))) throw batchNotFound(batchId);
      const row = await redeliver(db.pool, batchId, deliveryId);
      if (!row) throw new AppError('NOT_FOUND', `No webhook delivery ${deliveryId} for batch ${batchId}.`);
      const [current] = await listDeliveries(db.pool, batchId, deliveryId);
      return { status: 202, body: toDeliveryObject(current ?? row, current?.attempt_log ?? []) };
    }),
  );

  return router;
}
