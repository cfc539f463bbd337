import type { Batch } from '@docbatch/sdk';

/** Human formatting helpers of the CLI. */

export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** Documents of a batch that reached an end state. */
export function finishedCount(batch: Batch): number {
  const c = batch.counts;
  return c.completed + c.failed + c.cancelled + c.expired;
}

/** One-line progress of a batch, e.g. `running 1,200/2,000 (60%) 812 docs/s ETA 1s`. */
export function batchProgressLine(batch: Batch): string {
  const done = finishedCount(batch);
  const total = batch.counts.total;
  const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
  const parts = [`${batch.id} ${batch.status} ${formatCount(done)}/${formatCount(total)} (${pct}%)`];
  if (batch.counts.failed > 0) parts.push(`${formatCount(batch.counts.failed)} failed`);
  if (batch.throughput_docs_per_s !== null) parts.push(`${batch.throughput_docs_per_s.toFixed(1)} docs/s`);
  if (batch.eta_s !== null && done < total) parts.push(`ETA ${formatDuration(batch.eta_s)}`);
  return parts.join(' ');
}

/** Multi-line description of a batch for `status`. */
export function describeBatch(batch: Batch): string {
  const c = batch.counts;
  const rows: [string, string][] = [
    ['id', batch.id],
    ['status', batch.status],
    ['task', batch.task],
    ['model', batch.model],
    [
      'documents',
      `${formatCount(c.total)} total: ${formatCount(c.completed)} completed, ${formatCount(c.failed)} failed, ` +
        `${formatCount(c.queued)} queued, ${formatCount(c.running)} running, ${formatCount(c.cancelled)} cancelled, ` +
        `${formatCount(c.expired)} expired`,
    ],
    ['priority', String(batch.priority)],
    ['created', batch.created_at],
    ['started', batch.started_at ?? '-'],
    ['finished', batch.finished_at ?? '-'],
    ['expires', batch.expires_at],
  ];
  if (batch.data_expires_at) rows.push(['data expires', batch.data_expires_at]);
  if (batch.error) rows.push(['error', `${batch.error.code}: ${batch.error.message}`]);
  if (batch.throughput_docs_per_s !== null)
    rows.push(['throughput', `${batch.throughput_docs_per_s} docs/s`]);
  if (batch.eta_s !== null) rows.push(['eta', formatDuration(batch.eta_s)]);
  if (batch.webhook_url) rows.push(['webhook', batch.webhook_url]);
  if (Object.keys(batch.options).length > 0) rows.push(['options', JSON.stringify(batch.options)]);
  if (Object.keys(batch.metadata).length > 0) rows.push(['metadata', JSON.stringify(batch.metadata)]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** A plain text table: columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
