import { BATCH_STATUSES } from '../../../core/batches/batch-object';
import { TASKS } from '../../../core/models/types';
import type { BatchFilters, BatchPage, DashboardBatch } from '../dashboard-queries';
import { CLIENT_ID_SEARCH_WINDOW } from '../dashboard-queries';
import { progressBar, progressText, statusBadge } from './components';
import { formatDuration, formatRate, formatTime } from './format';
import { html } from './html';
import type { SafeHtml } from './html';
import { ADMIN_BASE, layout } from './layout';
import { workersSection } from './workers-view';
import type { WorkersPanel } from './workers-view';

/** Up to 3 metadata entries as `key=value` (the batch page shows all). */
function metadataSummary(m: Record<string, unknown>): string {
  const entries = Object.entries(m).slice(0, 3);
  return entries.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' · ');
}

export function batchRow(b: DashboardBatch, q?: string): SafeHtml {
  return html`<tr data-batch-id="${b.id}">
    <td>
      <a href="${ADMIN_BASE}/batches/${encodeURIComponent(b.id)}"><code>${b.id}</code></a>
      ${b.matched_document ? html`<div class="small hit">contains document <code>${q}</code></div>` : ''}
      <div class="muted small">${metadataSummary(b.metadata)}</div>
    </td>
    <td>${b.tenant.name}</td>
    <td>
      ${b.task}
      <div class="muted small">${b.model}</div>
    </td>
    <td>${statusBadge(b.status)}</td>
    <td class="progress">
      ${progressBar(b.counts)}
      <div class="small">${progressText(b.counts)}</div>
    </td>
    <td data-field="throughput">${formatRate(b.throughput_docs_per_s)}</td>
    <td data-field="eta">
      ${b.status === 'queued' || b.status === 'running' || b.status === 'cancelling' ? formatDuration(b.eta_s) : '—'}
    </td>
    <td class="small">${formatTime(b.created_at)}</td>
  </tr>`;
}

function select(name: string, label: string, options: Array<[string, string]>, current?: string): SafeHtml {
  return html`<label
    >${label}
    <select name="${name}">
      <option value="">all</option>
      ${options.map(([v, text]) => html`<option value="${v}" ${v === current ? html` selected` : ''}>${text}</option>`)}
    </select></label
  >`;
}

/** Query string of the filters (for the pager and the client script's polling). */
export function filterQuery(f: BatchFilters, after?: string | null): string {
  const u = new URLSearchParams();
  if (f.tenant) u.set('tenant', f.tenant);
  if (f.status) u.set('status', f.status);
  if (f.task) u.set('task', f.task);
  if (f.q) u.set('q', f.q);
  if (after) u.set('after', after);
  return u.toString();
}

export function batchesView(o: {
  filters: BatchFilters;
  page: BatchPage;
  tenants: Array<{ id: string; name: string }>;
  workers: WorkersPanel;
  /** The throughput chart and backlog cards (overview-view.ts). */
  overview: SafeHtml;
  csrf?: string;
  bearer?: boolean;
}): string {
  const f = o.filters;
  const filtered = Boolean(f.tenant || f.status || f.task || f.q);
  return layout({
    title: 'Batches',
    nav: 'batches',
    page: 'batches',
    csrf: o.csrf,
    bearer: o.bearer,
    body: html`<div class="overview">${o.overview}</div>
      ${workersSection(o.workers)}
      <section class="card" aria-labelledby="batches-title">
        <div class="section-head">
          <h2 id="batches-title">Batches</h2>
          <form class="filters" method="get" action="${ADMIN_BASE}">
            ${select(
              'tenant',
              'Tenant',
              o.tenants.map((t) => [t.id, t.name]),
              f.tenant,
            )}
            ${select(
              'status',
              'Status',
              BATCH_STATUSES.map((s) => [s, s]),
              f.status,
            )}
            ${select(
              'task',
              'Task',
              TASKS.map((t) => [t, t]),
              f.task,
            )}
            <label
              >Search
              <input
                type="search"
                name="q"
                value="${f.q ?? ''}"
                placeholder="batch id or document id"
                size="28"
            /></label>
            <button type="submit">Apply</button>
            ${filtered ? html`<a href="${ADMIN_BASE}">Clear</a>` : ''}
          </form>
        </div>
        ${f.q ? html`<p class="muted small">Document ids are searched in the ${CLIENT_ID_SEARCH_WINDOW.toLocaleString('en-US')} newest batches matching the other filters; batch ids everywhere.</p>` : ''}
        <p class="notice" data-field="new-batches" hidden><a href="">New batches arrived: show them</a></p>
        <table
          class="grid batches"
          data-table="batches"
          data-poll="${ADMIN_BASE}/api/batches?${filterQuery(f, f.after)}"
        >
          <thead>
            <tr>
              <th>Batch</th>
              <th>Tenant</th>
              <th>Task</th>
              <th>Status</th>
              <th>Progress</th>
              <th>Throughput</th>
              <th>ETA</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            ${
              o.page.data.length === 0
                ? html`<tr class="empty">
                    <td colspan="8">${filtered ? 'No batch matches these filters.' : 'No batches yet.'}</td>
                  </tr>`
                : o.page.data.map((b) => batchRow(b, f.q))
            }
          </tbody>
        </table>
        <nav class="pager">
          ${f.after ? html`<a href="${ADMIN_BASE}?${filterQuery(f)}">Newest</a>` : ''}${
            o.page.next_cursor
              ? html`<a href="${ADMIN_BASE}?${filterQuery(f, o.page.next_cursor)}">Older →</a>`
              : ''
          }
        </nav>
      </section>`,
  });
}
