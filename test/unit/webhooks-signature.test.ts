import { createHmac } from 'node:crypto';
import {
  generateWebhookSecret,
  sign,
  signWebhook,
  verifyWebhook,
  WebhookVerificationError,
} from '../../packages/sdk/src/webhook-signature';
import { signingSecrets } from '../../src/core/webhooks/secrets';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe('Standard Webhooks signature', () => {
  it('matches the Standard Webhooks reference vector', () => {
    // From the standard-webhooks reference libraries' test suite.
    const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
    const ts = 1614265330;
    const body = '{"test": 2432232314}';
    expect(sign(SECRET, id, ts, body)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('is HMAC-SHA256 over "id.timestamp.body" keyed with the base64-decoded secret', () => {
    const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    const mac = createHmac('sha256', key).update('whd_1.1700000000.{"a":1}').digest('base64');
    expect(sign(SECRET, 'whd_1', 1700000000, '{"a":1}')).toBe(`v1,${mac}`);
  });

  it('verifies its own headers and returns the payload', () => {
    const body = JSON.stringify({ type: 'batch.completed', data: { id: 'bat_1' } });
    const headers = signWebhook([SECRET], 'whd_1', body);
    expect(verifyWebhook(SECRET, headers, body)).toEqual({ type: 'batch.completed', data: { id: 'bat_1' } });
    // Node IncomingHttpHeaders-like (lower-case) and fetch Headers both work.
    expect(verifyWebhook(SECRET, new Headers({ ...headers }), Buffer.from(body))).toBeTruthy();
    expect(
      verifyWebhook(
        SECRET,
        {
          'Webhook-Id': headers['webhook-id'],
          'Webhook-Timestamp': headers['webhook-timestamp'],
          'Webhook-Signature': headers['webhook-signature'],
        },
        body,
      ),
    ).toBeTruthy();
  });

  it('accepts any of several space-separated signatures (secret rotation)', () => {
    const oldSecret = generateWebhookSecret();
    const newSecret = generateWebhookSecret();
    const body = '{"x":1}';
    const headers = signWebhook([newSecret, oldSecret], 'whd_2', body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(verifyWebhook(oldSecret, headers, body)).toEqual({ x: 1 });
    expect(verifyWebhook(newSecret, headers, body)).toEqual({ x: 1 });
    expect(() => verifyWebhook(generateWebhookSecret(), headers, body)).toThrow('no matching signature');
    // Unknown versions are ignored, not errors.
    const mixed = { ...headers, 'webhook-signature': `v2,abc ${headers['webhook-signature']}` };
    expect(verifyWebhook(oldSecret, mixed, body)).toEqual({ x: 1 });
  });

  it.each([
    ['a tampered body', (h: Record<string, string>) => h, '{"x":2}'],
    ['another id', (h: Record<string, string>) => ({ ...h, 'webhook-id': 'whd_other' }), '{"x":1}'],
    [
      'a shifted timestamp',
      (h: Record<string, string>) => ({
        ...h,
        'webhook-timestamp': String(Number(h['webhook-timestamp']) + 1),
      }),
      '{"x":1}',
    ],
    ['no signature header', (h: Record<string, string>) => ({ ...h, 'webhook-signature': '' }), '{"x":1}'],
    [
      'a truncated signature',
      (h: Record<string, string>) => ({
        ...h,
        'webhook-signature': (h['webhook-signature'] as string).slice(0, 20),
      }),
      '{"x":1}',
    ],
  ])('rejects %s', (_what, mutate, body) => {
    const headers = signWebhook([SECRET], 'whd_3', '{"x":1}') as unknown as Record<string, string>;
    expect(() => verifyWebhook(SECRET, mutate(headers), body)).toThrow(WebhookVerificationError);
  });

  it('rejects timestamps outside the tolerance (replays), both ways', () => {
    const now = 1_800_000_000;
    const old = signWebhook([SECRET], 'whd_4', '{}', now - 301);
    expect(() => verifyWebhook(SECRET, old, '{}', { now })).toThrow('tolerance');
    const future = signWebhook([SECRET], 'whd_4', '{}', now + 301);
    expect(() => verifyWebhook(SECRET, future, '{}', { now })).toThrow('tolerance');
    expect(verifyWebhook(SECRET, old, '{}', { now, toleranceSec: 600 })).toEqual({});
    const bad = { ...old, 'webhook-timestamp': '17e8' };
    expect(() => verifyWebhook(SECRET, bad, '{}', { now })).toThrow('invalid webhook-timestamp');
  });

  it('generates whsec_ secrets of 32 random bytes', () => {
    const a = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(a);
  });

  it('signs with the previous secret only until its grace period ends', () => {
    const now = new Date('2026-11-23T12:00:00Z');
    const base = { webhook_secret: 'whsec_bmV3', previous_webhook_secret: 'whsec_b2xk' };
    expect(
      signingSecrets({ ...base, previous_secret_expires_at: new Date(now.getTime() + 1000) }, now),
    ).toEqual(['whsec_bmV3', 'whsec_b2xk']);
    expect(signingSecrets({ ...base, previous_secret_expires_at: new Date(now.getTime() - 1) }, now)).toEqual(
      ['whsec_bmV3'],
    );
    expect(
      signingSecrets({ ...base, previous_webhook_secret: null, previous_secret_expires_at: null }, now),
    ).toEqual(['whsec_bmV3']);
  });
});
