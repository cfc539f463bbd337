import type {
  BatchThroughput,
  DashboardBatch,
  FailedDocument,
  WebhookDeliveryView,
} from '../dashboard-queries';
import { timeChart } from './chart';
import { progressBar, progressText, statusBadge } from './components';
import { formatCount, formatDuration, formatRate, formatTime } from './format';
import { html } from './html';
import type { SafeHtml } from './html';
import { ADMIN_BASE, layout } from './layout';

/** Fixed notices an action redirect may show (never text from the query string itself). */
export const NOTICES: Record<string, string> = {
  cancelled: 'Cancellation requested: queued documents were cancelled; documents already running may finish.',
  retried: 'Failed documents were requeued.',
  redelivered: 'Webhook redelivery queued: a new attempt is sent now (same webhook-id and payload).',
};

/** Columns of the webhook deliveries table. */
export const DELIVERY_COLUMNS = 7;

const ACTIVE = new Set(['queued', 'running']);

export function canCancel(b: DashboardBatch): boolean {
  return ACTIVE.has(b.status);
}
export function canRetry(b: DashboardBatch): boolean {
  return b.counts.failed > 0 || (b.status === 'expired' && b.counts.expired > 0);
}

function elapsed(b: DashboardBatch): number | null {
  if (!b.started_at) return null;
  const end = b.finished_at ? Date.parse(b.finished_at) : Date.now();
  return (end - Date.parse(b.started_at)) / 1000;
}

function countsTable(b: DashboardBatch): SafeHtml {
  const rows: Array<[string, number]> = [
    ['total', b.counts.total],
    ['queued', b.counts.queued],
    ['running', b.counts.running],
    ['completed', b.counts.completed],
    ['failed', b.counts.failed],
    ['cancelled', b.counts.cancelled],
    ['expired', b.counts.expired],
  ];
  return html`<table class="kv counts">
    ${rows.map(
      ([k, v]) =>
        html`<tr>
          <th>${k}</th>
          <td data-count="${k}">${formatCount(v)}</td>
        </tr>`,
    )}
  </table>`;
}

function timings(b: DashboardBatch): SafeHtml {
  const live = ACTIVE.has(b.status) || b.status === 'cancelling';
  return html`<table class="kv timings">
    <tr>
      <th>created</th>
      <td>${formatTime(b.created_at)}</td>
    </tr>
    <tr>
      <th>started</th>
      <td data-field="started_at">${formatTime(b.started_at)}</td>
    </tr>
    <tr>
      <th>finished</th>
      <td data-field="finished_at">${formatTime(b.finished_at)}</td>
    </tr>
    <tr>
      <th>expires</th>
      <td>${formatTime(b.expires_at)} <span class="muted">(window ${b.completion_window})</span></td>
    </tr>
    <tr>
      <th>elapsed</th>
      <td data-field="elapsed">${formatDuration(elapsed(b))}</td>
    </tr>
    <tr>
      <th>throughput</th>
      <td data-field="throughput">${formatRate(b.throughput_docs_per_s)}</td>
    </tr>
    <tr>
      <th>ETA</th>
      <td data-field="eta">${live ? formatDuration(b.eta_s) : '—'}</td>
    </tr>
  </table>`;
}

export function failedDocumentsRows(docs: FailedDocument[]): SafeHtml {
  if (docs.length === 0)
    return html`<tr class="empty">
      <td colspan="4">No failed documents.</td>
    </tr>`;
  return html`${docs.map(
    (d) =>
      html`<tr>
        <td>
          <code>${d.id}</code>
          <div class="muted small">line ${d.seq}</div>
        </td>
        <td><code>${d.error?.code ?? ''}</code></td>
        <td class="wrap">${d.error?.message ?? ''}</td>
        <td>${d.attempts}</td>
      </tr>`,
  )}`;
}

/** The redeliver button of a delivery (a form posting to the dashboard, with the CSRF token). */
function redeliverForm(batchId: string, d: WebhookDeliveryView, csrf: string): SafeHtml {
  return html`<form
    method="post"
    action="${ADMIN_BASE}/batches/${encodeURIComponent(batchId)}/webhook_deliveries/${encodeURIComponent(d.id)}/redeliver"
    data-action="redeliver"
    data-confirm="Send ${d.event_type} (${d.id}) again to ${d.url}?"
  >
    <input type="hidden" name="_csrf" value="${csrf}" />
    <button type="submit">Redeliver</button>
  </form>`;
}

export function deliveriesRows(batchId: string, deliveries: WebhookDeliveryView[], csrf: string): SafeHtml {
  if (deliveries.length === 0)
    return html`<tr class="empty">
      <td colspan="${DELIVERY_COLUMNS}">No webhook deliveries.</td>
    </tr>`;
  return html`${deliveries.map(
    (d) =>
      html`<tr data-delivery-id="${d.id}">
        <td>
          <code>${d.event_type}</code>
          <div class="muted small">${d.id}</div>
        </td>
        <td class="wrap">${d.url}</td>
        <td><span class="badge delivery-${d.status}">${d.status}</span></td>
        <td>
          ${d.attempts}${d.last_status_code !== null ? html` <span class="muted">(last HTTP ${d.last_status_code})</span>` : ''}
        </td>
        <td class="wrap">
          ${d.last_error ?? ''}${
            d.attempt_log.length > 0
              ? html`<details>
                  <summary>attempts</summary>
                  <ol>
                    ${d.attempt_log.map(
                      (a) =>
                        html`<li>
                          #${a.attempt} ${formatTime(a.at)}: ${a.status_code ?? 'no response'} in
                          ${a.latency_ms} ms${a.error ? html` · ${a.error}` : ''}
                        </li>`,
                    )}
                  </ol>
                </details>`
              : ''
          }
        </td>
        <td class="small">
          ${d.delivered_at ? html`delivered ${formatTime(d.delivered_at)}` : d.next_attempt_at ? html`next ${formatTime(d.next_attempt_at)}` : '—'}
        </td>
        <td>${redeliverForm(batchId, d, csrf)}</td>
      </tr>`,
  )}`;
}

