import type { ErrorOverview } from '../dashboard-queries';
import { ERROR_VIEW_BATCHES, ERROR_VIEW_DOCS_PER_BATCH } from '../dashboard-queries';
import { statusBadge } from './components';
import { formatCount, formatTime } from './format';
import { html } from './html';
import { ADMIN_BASE, layout } from './layout';

const batchLink = (id: string) =>
  html`<a href="${ADMIN_BASE}/batches/${encodeURIComponent(id)}"><code>${id}</code></a>`;

/** Errors across batches: top codes, batches with failures, recent failed documents. */
export function errorsView(o: {
  overview: ErrorOverview;
  code?: string;
  csrf?: string;
  bearer?: boolean;
}): string {
  const { overview: e, code } = o;
  return layout({
    title: 'Errors',
    nav: 'errors',
    page: 'errors',
    csrf: o.csrf,
    bearer: o.bearer,
    body: html`<section class="card" aria-labelledby="codes-title">
        <h1 id="codes-title">Errors across batches</h1>
        <p class="muted small">
          From the ${ERROR_VIEW_BATCHES} newest batches with failed documents or a batch error, counting the
          first ${formatCount(ERROR_VIEW_DOCS_PER_BATCH)} failed documents of each (in input order). Every
          failure of a batch: <code>GET /v1/batches/{id}/results?status=failed</code>.
        </p>
        <h2>Top error codes</h2>
        <table class="grid" data-table="error-codes">
          <thead>
            <tr>
              <th>Code</th>
              <th>Failed documents</th>
              <th>Batches</th>
              <th>Last seen</th>
              <th>Newest batch</th>
            </tr>
          </thead>
          <tbody>
            ${
              e.codes.length === 0
                ? html`<tr class="empty">
                    <td colspan="5">No failed documents.</td>
                  </tr>`
                : e.codes.map(
                    (c) =>
                      html`<tr data-code="${c.code}">
                        <td>
                          <a href="${ADMIN_BASE}/errors?code=${encodeURIComponent(c.code)}#failures"
                            ><code>${c.code || '(none)'}</code></a
                          >
                        </td>
                        <td>${formatCount(c.documents)}</td>
                        <td>${formatCount(c.batches)}</td>
                        <td class="small">${formatTime(c.last_at)}</td>
                        <td>${batchLink(c.latest_batch)}</td>
                      </tr>`,
                  )
            }
          </tbody>
        </table>
      </section>
      <section class="card" aria-labelledby="failed-batches-title">
        <h2 id="failed-batches-title">Batches with failures</h2>
        <table class="grid" data-table="failed-batches">
          <thead>
            <tr>
              <th>Batch</th>
              <th>Tenant</th>
              <th>Task</th>
              <th>Status</th>
              <th>Failed</th>
              <th>Batch error</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            ${
              e.batches.length === 0
                ? html`<tr class="empty">
                    <td colspan="7">No batch has failed documents.</td>
                  </tr>`
                : e.batches.map(
                    (b) =>
                      html`<tr data-batch-id="${b.id}">
                        <td>${batchLink(b.id)}</td>
                        <td>${b.tenant.name}</td>
                        <td>${b.task}</td>
                        <td>${statusBadge(b.status)}</td>
                        <td>
                          ${formatCount(b.failed)} <span class="muted">of ${formatCount(b.total)}</span>
                        </td>
                        <td class="wrap">
                          ${b.error ? html`<code>${b.error.code}</code> ${b.error.message}` : '—'}
                        </td>
                        <td class="small">${formatTime(b.created_at)}</td>
                      </tr>`,
                  )
            }
          </tbody>
        </table>
      </section>
      <section class="card" id="failures" aria-labelledby="failures-title">
        <h2 id="failures-title">
          Recent failed documents${code !== undefined ? html` with code <code>${code}</code>` : ''}
        </h2>
        ${code !== undefined ? html`<p class="small"><a href="${ADMIN_BASE}/errors">All codes</a></p>` : ''}
        <table class="grid" data-table="failures">
          <thead>
            <tr>
              <th>Batch</th>
              <th>Document</th>
              <th>Code</th>
              <th>Error</th>
              <th>Attempts</th>
              <th>Finished</th>
            </tr>
          </thead>
          <tbody>
            ${
              e.failures.length === 0
                ? html`<tr class="empty">
                    <td colspan="6">No failed documents.</td>
                  </tr>`
                : e.failures.map(
                    (f) =>
                      html`<tr data-batch-id="${f.batch_id}">
                        <td>
                          ${batchLink(f.batch_id)}
                          <div class="muted small">${f.tenant} · ${f.task}</div>
                        </td>
                        <td>
                          <code>${f.id}</code>
                          <div class="muted small">line ${f.seq}</div>
                        </td>
                        <td><code>${f.code}</code></td>
                        <td class="wrap">${f.message}</td>
                        <td>${f.attempts}</td>
                        <td class="small">${formatTime(f.finished_at)}</td>
                      </tr>`,
                  )
            }
          </tbody>
        </table>
      </section>`,
  });
}
