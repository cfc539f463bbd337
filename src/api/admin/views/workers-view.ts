import { formatBytes, formatRate, formatTime } from './format';
import { html } from './html';
import type { SafeHtml } from './html';
import { sparkline } from './components';

/** One connected worker as the dashboard shows it. */
export interface WorkerView {
  id: string;
  /** Host name and pid, when the worker reports them. */
  host: string | null;
  /** TensorFlow.js backend in use: wasm, cpu, tensorflow, tensorflow-gpu. */
  backend: string;
  /** Tasks whose queues the worker pulls. */
  tasks: string[];
  /** Chunk jobs in progress now, and at most at once. */
  active_jobs: number;
  concurrency: number;
  /** Documents in the last tensor batch (null before the first batch). */
  tensor_batch_size: number | null;
  /** Padding fraction of the last tensor batch, 0..1 (null before the first batch). */
  padding_ratio: number | null;
  /** Documents per second over the last minute. */
  docs_per_s_now: number;
  /** Documents finished since the worker started. */
  documents_total: number;
  /** Documents per second, one value per bucket, oldest first. */
  docs_per_s: number[];
  /** Length of one bucket, seconds. */
  bucket_seconds: number;
  last_seen: string;
  /** CPU of the worker process over its last heartbeat period, percent of one core (null: not reported). */
  cpu_percent: number | null;
  /** Cores the process may use (null: not reported). */
  cpu_cores: number | null;
  /** Resident memory of the worker process, bytes (null: not reported). */
  rss_bytes: number | null;
}

export interface WorkersPanel {
  workers: WorkerView[];
  /** Sum over workers per bucket, oldest first. */
  total_docs_per_s: number[];
  bucket_seconds: number;
  /** True when the heartbeats could not be read (Redis unreachable): the list says nothing then. */
  unavailable?: boolean;
}

/** Columns of the worker table. */
export const WORKER_COLUMNS = 10;

/** `57.3 % · 4 cores` (percent of one core) (the client script has a twin). */
export function formatCpu(w: Pick<WorkerView, 'cpu_percent' | 'cpu_cores'>): string {
  if (w.cpu_percent === null) return '—';
  return `${w.cpu_percent.toFixed(1)} %${w.cpu_cores ? ` · ${w.cpu_cores} cores` : ''}`;
}

/** Text of the worker table when it has no row. */
export function emptyWorkersText(p: Pick<WorkersPanel, 'unavailable'>): string {
  return p.unavailable
    ? 'Worker status is unavailable: Redis cannot be reached.'
    : 'No worker is connected. Start one with npm run start:worker.';
}

/** Sums the workers' series bucket by bucket (aligned at the newest bucket). */
export function workersPanel(workers: WorkerView[], unavailable = false): WorkersPanel {
  const len = Math.max(0, ...workers.map((w) => w.docs_per_s.length));
  const total = new Array<number>(len).fill(0);
  for (const w of workers) {
    const off = len - w.docs_per_s.length;
    w.docs_per_s.forEach((v, i) => (total[off + i] = (total[off + i] ?? 0) + v));
  }
  return {
    workers,
    total_docs_per_s: total.map((v) => Math.round(v * 10) / 10),
    bucket_seconds: workers[0]?.bucket_seconds ?? 10,
    ...(unavailable ? { unavailable: true } : {}),
  };
}

function windowLabel(p: { total_docs_per_s: number[]; bucket_seconds: number }): string {
  const minutes = Math.round((p.total_docs_per_s.length * p.bucket_seconds) / 60);
  return minutes > 0 ? `last ${minutes} min` : 'no data yet';
}

export function workersSection(p: WorkersPanel): SafeHtml {
  const current = p.workers.reduce((sum, w) => sum + w.docs_per_s_now, 0);
  return html`<section class="card workers" id="workers" aria-labelledby="workers-title">
    <div class="section-head">
      <h2 id="workers-title">
        Workers <span class="muted" data-field="worker-count">${p.workers.length} connected</span>
      </h2>
      <div class="chart">
        <span class="muted"
          >documents/s, all workers, <span data-field="chart-window">${windowLabel(p)}</span></span
        >
        ${sparkline(p.total_docs_per_s, 'documents per second, all workers')}
        <strong data-field="total-rate">${formatRate(current)}</strong>
      </div>
    </div>
    <table class="grid" data-table="workers">
      <thead>
        <tr>
          <th>Worker</th>
          <th>Backend</th>
          <th>Tasks</th>
          <th>Jobs</th>
          <th>Tensor batch size</th>
          <th>Padding ratio</th>
          <th>Documents/s</th>
          <th title="CPU time over the last heartbeat period, percent of one core">CPU (% of a core)</th>
          <th>Memory (RSS)</th>
          <th>Last seen</th>
        </tr>
      </thead>
      <tbody>
        ${
          p.workers.length === 0
            ? html`<tr class="empty">
                <td colspan="${WORKER_COLUMNS}">${emptyWorkersText(p)}</td>
              </tr>`
            : p.workers.map(
                (w) =>
                  html`<tr>
                    <td>
                      <code>${w.id}</code>${w.host ? html`<div class="muted small">${w.host}</div>` : ''}
                    </td>
                    <td><span class="badge backend">${w.backend}</span></td>
                    <td>${w.tasks.join(', ')}</td>
                    <td>${w.active_jobs} / ${w.concurrency}</td>
                    <td>${w.tensor_batch_size === null ? '—' : String(w.tensor_batch_size)}</td>
                    <td>${w.padding_ratio === null ? '—' : `${(w.padding_ratio * 100).toFixed(1)} %`}</td>
                    <td>
                      ${sparkline(w.docs_per_s, `documents per second, ${w.id}`, 120, 24)}
                      ${formatRate(w.docs_per_s_now)}
                      <div class="muted small">${w.documents_total.toLocaleString('en-US')} since start</div>
                    </td>
                    <td data-field="cpu">${formatCpu(w)}</td>
                    <td data-field="rss">${w.rss_bytes === null ? '—' : formatBytes(w.rss_bytes)}</td>
                    <td>${formatTime(w.last_seen)}</td>
                  </tr>`,
              )
        }
      </tbody>
    </table>
  </section>`;
}
