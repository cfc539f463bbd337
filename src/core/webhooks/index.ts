export {
  assertWebhookUrlAllowed,
  resolveWebhookTarget,
  parseWebhookUrl,
  WebhookAllowlist,
} from './url-policy';
export type { HostResolver, LookupAddress, UrlPolicyOptions, WebhookTarget } from './url-policy';
