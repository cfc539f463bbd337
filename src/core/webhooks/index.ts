/**
 * Webhooks: SSRF policy, Standard Webhooks signing, secret rotation, the delivery outbox and the
 * sender. The relay and the BullMQ worker that drive the sender live in src/workers/webhook-*.ts.
 */
export {
  assertWebhookUrlAllowed,
  resolveWebhookTarget,
  parseWebhookUrl,
  WebhookAllowlist,
} from './url-policy';
export type { HostResolver, LookupAddress, UrlPolicyOptions, WebhookTarget } from './url-policy';
export { generateWebhookSecret, signWebhook, verifyWebhook, WebhookVerificationError } from '@docbatch/sdk';
export type { VerifyWebhookOptions as VerifyOptions, WebhookHeaders } from '@docbatch/sdk';
export { rotateWebhookSecret, signingSecrets } from './secrets';
export type { RotatedSecret } from './secrets';
export { getDelivery, listDeliveries, redeliver } from './delivery-store';
export type { AttemptRow, DeliveryRow, DeliveryWithAttempts } from './delivery-store';
export { WebhookSender } from './webhook-sender';
export type { AttemptReport, WebhookSenderOptions } from './webhook-sender';
