import { formatCount } from './format';
import { html } from './html';
import type { SafeHtml } from './html';

/**
 * A time chart as inline SVG with labelled axes (server-rendered; no script, no CDN): one line per
 * series, a legend, and the same numbers as a table under a disclosure (readable without the
 * picture, and what the tests read). Values are documents per bin; the chart plots documents per
 * second (documents / bin length).
 */
export interface ChartSeries {
  /** Legend text. */
  name: string;
  /** Stable key (`data-series`, CSS class `series-<index>`). */
  key: string;
  /** Documents per bin, one per bin, oldest first. */
  values: number[];
}

export interface TimeChart {
  /** `data-chart` of the figure. */
  id: string;
  /** Accessible description. */
  label: string;
  /** Start of the first bin, ms since the epoch. */
  start: number;
  binSeconds: number;
  series: ChartSeries[];
}

const W = 760;
const H = 220;
const M = { left: 56, right: 28, top: 12, bottom: 40 };

/** The smallest 1, 2 or 5 x 10^k at or above `v` (1 for 0). */
export function niceCeiling(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v - 1e-9) return m * p;
  return 10 * p;
}

function fmtAxisRate(v: number): string {
  if (v === 0) return '0';
  if (v < 1) return v.toFixed(2).replace(/0$/, '');
  if (v < 10) return v.toFixed(1).replace(/\.0$/, '');
  return formatCount(v);
}

/** `HH:MM` (UTC); with the date when the chart spans more than a day or its bins are a day long. */
function timeLabel(ms: number, withDate: boolean, withSeconds: boolean): string {
  const iso = new Date(ms).toISOString();
  const time = withSeconds ? iso.slice(11, 19) : iso.slice(11, 16);
  return withDate ? `${iso.slice(5, 10)} ${time}` : time;
}

/** SVG points of one series (documents per bin -> documents/s), scaled to `max`. */
export function chartPoints(values: readonly number[], binSeconds: number, max: number): string {
  const n = values.length;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (i: number) => M.left + (n > 1 ? (i / (n - 1)) * pw : pw / 2);
  if (n === 1) {
    // One bin spans the whole axis: a level line at its rate.
    const y = (M.top + ph - ((values[0] ?? 0) / binSeconds / max) * ph).toFixed(1);
    return `${M.left.toFixed(1)},${y} ${(M.left + pw).toFixed(1)},${y}`;
  }
  return values
    .map((v, i) => `${x(i).toFixed(1)},${(M.top + ph - (v / binSeconds / max) * ph).toFixed(1)}`)
    .join(' ');
}

export function timeChart(c: TimeChart): SafeHtml {
  const n = Math.max(1, ...c.series.map((s) => s.values.length));
  const peak = Math.max(0, ...c.series.flatMap((s) => s.values.map((v) => v / c.binSeconds)));
  const max = niceCeiling(peak);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const span = n * c.binSeconds * 1000;
  const withDate = span > 86_400_000;
  const withSeconds = c.binSeconds < 60;
  // Round steps: 50 -> 0, 10, ..., 50; 20 -> 0, 5, ..., 20; 2.5 -> 0, 0.5, ..., 2.5.
  const lead = max / 10 ** Math.floor(Math.log10(max));
  const steps = Math.abs(lead - 2) < 1e-9 ? 4 : 5;
  const yTicks = Array.from({ length: steps + 1 }, (_, k) => (k * max) / steps);
  const xTickCount = Math.min(n, 7);
  const xTicks = Array.from({ length: xTickCount }, (_, k) =>
    xTickCount > 1 ? Math.round((k * (n - 1)) / (xTickCount - 1)) : 0,
  );
  const xOf = (i: number) => M.left + (n > 1 ? (i / (n - 1)) * pw : pw / 2);
  const total = c.series[0]?.values.reduce((a, b) => a + b, 0) ?? 0;
  return html`<figure class="timechart" data-chart="${c.id}" data-bin-seconds="${c.binSeconds}">
    <svg
      viewBox="0 0 ${W} ${H}"
      width="100%"
      preserveAspectRatio="xMidYMid meet"
      role="img"
      aria-label="${c.label}"
    >
      <g class="grid">
        ${yTicks.map((v) => {
          const y = (M.top + ph - (v / max) * ph).toFixed(1);
          return html`<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}"></line>
            <text class="tick" x="${M.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">
              ${fmtAxisRate(v)}
            </text>`;
        })}
      </g>
      <g class="xaxis">
        <line x1="${M.left}" x2="${W - M.right}" y1="${M.top + ph}" y2="${M.top + ph}"></line>
        ${xTicks.map(
          (i) =>
            html`<line
                x1="${xOf(i).toFixed(1)}"
                x2="${xOf(i).toFixed(1)}"
                y1="${M.top + ph}"
                y2="${M.top + ph + 4}"
              ></line>
              <text class="tick" x="${xOf(i).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle">
                ${timeLabel(c.start + i * c.binSeconds * 1000, withDate, withSeconds)}
              </text>`,
        )}
      </g>
      <text class="axis-title" x="${M.left + pw / 2}" y="${H - 4}" text-anchor="middle">time (UTC)</text>
      <text
        class="axis-title"
        x="14"
        y="${M.top + ph / 2}"
        text-anchor="middle"
        transform="rotate(-90 14 ${M.top + ph / 2})"
      >
        documents/s
      </text>
      ${c.series.map(
        (s, i) =>
          html`<polyline
            class="series series-${i}"
            data-series="${s.key}"
            points="${chartPoints(s.values, c.binSeconds, max)}"
          ></polyline>`,
      )}
    </svg>
    <figcaption>
      <ul class="legend">
        ${c.series.map(
          (s, i) =>
            html`<li>
              <svg width="14" height="4" aria-hidden="true">
                <line class="series series-${i}" x1="0" x2="14" y1="2" y2="2"></line>
              </svg>
              ${s.name}
            </li>`,
        )}
      </ul>
      <span class="muted small">
        ${formatCount(total)} documents · one point per ${binLabel(c.binSeconds)} (average rate over the bin)
      </span>
    </figcaption>
    <details class="chart-data">
      <summary>Data</summary>
      <table class="grid small" data-table="chart-${c.id}">
        <thead>
          <tr>
            <th>Bin start (UTC)</th>
            ${c.series.map((s) => html`<th>${s.name} (documents)</th>`)}
          </tr>
        </thead>
        <tbody>
          ${
            total === 0 && c.series.every((s) => s.values.every((v) => v === 0))
              ? html`<tr class="empty">
                  <td colspan="${c.series.length + 1}">No documents finished in this range.</td>
                </tr>`
              : ''
          }
          ${Array.from({ length: n }, (_, i) => i)
            .filter((i) => c.series.some((s) => (s.values[i] ?? 0) > 0))
            .map(
              (i) =>
                html`<tr data-bin="${new Date(c.start + i * c.binSeconds * 1000).toISOString()}">
                  <td>
                    ${new Date(c.start + i * c.binSeconds * 1000).toISOString().slice(0, 19).replace('T', ' ')}
                  </td>
                  ${c.series.map((s) => html`<td data-series="${s.key}">${formatCount(s.values[i] ?? 0)}</td>`)}
                </tr>`,
            )}
        </tbody>
      </table>
    </details>
  </figure>`;
}

/** `10 s`, `1 min`, `15 min`, `2 h`. */
export function binLabel(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${seconds / 60} min`;
  return `${seconds / 3600} h`;
}
