import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signing and verification (https://www.standardwebhooks.com/). Pure functions
 * with no I/O, shared by the server's webhook sender (which imports them from @docbatch/sdk) and SDK users
 * (`verifyWebhook` in a receiver).
 *
 * A secret is `whsec_` followed by base64 key bytes. The signed content is
 * `"{webhook-id}.{webhook-timestamp}.{body}"`, the signature is
 * `v1,<base64 HMAC-SHA256(key, content)>`; the `webhook-signature` header carries one or more
 * signatures separated by spaces (several while a rotated secret is in its grace period).
 */

export const SECRET_PREFIX = 'whsec_';
/** Bytes of key material in a generated secret. */
const SECRET_BYTES = 32;

/** A new random `whsec_` secret (32 random bytes, base64). */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The HMAC key of a secret: the base64-decoded part after `whsec_` (a bare base64 key is accepted too). */
export function secretKey(secret: string): Buffer {
  const b64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = Buffer.from(b64, 'base64');
  if (key.length === 0) throw new WebhookVerificationError('webhook secret is empty or not base64');
  return key;
}

/** One `v1,<base64>` signature of `body` for message `id` at unix-seconds `timestamp`. */
export function sign(secret: string, id: string, timestamp: number | string, body: string | Buffer): string {
  const mac = createHmac('sha256', secretKey(secret));
  mac.update(`${id}.${timestamp}.`);
  mac.update(body);
  return `v1,${mac.digest('base64')}`;
}

/** The three Standard Webhooks headers. */
export type WebhookHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/**
 * Headers for one delivery attempt, signed with every secret in `secrets` (the current one first,
 * then a rotated-out one still in its grace period), space-separated.
 */
export function signWebhook(
  secrets: readonly string[],
  id: string,
  body: string | Buffer,
  timestamp: number = Math.floor(Date.now() / 1000),
): WebhookHeaders {
  if (secrets.length === 0) throw new Error('no webhook secret to sign with');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => sign(s, id, timestamp, body)).join(' '),
  };
}

/** Thrown by `verifyWebhook` when a message must be rejected; `message` says why. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

export interface VerifyOptions {
  /** Accepted distance between `webhook-timestamp` and now, seconds (replay protection). Default 300. */
  toleranceSec?: number;
  /** The current time, unix seconds. Default: `Date.now() / 1000`. */
  now?: number;
}

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  let v = bag[name];
  if (v === undefined) {
    const key = Object.keys(bag).find((k) => k.toLowerCase() === name);
    v = key === undefined ? undefined : bag[key];
  }
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Verifies a received webhook: `headers` (a Node `IncomingHttpHeaders`, a plain object or a
 * fetch `Headers`) must carry `webhook-id`, a `webhook-timestamp` within `toleranceSec` of now and
 * a `webhook-signature` with at least one `v1` signature that matches `body` (the raw request
 * bytes, not re-serialized JSON) under `secret`. Several space-separated signatures are accepted
 * (any may match). Returns the parsed JSON payload; throws `WebhookVerificationError` otherwise.
 */
export function verifyWebhook<T = unknown>(
  secret: string,
  headers: HeaderBag,
  body: string | Buffer,
  opts: VerifyOptions = {},
): T {
  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const sigHeader = header(headers, 'webhook-signature');
  if (!id || !ts || !sigHeader) throw new WebhookVerificationError('missing webhook headers');
  if (!/^\d{1,12}$/.test(ts)) throw new WebhookVerificationError('invalid webhook-timestamp');
  const timestamp = Number(ts);
  const now = opts.now ?? Date.now() / 1000;
  const tolerance = opts.toleranceSec ?? 300;
  if (Math.abs(now - timestamp) > tolerance)
    throw new WebhookVerificationError('webhook-timestamp is outside the tolerance');

  const expected = Buffer.from(sign(secret, id, ts, body).slice(3), 'base64');
  const matched = sigHeader.split(' ').some((part) => {
    const comma = part.indexOf(',');
    if (comma < 0 || part.slice(0, comma) !== 'v1') return false;
    const got = Buffer.from(part.slice(comma + 1), 'base64');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
  if (!matched) throw new WebhookVerificationError('no matching signature');
  const text = typeof body === 'string' ? body : body.toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new WebhookVerificationError('body is not JSON');
  }
}
