import { Counter, Histogram } from 'prom-client';
import { registry } from '../metrics';

/** Webhook deliveries that reached an end state, by outcome (`succeeded` or `failed`). */
export const webhookDeliveriesTotal = new Counter({
  name: 'docbatch_webhook_deliveries_total',
  help: 'Webhook deliveries that reached an end state, by outcome (succeeded, failed)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/**
 * Webhook attempts by result: success, http_error, redirect, timeout, network_error, refused
 * (SSRF policy at connect time), interrupted (the worker stopped during the attempt).
 */
export const webhookAttemptsTotal = new Counter({
  name: 'docbatch_webhook_attempts_total',
  help: 'Webhook delivery attempts by result',
  labelNames: ['result'] as const,
  registers: [registry],
});

/** Latency of one webhook attempt (to the response headers or the failure), seconds. */
export const webhookAttemptDuration = new Histogram({
  name: 'docbatch_webhook_attempt_duration_seconds',
  help: 'Webhook attempt latency (to response headers or failure), seconds, by result',
  labelNames: ['result'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
  registers: [registry],
});
