import type { BatchCounts } from '../../../core/batches/batch-object';
import { formatCount } from './format';
import { html } from './html';
import type { SafeHtml } from './html';

/**
 * Small view parts shared by the pages. Progress bars and charts are inline SVG with attribute
 * geometry (the page's CSP forbids inline `style`), which the client script updates in place.
 */

function pct(n: number, total: number): string {
  return total > 0 ? ((n / total) * 100).toFixed(3) : '0';
}

/** Segment order of a progress bar, left to right. The remainder (queued) is the bar's background. */
export const BAR_SEGMENTS = ['completed', 'failed', 'ended', 'running'] as const;

function segmentValues(c: BatchCounts): Record<(typeof BAR_SEGMENTS)[number], number> {
  return { completed: c.completed, failed: c.failed, ended: c.cancelled + c.expired, running: c.running };
}

/** Completed / failed / cancelled+expired / running / queued as one bar. */
export function progressBar(c: BatchCounts): SafeHtml {
  const values = segmentValues(c);
  let x = 0;
  const rects = BAR_SEGMENTS.map((seg) => {
    const w = Number(pct(values[seg], c.total));
    const r = html`<rect
      class="seg-${seg}"
      data-seg="${seg}"
      x="${x.toFixed(3)}"
      y="0"
      height="10"
      width="${w.toFixed(3)}"
    ></rect>`;
    x += w;
    return r;
  });
  const label = `${formatCount(c.completed)} completed, ${formatCount(c.failed)} failed, ${formatCount(c.queued)} queued of ${formatCount(c.total)}`;
  return html`<svg
    class="bar"
    viewBox="0 0 100 10"
    preserveAspectRatio="none"
    role="img"
    aria-label="${label}"
    data-bar
    data-total="${c.total}"
    data-completed="${c.completed}"
    data-failed="${c.failed}"
    data-queued="${c.queued}"
    data-running="${c.running}"
    data-ended="${c.cancelled + c.expired}"
  >
    ${rects}
  </svg>`;
}

/** "12,345 / 100,000 finished · 3 failed · 20 cancelled · 87,635 queued" (the client script has a twin). */
export function progressText(c: BatchCounts): SafeHtml {
  const done = c.completed + c.failed + c.cancelled + c.expired;
  const extra = (n: number, label: string) => (n > 0 ? html` · ${formatCount(n)} ${label}` : '');
  return html`<span data-field="progress-text"
    >${formatCount(done)} / ${formatCount(c.total)}
    finished${
      c.failed > 0 ? html` · <span class="bad">${formatCount(c.failed)} failed</span>` : ''
    }${extra(c.cancelled, 'cancelled')}${extra(c.expired, 'expired')}${extra(c.running, 'running')}${extra(
      c.queued,
      'queued',
    )}</span
  >`;
}

/** A status badge. */
export function statusBadge(status: string): SafeHtml {
  return html`<span class="badge status-${status}" data-field="status">${status}</span>`;
}

/**
 * A sparkline of `values` (oldest first) scaled to its maximum; an empty series draws a flat line.
 */
export function sparkline(values: readonly number[], label: string, width = 240, height = 48): SafeHtml {
  const max = Math.max(1, ...values);
  const n = values.length;
  const step = n > 1 ? width / (n - 1) : width;
  const points = (n > 0 ? values : [0, 0])
    .map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`)
    .join(' ');
  return html`<svg
    class="spark"
    data-spark
    viewBox="0 0 ${width} ${height}"
    width="${width}"
    height="${height}"
    role="img"
    aria-label="${label}"
  >
    <polyline points="${points}"></polyline>
  </svg>`;
}
