/**
 * Usage per tenant: `usage_daily` rows (tenant, UTC day, task, model) written in the transactions
 * that create batches and store results, read by `GET /v1/usage` and the admin API, and counters
 * with a bounded `tenant` label on /metrics.
 */
export {
  OTHER_TENANTS,
  countTenantUsage,
  setMetricsTenantLimit,
  tenantBatchesCreated,
  tenantLabel,
} from './usage-metrics';
export { MAX_USAGE_BUCKETS, MAX_USAGE_DAYS, USAGE_GROUPS, getUsage, parseUsageQuery } from './usage-queries';
export type { UsageBucket, UsageCounters, UsageGroup, UsageQuery, UsageReport } from './usage-queries';
export { codePoints, recordProcessedUsage, submissionUsageSql } from './usage-record';
export type { ProcessedUsage } from './usage-record';
