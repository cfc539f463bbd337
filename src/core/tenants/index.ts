export {
  authenticate,
  createTenantWithKey,
  generateApiKey,
  generateWebhookSecret,
  hashApiKey,
  LAST_USED_RESOLUTION_MS,
  revokeKey,
} from './api-keys';
export type { AuthenticatedTenant, CreatedTenantKey } from './api-keys';
export {
  assertGraceSeconds,
  assertTenantName,
  createTenant,
  createTenantKey,
  DEFAULT_GRACE_SECONDS,
  getTenant,
  getWebhookSecret,
  listTenantKeys,
  listTenants,
  MAX_GRACE_SECONDS,
  resolveTenant,
  revokeApiKey,
  rotateTenantWebhookSecret,
} from './tenant-admin';
export type {
  ApiKeyObject,
  CreatedApiKey,
  CreatedTenant,
  RevokedKey,
  TenantObject,
  TenantPage,
  WebhookSecretObject,
} from './tenant-admin';
export { SubmissionLimiter } from './submission-limits';
