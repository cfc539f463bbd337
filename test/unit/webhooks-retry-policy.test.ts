import { parseRetryAfter } from '../../src/core/webhooks/http-sender';
import { maxAttemptsPerSeries, nextState } from '../../src/core/webhooks/retry-policy';
import type { AttemptOutcome } from '../../src/core/webhooks/retry-policy';

const policy = { schedule: [5, 300, 1800, 7200, 18000, 36000, 36000], retryAfterMaxSec: 3600 };
const fail = (statusCode: number | null, retryAfterSec: number | null = null): AttemptOutcome => ({
  kind: statusCode === null ? 'timeout' : 'http_error',
  statusCode,
  retryAfterSec,
});

describe('webhook retry policy', () => {
  it('follows the contract schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then failed', () => {
    expect(maxAttemptsPerSeries(policy.schedule)).toBe(8);
    const delays = [1, 2, 3, 4, 5, 6, 7].map((n) => nextState(fail(500), n, policy));
    expect(delays).toEqual(policy.schedule.map((s) => ({ status: 'pending', delayMs: s * 1000 })));
    expect(nextState(fail(500), 8, policy)).toEqual({ status: 'failed' });
  });

  it('succeeds on 2xx, stops on 410 and on an SSRF refusal', () => {
    expect(nextState({ kind: 'success', statusCode: 204, retryAfterSec: null }, 1, policy)).toEqual({
      status: 'succeeded',
    });
    expect(nextState(fail(410), 1, policy)).toEqual({ status: 'failed' });
    expect(nextState({ kind: 'refused', statusCode: null, retryAfterSec: null }, 1, policy)).toEqual({
      status: 'failed',
    });
  });

  it.each([
    ['a timeout', fail(null)],
    ['429', fail(429)],
    ['500', fail(500)],
    ['a redirect', { kind: 'redirect', statusCode: 301, retryAfterSec: null } as AttemptOutcome],
    ['a 404', fail(404)],
    [
      'a connection error',
      { kind: 'network_error', statusCode: null, retryAfterSec: null } as AttemptOutcome,
    ],
  ])('retries %s', (_what, outcome) => {
    expect(nextState(outcome, 1, policy)).toEqual({ status: 'pending', delayMs: 5000 });
  });

  it('honours a longer Retry-After, capped; a shorter one does not hurry the schedule', () => {
    expect(nextState(fail(429, 120), 1, policy)).toEqual({ status: 'pending', delayMs: 120_000 });
    expect(nextState(fail(503, 86_400), 1, policy)).toEqual({ status: 'pending', delayMs: 3_600_000 });
    expect(nextState(fail(503, 1), 2, policy)).toEqual({ status: 'pending', delayMs: 300_000 });
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-11-23T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter('Mon, 23 Nov 2026 12:01:00 GMT', now)).toBe(60);
    expect(parseRetryAfter('Mon, 23 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
  });
});
