import type { TenantOverview } from '../dashboard-queries';
import { formatCount, formatTime } from './format';
import { html } from './html';
import { ADMIN_BASE, layout } from './layout';

/** Tenants with their keys and what their batches hold. */
export function tenantsView(o: { tenants: TenantOverview[]; csrf?: string; bearer?: boolean }): string {
  return layout({
    title: 'Tenants',
    nav: 'tenants',
    page: 'tenants',
    csrf: o.csrf,
    bearer: o.bearer,
    body: html`<section class="card" aria-labelledby="tenants-title">
      <h1 id="tenants-title">Tenants <span class="muted">${formatCount(o.tenants.length)}</span></h1>
      <p class="muted small">
        Documents are counted from the batches still stored (deleted or expired batches no longer count).
        Manage tenants and keys with <code>docbatch tenants</code> / <code>docbatch keys</code> or the admin
        API (<code>/admin/api/tenants</code>).
      </p>
      <table class="grid" data-table="tenants">
        <thead>
          <tr>
            <th>Tenant</th>
            <th>API keys</th>
            <th>Key last used</th>
            <th>Batches</th>
            <th>Documents</th>
            <th>Completed</th>
            <th>Failed</th>
            <th>Last batch</th>
          </tr>
        </thead>
        <tbody>
          ${
            o.tenants.length === 0
              ? html`<tr class="empty">
                  <td colspan="8">
                    No tenants yet: create one with <code>docbatch tenants create NAME</code>.
                  </td>
                </tr>`
              : o.tenants.map(
                  (t) =>
                    html`<tr data-tenant-id="${t.id}">
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
                      <td data-field="batches">
                        ${formatCount(t.batches)}${
                          t.batches_active > 0
                            ? html` <span class="muted">· ${formatCount(t.batches_active)} active</span>`
                            : ''
                        }
                      </td>
                      <td data-field="documents">${formatCount(t.documents)}</td>
                      <td data-field="completed">${formatCount(t.completed)}</td>
                      <td data-field="failed">${formatCount(t.failed)}</td>
                      <td class="small">${formatTime(t.last_batch_at)}</td>
                    </tr>`,
                )
          }
        </tbody>
      </table>
    </section>`,
  });
}
