import { cancelBatch, deleteBatch, retryBatch } from '../../core/batches';
import type { BatchDeps } from '../../core/batches';
import type { DashboardBatch } from './dashboard-queries';

/** The dashboard's state-changing actions. */
export interface BatchActions {
  cancel(batch: DashboardBatch): Promise<void>;
  retry(batch: DashboardBatch): Promise<void>;
  /** `DELETE /v1/batches/{id}` on behalf of the batch's tenant. */
  delete(batch: DashboardBatch): Promise<void>;
}

/**
 * The actions through the same core operations as `POST /v1/batches/{id}/cancel` and `/retry`, on
 * behalf of the batch's tenant (the operator acts across tenants).
 */
export function coreBatchActions(deps: BatchDeps): BatchActions {
  return {
    async cancel(batch) {
      await cancelBatch(deps, batch.tenant.id, batch.id);
    },
    async retry(batch) {
      await retryBatch(deps, batch.tenant.id, batch.id);
    },
    async delete(batch) {
      await deleteBatch(deps, batch.tenant.id, batch.id);
    },
  };
}
