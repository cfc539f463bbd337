import { Counter } from 'prom-client';
import { registry } from '../metrics';
import type { ProcessedUsage } from './usage-record';

/**
 * Per-tenant Prometheus counters. A `tenant` label multiplies series by the number of tenants, so
 * each process gives its own label value to at most `METRICS_TENANT_LIMIT` tenants (default 100; 0:
 * none), in the order it first sees them, and counts every further tenant under
 * `tenant="_other"`: the series stay bounded (tenants x tasks x outcomes) however many tenants
 * there are. Exact per-tenant figures are in `usage_daily` (`GET /v1/usage`, `/admin/api/usage`).
 */

/** The label value of tenants beyond the limit. */
export const OTHER_TENANTS = '_other';

let limit = 100;
const labelled = new Set<string>();

/** Sets `METRICS_TENANT_LIMIT` (called once at process start). */
export function setMetricsTenantLimit(n: number): void {
  limit = n;
}

/** The `tenant` label value of `name` in this process. */
export function tenantLabel(name: string): string {
  if (labelled.has(name)) return name;
  if (labelled.size < limit) {
    labelled.add(name);
    return name;
  }
  return OTHER_TENANTS;
}

export const tenantBatchesCreated = new Counter({
  name: 'docbatch_tenant_batches_created_total',
  help: `Batches created, by tenant (at most METRICS_TENANT_LIMIT tenants per process, the rest as ${OTHER_TENANTS}) and task`,
  labelNames: ['tenant', 'task'] as const,
  registers: [registry],
});

export const tenantDocumentsProcessed = new Counter({
  name: 'docbatch_tenant_documents_processed_total',
  help: `Documents the model processed, by tenant (at most METRICS_TENANT_LIMIT per process, the rest as ${OTHER_TENANTS}), task and outcome`,
  labelNames: ['tenant', 'task', 'outcome'] as const,
  registers: [registry],
});

export const tenantInputTokens = new Counter({
  name: 'docbatch_tenant_input_tokens_total',
  help: `Input tokens of processed documents, by tenant (at most METRICS_TENANT_LIMIT per process, the rest as ${OTHER_TENANTS}) and task`,
  labelNames: ['tenant', 'task'] as const,
  registers: [registry],
});

/** Counts a committed write-back's usage in the per-tenant counters. */
export function countTenantUsage(usage: readonly ProcessedUsage[]): void {
  for (const u of usage) {
    const tenant = tenantLabel(u.tenantName);
    if (u.completed > 0)
      tenantDocumentsProcessed.inc({ tenant, task: u.task, outcome: 'completed' }, u.completed);
    if (u.failed > 0) tenantDocumentsProcessed.inc({ tenant, task: u.task, outcome: 'failed' }, u.failed);
    if (u.tokens > 0) tenantInputTokens.inc({ tenant, task: u.task }, u.tokens);
  }
}
