import type { ThroughputSeries } from '../../../core/workers';
import type { TaskBacklog } from '../dashboard-queries';
import { timeChart } from './chart';
import { formatCount, formatDuration, formatTime } from './format';
import { html } from './html';
import type { SafeHtml } from './html';
import { ADMIN_BASE } from './layout';

/** Ranges of the throughput chart: span and bin length. */
export const THROUGHPUT_RANGES = {
  '1h': { spanMs: 3_600_000, binMs: 60_000, label: 'last hour' },
  '6h': { spanMs: 6 * 3_600_000, binMs: 5 * 60_000, label: 'last 6 hours' },
  '24h': { spanMs: 24 * 3_600_000, binMs: 15 * 60_000, label: 'last 24 hours' },
  '7d': { spanMs: 7 * 86_400_000, binMs: 2 * 3_600_000, label: 'last 7 days' },
} as const;
export type ThroughputRange = keyof typeof THROUGHPUT_RANGES;

export function isThroughputRange(v: unknown): v is ThroughputRange {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(THROUGHPUT_RANGES, v);
}

/** The throughput card of the home page: all tasks and each task over the chosen range. */
export function throughputSection(t: ThroughputSeries | null, range: ThroughputRange): SafeHtml {
  const chart = !t
    ? html`<p class="muted" data-field="throughput-unavailable">
        The throughput history is unavailable: Redis cannot be reached.
      </p>`
    : timeChart({
        id: 'throughput',
        label: `Documents per second finished by all workers, ${THROUGHPUT_RANGES[range].label}`,
        start: Date.parse(t.from),
        binSeconds: t.bin_seconds,
        series: [
          { name: 'all tasks', key: 'all', values: t.bins.map((b) => b.documents) },
          ...t.tasks.map((task) => ({
            name: task,
            key: task,
            values: t.bins.map((b) => b.by_task[task] ?? 0),
          })),
        ],
      });
  return html`<section class="card" id="throughput" aria-labelledby="throughput-title">
    <div class="section-head">
      <h2 id="throughput-title">Throughput <span class="muted">${THROUGHPUT_RANGES[range].label}</span></h2>
      <nav class="ranges" aria-label="Range">
        ${(Object.keys(THROUGHPUT_RANGES) as ThroughputRange[]).map((r) =>
          r === range
            ? html`<strong aria-current="true">${r}</strong>`
            : html`<a href="${ADMIN_BASE}?range=${r}#throughput">${r}</a>`,
        )}
      </nav>
    </div>
    ${chart}
    <p class="muted small">
      Written by the workers at each heartbeat (kept 7 days in Redis); drawn when the page loads: reload for
      newer points.
    </p>
  </section>`;
}

/** The backlog card: documents waiting and running per task. */
export function backlogSection(rows: TaskBacklog[], now = Date.now()): SafeHtml {
  return html`<section class="card" id="backlog" aria-labelledby="backlog-title">
    <h2 id="backlog-title">Backlog per task</h2>
    <table class="grid" data-table="backlog">
      <thead>
        <tr>
          <th>Task</th>
          <th title="Documents waiting for a worker">Queued</th>
          <th title="Documents in progress">Running</th>
          <th title="Batches queued, running or cancelling">Batches</th>
          <th title="The oldest batch with queued documents">Oldest waiting</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (r) =>
            html`<tr data-task="${r.task}">
              <td><a href="${ADMIN_BASE}?task=${r.task}">${r.task}</a></td>
              <td data-field="queued">${formatCount(r.queued)}</td>
              <td data-field="running">${formatCount(r.running)}</td>
              <td data-field="batches">${formatCount(r.batches)}</td>
              <td data-field="oldest">
                ${
                  r.oldest_queued_at
                    ? html`${formatTime(r.oldest_queued_at)}
                        <div class="muted small">
                          waiting ${formatDuration((now - Date.parse(r.oldest_queued_at)) / 1000)}
                        </div>`
                    : '—'
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}
