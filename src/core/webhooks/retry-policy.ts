import type { NextState } from './delivery-store';

/**
 * When a webhook attempt is retried. 2xx is success; `410 Gone` and a connect-time SSRF refusal
 * stop at once; anything else (3xx: redirects are not followed, 4xx, 429, 5xx, timeouts,
 * connection and DNS errors) is retried after `schedule[n - 1]` seconds, where n is the number of
 * attempts made in the current series, or the `Retry-After` the receiver asked for when that is
 * longer (capped at `retryAfterMaxSec`). A series makes at most `schedule.length + 1` attempts.
 */

export type AttemptKind = 'success' | 'http_error' | 'redirect' | 'timeout' | 'network_error' | 'refused';

export interface AttemptOutcome {
  kind: AttemptKind;
  statusCode: number | null;
  retryAfterSec: number | null;
}

export interface RetryPolicy {
  /** Delays between attempts, seconds (config `WEBHOOK_RETRY_SCHEDULE`). */
  schedule: readonly number[];
  /** Longest `Retry-After` honoured, seconds (config `WEBHOOK_RETRY_AFTER_MAX_S`). */
  retryAfterMaxSec: number;
}

/** Attempts one series makes at most: the first one plus one per schedule entry. */
export function maxAttemptsPerSeries(schedule: readonly number[]): number {
  return schedule.length + 1;
}

/** The delivery's next state after attempt number `attemptInSeries` (1-based) ended with `outcome`. */
export function nextState(outcome: AttemptOutcome, attemptInSeries: number, policy: RetryPolicy): NextState {
  if (outcome.kind === 'success') return { status: 'succeeded' };
  if (outcome.statusCode === 410 || outcome.kind === 'refused') return { status: 'failed' };
  const delaySec = policy.schedule[attemptInSeries - 1];
  if (delaySec === undefined) return { status: 'failed' };
  const asked = Math.min(outcome.retryAfterSec ?? 0, policy.retryAfterMaxSec);
  return { status: 'pending', delayMs: Math.round(Math.max(delaySec, asked) * 1000) };
}
