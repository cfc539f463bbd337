import type { OpsTrainingJob } from '../../../core/training-jobs';
import { formatCount, formatDuration, formatTime } from './format';
import { html } from './html';
import { layout } from './layout';

const pct = (v: number | null | undefined): string =>
  typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–';
const num = (v: number | null | undefined): string =>
  typeof v === 'number' && Number.isFinite(v) ? v.toFixed(3) : '–';

/** Training jobs across tenants, newest first, with their progress (the page reloads every 5 s). */
export function trainingView(o: { jobs: OpsTrainingJob[]; csrf?: string; bearer?: boolean }): string {
  return layout({
    title: 'Training',
    nav: 'training',
    page: 'training',
    refreshSeconds: 5,
    csrf: o.csrf,
    bearer: o.bearer,
    body: html`<section class="card" aria-labelledby="training-title">
      <div class="section-head">
        <h1 id="training-title">Training jobs <span class="muted">${formatCount(o.jobs.length)}</span></h1>
      </div>
      <p class="muted small">
        The newest 50 training jobs of every tenant (<code>POST /v1/training_jobs</code>, queue
        <code>training</code>); each worker trains one job at a time in a thread of its own. The page reloads
        every 5 seconds; <code>GET /admin/api/training_jobs</code> has the same as JSON.
      </p>
      <table class="grid" data-table="training-jobs">
        <thead>
          <tr>
            <th>Job</th>
            <th>Tenant</th>
            <th>Model</th>
            <th>Status</th>
            <th>Epoch</th>
            <th>Loss</th>
            <th>Val. accuracy</th>
            <th>ETA</th>
            <th>Examples</th>
            <th>Backend, worker</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          ${
            o.jobs.length === 0
              ? html`<tr class="empty">
                  <td colspan="11">No training jobs yet: <code>docbatch train FILE --name NAME</code>.</td>
                </tr>`
              : o.jobs.map(
                  (j) =>
                    html`<tr data-training-job-id="${j.id}">
                      <td><code>${j.id}</code></td>
                      <td>${j.tenant.name}</td>
                      <td data-field="model">${j.model ?? j.model_name}</td>
                      <td data-field="status">
                        <span class="status status-${j.status}">${j.status}</span>${
                          j.cancel_requested && j.status === 'running'
                            ? html` <span class="muted small">cancelling</span>`
                            : ''
                        }${
                          j.error
                            ? html`<div class="muted small">${j.error.code}: ${j.error.message}</div>`
                            : ''
                        }${j.attempts > 1 ? html`<div class="muted small">attempt ${j.attempts}</div>` : ''}
                      </td>
                      <td data-field="epoch">
                        ${j.progress ? `${j.progress.epoch} / ${j.progress.epochs}` : '–'}
                      </td>
                      <td data-field="loss">${num(j.progress?.loss)}</td>
                      <td data-field="val-accuracy">${pct(j.progress?.val_accuracy)}</td>
                      <td data-field="eta">
                        ${j.status === 'running' && j.progress ? formatDuration(j.progress.eta_seconds) : '–'}
                      </td>
                      <td>${formatCount(j.examples.total)}</td>
                      <td>
                        ${j.backend ?? '–'}${j.worker ? html`<div class="muted small">${j.worker}</div>` : ''}
                      </td>
                      <td class="small">${formatTime(j.created_at)}</td>
                    </tr>`,
                )
          }
        </tbody>
      </table>
    </section>`,
  });
}
