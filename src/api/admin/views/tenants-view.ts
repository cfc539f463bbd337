import type { UsageCounters } from '../../../core/usage';
import type { TenantOverview } from '../dashboard-queries';
import { formatCount, formatTime } from './format';
import { html } from './html';
import { ADMIN_BASE, layout } from './layout';

/** Ranges of the tenants page's usage columns, days up to today (UTC). */
export const USAGE_RANGES = [1, 7, 30, 90] as const;
export type UsageRange = (typeof USAGE_RANGES)[number];

/** A tenant's usage over the page's range: totals and per task. */
export interface TenantUsage {
  totals: UsageCounters;
  by_task: Record<string, UsageCounters>;
}

const dash = (n: number | undefined): string => (n === undefined ? '0' : formatCount(n));

/** Tenants with their keys, what their stored batches hold and their usage over `days`. */
export function tenantsView(o: {
  tenants: TenantOverview[];
  usage: Map<string, TenantUsage>;
  days: UsageRange;
  range: { start: string; end: string };
  csrf?: string;
  bearer?: boolean;
}): string {
  return layout({
    title: 'Tenants',
    nav: 'tenants',
    page: 'tenants',
    csrf: o.csrf,
    bearer: o.bearer,
    body: html`<section class="card" aria-labelledby="tenants-title">
      <div class="section-head">
        <h1 id="tenants-title">Tenants <span class="muted">${formatCount(o.tenants.length)}</span></h1>
        <nav class="ranges" aria-label="Usage range">
          Usage over
          ${USAGE_RANGES.map((d) =>
            d === o.days
              ? html`<strong aria-current="true">${d} d</strong>`
              : html`<a href="${ADMIN_BASE}/tenants?days=${d}">${d} d</a>`,
          )}
        </nav>
      </div>
      <p class="muted small">
        <strong>Usage</strong> (${o.range.start} to ${o.range.end}, UTC days): batches and documents
        submitted, documents processed and their input tokens, counted when they happen and kept after batches
        are deleted (<code>GET /admin/api/usage</code>). <strong>Stored</strong>: what the batches still
        stored hold. Manage tenants and keys with <code>docbatch tenants</code> /
        <code>docbatch keys</code> or the admin API (<code>/admin/api/tenants</code>).
      </p>
      <table class="grid" data-table="tenants">
        <thead>
          <tr>
            <th rowspan="2">Tenant</th>
            <th rowspan="2">API keys</th>
            <th rowspan="2">Key last used</th>
            <th colspan="5" class="group">Usage, ${o.days} d</th>
            <th colspan="2" class="group">Stored</th>
            <th rowspan="2">Last batch</th>
          </tr>
          <tr>
            <th>Batches</th>
            <th>Documents</th>
            <th>Completed</th>
            <th>Failed</th>
            <th>Input tokens</th>
            <th>Batches</th>
            <th>Documents</th>
          </tr>
        </thead>
        <tbody>
          ${
            o.tenants.length === 0
              ? html`<tr class="empty">
                  <td colspan="11">
                    No tenants yet: create one with <code>docbatch tenants create NAME</code>.
                  </td>
                </tr>`
              : o.tenants.map((t) => {
                  const u = o.usage.get(t.id);
                  const tasks = Object.entries(u?.by_task ?? {});
                  return html`<tr data-tenant-id="${t.id}">
                    <td>
                      <a href="${ADMIN_BASE}?tenant=${encodeURIComponent(t.id)}">${t.name}</a>
                      <div class="muted small"><code>${t.id}</code></div>
                    </td>
                    <td data-field="keys">
                      ${formatCount(t.keys_active)}
                      active${
                        t.keys_revoked > 0
                          ? html` <span class="muted">· ${formatCount(t.keys_revoked)} revoked</span>`
                          : ''
                      }
                    </td>
                    <td class="small">${formatTime(t.last_used_at)}</td>
                    <td data-field="usage-batches">${dash(u?.totals.batches)}</td>
                    <td data-field="usage-submitted">${dash(u?.totals.documents_submitted)}</td>
                    <td data-field="usage-completed">${dash(u?.totals.documents_completed)}</td>
                    <td data-field="usage-failed">${dash(u?.totals.documents_failed)}</td>
                    <td data-field="usage-tokens">
                      ${dash(u?.totals.input_tokens)}
                      ${tasks.map(
                        ([task, c]) =>
                          html`<div class="muted small" data-task="${task}">
                            ${task}: ${formatCount(c.input_tokens)}
                          </div>`,
                      )}
                    </td>
                    <td data-field="batches">
                      ${formatCount(t.batches)}${
                        t.batches_active > 0
                          ? html` <span class="muted">· ${formatCount(t.batches_active)} active</span>`
                          : ''
                      }
                    </td>
                    <td data-field="documents">${formatCount(t.documents)}</td>
                    <td class="small">${formatTime(t.last_batch_at)}</td>
                  </tr>`;
                })
          }
        </tbody>
      </table>
    </section>`,
  });
}
