import { html } from './html';
import type { SafeHtml } from './html';

/** Base path of the dashboard (the router is mounted there by src/api/app.ts). */
export const ADMIN_BASE = '/admin';

/**
 * Content-Security-Policy of the dashboard's own pages: scripts and styles only from this server
 * (no inline script, no CDN), no framing. A page that somehow carried injected markup still could
 * not run it.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

export interface LayoutOptions {
  title: string;
  /** Which navigation entry is current. */
  nav?: 'batches' | 'errors' | 'tenants' | 'training' | 'queues';
  /** CSRF token for the logout form; omit on the login page. */
  csrf?: string;
  /** Logged in with a bearer token (no logout form). */
  bearer?: boolean;
  /** Reload the page every this many seconds (pages the client script does not poll). */
  refreshSeconds?: number;
  /** `data-page` of <body>: tells the client script what to poll. */
  page: string;
  body: SafeHtml;
}

export function layout(o: LayoutOptions): string {
  const loggedIn = o.csrf !== undefined || o.bearer;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        ${o.refreshSeconds ? html`<meta http-equiv="refresh" content="${String(o.refreshSeconds)}" />` : ''}
        <title>${o.title} · docbatch ops</title>
        <link rel="stylesheet" href="${ADMIN_BASE}/static/dashboard.css" />
        <script src="${ADMIN_BASE}/static/dashboard.js" defer></script>
      </head>
      <body data-page="${o.page}">
        <header class="top">
          <a class="brand" href="${ADMIN_BASE}">docbatch <span>ops</span></a>
          ${
            loggedIn
              ? html`<nav>
                    <a href="${ADMIN_BASE}" ${o.nav === 'batches' ? html` aria-current="page"` : ''}
                      >Batches</a
                    >
                    <a href="${ADMIN_BASE}/errors" ${o.nav === 'errors' ? html` aria-current="page"` : ''}
                      >Errors</a
                    >
                    <a href="${ADMIN_BASE}/tenants" ${o.nav === 'tenants' ? html` aria-current="page"` : ''}
                      >Tenants</a
                    >
                    <a href="${ADMIN_BASE}/training" ${o.nav === 'training' ? html` aria-current="page"` : ''}
                      >Training</a
                    >
                    <a href="${ADMIN_BASE}/queues" ${o.nav === 'queues' ? html` aria-current="page"` : ''}
                      >Queues</a
                    >
                  </nav>
                  ${
                    o.csrf
                      ? html`<form class="logout" method="post" action="${ADMIN_BASE}/logout">
                          <input type="hidden" name="_csrf" value="${o.csrf}" />
                          <button type="submit" class="link">Log out</button>
                        </form>`
                      : ''
                  }`
              : ''
          }
        </header>
        <main>${o.body}</main>
      </body>
    </html> `.value;
}
