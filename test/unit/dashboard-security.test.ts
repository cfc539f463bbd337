import { LoginThrottle, safeNext } from '../../src/api/admin/admin-auth';
import { launchBrowser } from '../e2e/browser';
import { AdminSessions, SESSION_TTL_SECONDS } from '../../src/api/admin/admin-session';
import { stripExternalFonts } from '../../src/api/admin/queues-board';
import { progressBar } from '../../src/api/admin/views/components';
import { escapeHtml, html, raw } from '../../src/api/admin/views/html';

const TOKEN = 'unit-test-admin-token-123';

describe('AdminSessions', () => {
  it('issues cookies that verify until they expire', () => {
    let now = 1_700_000_000_000;
    const s = new AdminSessions(TOKEN, SESSION_TTL_SECONDS, () => now);
    const { cookie, session } = s.issue();
    expect(s.verify(cookie)).toEqual(session);
    now += (SESSION_TTL_SECONDS - 1) * 1000;
    expect(s.verify(cookie)).not.toBeNull();
    now += 1000;
    expect(s.verify(cookie)).toBeNull();
  });

  it('refuses tampered, malformed and foreign cookies', () => {
    const s = new AdminSessions(TOKEN);
    const { cookie } = s.issue();
    const [v, exp, nonce, sig] = cookie.split('.') as [string, string, string, string];
    expect(s.verify(`${v}.${Number(exp) + 3600}.${nonce}.${sig}`)).toBeNull(); // extended expiry
    expect(s.verify(`${v}.${exp}.${nonce}x.${sig}`)).toBeNull();
    expect(s.verify(`${v}.${exp}.${nonce}.${sig.slice(1)}`)).toBeNull();
    expect(s.verify(`v2.${exp}.${nonce}.${sig}`)).toBeNull();
    expect(s.verify(undefined)).toBeNull();
    expect(s.verify('')).toBeNull();
    expect(s.verify('a'.repeat(500))).toBeNull();
    // Rotating ADMIN_TOKEN logs every session out.
    expect(new AdminSessions(`${TOKEN}-rotated`).verify(cookie)).toBeNull();
  });

  it('ties CSRF tokens to one session', () => {
    const s = new AdminSessions(TOKEN);
    const a = s.issue().session;
    const b = s.issue().session;
    expect(s.checkCsrf(a, s.csrfToken(a))).toBe(true);
    expect(s.checkCsrf(a, s.csrfToken(b))).toBe(false);
    expect(s.checkCsrf(a, undefined)).toBe(false);
    expect(s.checkCsrf(a, ['x'])).toBe(false);
  });

  it('checks the admin token exactly', () => {
    const s = new AdminSessions(TOKEN);
    expect(s.checkToken(TOKEN)).toBe(true);
    expect(s.checkToken(`${TOKEN} `)).toBe(false);
    expect(s.checkToken(TOKEN.slice(0, -1))).toBe(false);
    expect(s.checkToken('')).toBe(false);
  });
});

describe('LoginThrottle', () => {
  it('blocks an address after repeated failures until the window passes', () => {
    let now = 0;
    const t = new LoginThrottle(3, 60_000, () => now);
    for (let i = 0; i < 3; i++) {
      expect(t.retryAfter('a')).toBe(0);
      t.fail('a');
    }
    expect(t.retryAfter('a')).toBe(60);
    expect(t.retryAfter('b')).toBe(0);
    now = 59_500;
    expect(t.retryAfter('a')).toBe(1);
    now = 60_000;
    expect(t.retryAfter('a')).toBe(0);
    t.fail('a');
    t.succeed('a');
    expect(t.retryAfter('a')).toBe(0);
  });
});

describe('safeNext', () => {
  it.each([
    ['/admin', '/admin'],
    ['/admin/batches/bat_1?notice=cancelled', '/admin/batches/bat_1?notice=cancelled'],
    ['/admin?status=running&q=x', '/admin?status=running&q=x'],
    ['/administrator', '/admin'],
    ['//evil.example', '/admin'],
    ['/admin//evil.example', '/admin'],
    ['https://evil.example/admin', '/admin'],
    ['/admin/\\evil', '/admin'],
    ['/admin/"><script>', '/admin'],
    [undefined, '/admin'],
  ])('%s -> %s', (input, expected) => {
    expect(safeNext(input)).toBe(expected);
  });
});

describe('html escaping', () => {
  it('escapes every interpolation unless it is SafeHtml', () => {
    const evil = `<img src=x onerror="alert('1')">&\``;
    expect(escapeHtml(evil)).toBe('&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;&#96;');
    const out = html`<p title="${evil}">${evil}${[evil, raw('<b>ok</b>')]}${null}${false}${0}</p>`.value;
    expect(out).not.toContain('<img');
    expect(out).toContain('<b>ok</b>');
    expect(out.endsWith('0</p>')).toBe(true);
  });

  it('draws progress segments in order and never past 100', () => {
    const bar = progressBar({
      total: 10,
      queued: 2,
      running: 1,
      completed: 5,
      failed: 1,
      cancelled: 1,
      expired: 0,
    }).value;
    const rect = (seg: string) => {
      const m = new RegExp(
        `data-seg="${seg}"\\s+x="([0-9.]+)"\\s+y="0"\\s+height="10"\\s+width="([0-9.]+)"`,
      ).exec(bar);
      return m ? [Number(m[1]), Number(m[2])] : null;
    };
    expect(rect('completed')).toEqual([0, 50]);
    expect(rect('failed')).toEqual([50, 10]);
    expect(rect('ended')).toEqual([60, 10]);
    expect(rect('running')).toEqual([70, 10]);
    expect(bar).toContain('data-completed="5"');
    expect(
      progressBar({ total: 0, queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0, expired: 0 })
        .value,
    ).toContain('width="0.000"');
  });
});

describe('bull-board page', () => {
  it('loses its external font links (air-gapped sites)', () => {
    const page =
      '<head><link href="https://fonts.googleapis.com/css2?family=IBM+Plex+Sans" rel="stylesheet">\n<link href="static/css/main.css" rel="stylesheet"></head>';
    expect(stripExternalFonts(page)).toBe(
      '<head>\n<link href="static/css/main.css" rel="stylesheet"></head>',
    );
  });
});

describe('the browser test without Chromium', () => {
  it('fails with a message that says how to install it (it is never skipped)', async () => {
    await expect(launchBrowser('/nonexistent/chromium')).rejects.toThrow(
      /Chromium is not installed at \/nonexistent\/chromium.*bash scripts\/ensure-chromium\.sh/,
    );
  });
});