function actions(b: DashboardBatch, csrf: string): SafeHtml {
  const base = `${ADMIN_BASE}/batches/${encodeURIComponent(b.id)}`;
  return html`<div class="actions" data-field="actions">
    <form
      method="post"
      action="${base}/cancel"
      data-confirm="Cancel batch ${b.id}? Queued documents will not run."
      ${canCancel(b) ? '' : html` hidden`}
      data-action="cancel"
    >
      <input type="hidden" name="_csrf" value="${csrf}" />
      <button type="submit" class="danger">Cancel batch</button>
    </form>
    <form
      method="post"
      action="${base}/retry"
      data-confirm="Requeue the failed documents of ${b.id}?"
      ${canRetry(b) ? '' : html` hidden`}
      data-action="retry"
    >
      <input type="hidden" name="_csrf" value="${csrf}" />
      <button type="submit">Retry failed documents</button>
    </form>
  </div>`;
}

function json(v: unknown): string {
  return JSON.stringify(v, null, 2);
}

export function batchView(o: {
  batch: DashboardBatch;
  failed: FailedDocument[];
  deliveries: WebhookDeliveryView[];
  throughput: BatchThroughput | null;
  csrf: string;
  bearer?: boolean;
  notice?: string;
}): string {
  const b = o.batch;
  return layout({
    title: `Batch ${b.id}`,
    nav: 'batches',
    page: 'batch',
    csrf: o.bearer ? undefined : o.csrf,
    bearer: o.bearer,
    body: html`<section
        class="card batch"
        data-batch-id="${b.id}"
        data-poll="${ADMIN_BASE}/api/batches/${encodeURIComponent(b.id)}"
      >
        <p class="crumbs"><a href="${ADMIN_BASE}">Batches</a> / <code>${b.id}</code></p>
        ${o.notice && NOTICES[o.notice] ? html`<p class="notice" role="status">${NOTICES[o.notice] ?? ''}</p>` : ''}
        <div class="section-head">
          <h1><code>${b.id}</code> ${statusBadge(b.status)}</h1>
          ${actions(b, o.csrf)}
        </div>
        <p class="muted">
          Tenant <strong>${b.tenant.name}</strong> <code class="small">${b.tenant.id}</code> · ${b.task} ·
          model <code>${b.model}</code> · priority
          ${b.priority}${b.webhook_url ? html` · webhook <code>${b.webhook_url}</code>` : ''}
        </p>
        ${b.error ? html`<p class="error">Batch failed: <code>${b.error.code}</code> ${b.error.message}</p>` : ''}
        <div class="bigbar">
          ${progressBar(b.counts)}
          <div>${progressText(b.counts)}</div>
        </div>
        <div class="columns">
          <div>
            <h2>Counts</h2>
            ${countsTable(b)}
          </div>
          <div>
            <h2>Timings</h2>
            ${timings(b)}
          </div>
          <div>
            <h2>Metadata</h2>
            <pre>${json(b.metadata)}</pre>
            <h2>Options</h2>
            <pre>${json(b.options)}</pre>
            <p class="small">
              <a href="${ADMIN_BASE}/queues/queue/${encodeURIComponent(`chunks-${b.task}`)}"
                >Chunk jobs of this task in bull-board</a
              >
            </p>
          </div>
        </div>
      </section>
      <section class="card" id="batch-throughput" aria-labelledby="batch-throughput-title">
        <h2 id="batch-throughput-title">Throughput of this batch</h2>
        ${
          o.throughput
            ? timeChart({
                id: 'batch',
                label: `Documents per second of batch ${b.id} since it started`,
                start: o.throughput.start,
                binSeconds: o.throughput.bin_seconds,
                series: [
                  { name: 'finished', key: 'finished', values: o.throughput.documents },
                  { name: 'failed', key: 'failed', values: o.throughput.failed },
                ],
              })
            : html`<p class="muted">Not started yet.</p>`
        }
        <p class="muted small">From the documents' finish times; drawn when the page loads.</p>
      </section>
      <section class="card" aria-labelledby="failed-title">
        <h2 id="failed-title">
          Failed documents <span class="muted" data-count="failed">${formatCount(b.counts.failed)}</span>
        </h2>
        <p class="muted small">
          The first ${50} in input order. All of them:
          <code>GET /v1/batches/${b.id}/results?status=failed</code>.
        </p>
        <table class="grid" data-table="failed">
          <thead>
            <tr>
              <th>Document</th>
              <th>Code</th>
              <th>Error</th>
              <th>Attempts</th>
            </tr>
          </thead>
          <tbody data-rendered="${JSON.stringify(o.failed)}">
            ${failedDocumentsRows(o.failed)}
          </tbody>
        </table>
      </section>
      <section class="card" aria-labelledby="webhooks-title">
        <h2 id="webhooks-title">Webhook deliveries</h2>
        <table class="grid" data-table="deliveries">
          <thead>
            <tr>
              <th>Event</th>
              <th>URL</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>Last error</th>
              <th>When</th>
              <th></th>
            </tr>
          </thead>
          <tbody data-rendered="${JSON.stringify(o.deliveries)}">
            ${deliveriesRows(b.id, o.deliveries, o.csrf)}
          </tbody>
        </table>
      </section>`,
  });
}
