import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { WebhookTarget } from './url-policy';

/**
 * One HTTP POST of a webhook to a checked target. The connection goes to the pinned address
 * (`target.address`) whatever DNS says by then: the request's `lookup` returns that address, so a
 * rebinding answer between the policy check and the connect cannot switch it. The host name still
 * goes in `Host` and TLS SNI/certificate checks. Redirects are never followed.
 */

export interface HttpAttemptResult {
  /** HTTP status, or null when no response arrived (timeout, connection error). */
  statusCode: number | null;
  /** `Retry-After` of the response, seconds (null when absent or unparseable). */
  retryAfterSec: number | null;
  /** Time to the response headers (or to the failure), ms. */
  latencyMs: number;
  /** Short error text for the delivery log (never a stack); null on a 2xx. */
  error: string | null;
  /** Kind of outcome, for metrics and the retry decision. */
  kind: 'success' | 'http_error' | 'redirect' | 'timeout' | 'network_error';
}

/** Bytes of a response body read before the connection is closed (the body is discarded). */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** Parses `Retry-After` (delta-seconds or an HTTP date) into seconds from `now`. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  // An HTTP date names the day and month ("Wed, 21 Oct 2015 07:28:00 GMT").
  if (!/^[A-Za-z]{3},? /.test(v)) return null;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * A `lookup` that answers with the checked addresses only (never asks DNS again). With
 * `all: true` (Node's happy-eyeballs connect) it returns every checked address, else the first.
 */
function pinnedLookup(target: WebhookTarget): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all)
      callback(
        null,
        target.addresses.map((a) => ({ address: a.address, family: a.family })),
      );
    else callback(null, target.address, target.family);
  }) as unknown as LookupFunction;
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'connection timed out',
  EPROTO: 'TLS protocol error',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate chain is self-signed',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate cannot be verified',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host name',
  HPE_INVALID_CONSTANT: 'invalid HTTP response',
};

function describeNetworkError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return `${NETWORK_ERRORS[code] ?? 'connection error'} (${code})`;
  return 'connection error';
}

export interface PostOptions {
  /** Whole-request deadline (connect, send, response headers), ms. */
  timeoutMs: number;
  /** Extra TLS options (tests pass a CA). Default: none. */
  tls?: https.RequestOptions;
}

/** POSTs `body` with `headers` to `target`; never throws. */
export function postWebhook(
  target: WebhookTarget,
  headers: Record<string, string>,
  body: string,
  opts: PostOptions,
): Promise<HttpAttemptResult> {
  const started = process.hrtime.bigint();
  const elapsed = () => Number((process.hrtime.bigint() - started) / 1_000_000n);
  const { url } = target;
  const isHttps = url.protocol === 'https:';
  const payload = Buffer.from(body, 'utf8');
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: Omit<HttpAttemptResult, 'latencyMs'>): void => {
      if (settled) return;
      settled = true;
      resolve({ ...r, latencyMs: elapsed() });
    };
    const request = (isHttps ? https.request : http.request)({
      ...(isHttps ? opts.tls : {}),
      protocol: url.protocol,
      hostname: target.hostname,
      port: url.port || (isHttps ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      agent: false,
      lookup: pinnedLookup(target),
      headers: {
        ...headers,
        'content-type': 'application/json',
        'content-length': String(payload.length),
        'user-agent': 'docbatch-webhooks/1',
        ...(url.username ? { authorization: basicAuth(url) } : {}),
      },
    });
    const timer = setTimeout(() => {
      finish({
        statusCode: null,
        retryAfterSec: null,
        error: `timed out after ${opts.timeoutMs} ms`,
        kind: 'timeout',
      });
      request.destroy();
    }, opts.timeoutMs);
    request.on('error', (err) => {
      clearTimeout(timer);
      finish({
        statusCode: null,
        retryAfterSec: null,
        error: describeNetworkError(err),
        kind: 'network_error',
      });
    });
    request.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const retryAfterSec = parseRetryAfter(
        Array.isArray(res.headers['retry-after'])
          ? res.headers['retry-after'][0]
          : res.headers['retry-after'],
      );
      if (status >= 200 && status < 300)
        finish({ statusCode: status, retryAfterSec, error: null, kind: 'success' });
      else if (status >= 300 && status < 400)
        finish({
          statusCode: status,
          retryAfterSec,
          error: `redirect (${status}) not followed`,
          kind: 'redirect',
        });
      else finish({ statusCode: status, retryAfterSec, error: `HTTP ${status}`, kind: 'http_error' });
      // Drain (and cap) the body so the connection closes cleanly; its content is not used.
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) res.destroy();
      });
      res.on('error', () => undefined);
      res.on('close', () => clearTimeout(timer));
    });
    request.end(payload);
  });
}

function basicAuth(url: URL): string {
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}
