export {
  authenticate,
  createKey,
  createTenantWithKey,
  generateApiKey,
  generateWebhookSecret,
  hashApiKey,
  listKeys,
  revokeKey,
} from './api-keys';
export type { AuthenticatedTenant, CreatedKey, CreatedTenantKey } from './api-keys';
export { SubmissionLimiter } from './submission-limits';
