/** Formatting helpers shared by the server views (the client script has its own twins). */

/** `1234567` -> `1,234,567`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Seconds as `45 s`, `12 min 5 s`, `3 h 20 min`, `2 d 4 h`; `—` when null. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** Documents per second with one decimal below 100; `—` when null. */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return '—';
  return rate < 100 ? `${rate.toFixed(1)}/s` : `${formatCount(rate)}/s`;
}

/** ISO timestamp as `2026-11-23 10:45:08 UTC`; `—` when null. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return `${iso.slice(0, 19).replace('T', ' ')} UTC`;
}

/** Whole percent of `part` in `total` (0 when total is 0). */
export function percent(part: number, total: number): number {
  return total > 0 ? (part / total) * 100 : 0;
}

/** Bytes as `512 B`, `12.3 MiB`, `1.50 GiB`; `—` when null. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
