import type { Writable } from 'node:stream';
import { formatBytes, formatCount, formatDuration } from './format';

/**
 * A one-line progress bar for a terminal, redrawn in place (`\r` + erase line), at most every
 * `minIntervalMs`. Shows a bar, percent, current/total, rate and ETA. No dependencies.
 */
export interface ProgressBarOptions {
  label: string;
  /** `bytes` formats amounts as KiB/MiB; `docs` as counts. */
  unit: 'bytes' | 'docs';
  total?: number;
  /** Minimum time between two redraws, ms. Default 100. */
  minIntervalMs?: number;
}

export interface ProgressUpdate {
  /** Rate per second reported by the source (e.g. the server's throughput); default: measured. */
  rate?: number | null;
  /** ETA seconds reported by the source; default: from the rate. */
  eta?: number | null;
  /** Extra text after the figures (e.g. a status). */
  suffix?: string;
  total?: number;
}

const BAR_WIDTH = 24;

export class ProgressBar {
  private current = 0;
  private total: number | undefined;
  private readonly started = Date.now();
  private lastDraw = 0;
  private last: ProgressUpdate = {};
  private finished = false;

  constructor(
    private readonly stream: Writable & { columns?: number },
    private readonly options: ProgressBarOptions,
  ) {
    this.total = options.total;
  }

  update(current: number, extra: ProgressUpdate = {}): void {
    this.current = current;
    if (extra.total !== undefined) this.total = extra.total;
    this.last = extra;
    const now = Date.now();
    if (now - this.lastDraw >= (this.options.minIntervalMs ?? 100)) {
      this.lastDraw = now;
      this.draw();
    }
  }

  /** Draws the final state and moves to the next line. */
  finish(suffix?: string): void {
    if (this.finished) return;
    this.finished = true;
    if (suffix !== undefined) this.last = { ...this.last, suffix };
    this.draw();
    this.stream.write('\n');
  }

  render(): string {
    const amount = (n: number): string => (this.options.unit === 'bytes' ? formatBytes(n) : formatCount(n));
    const elapsed = (Date.now() - this.started) / 1000;
    const rate = this.last.rate ?? (elapsed > 0 ? this.current / elapsed : 0);
    const parts = [this.options.label];
    if (this.total !== undefined && this.total > 0) {
      const ratio = Math.min(1, this.current / this.total);
      const filled = Math.round(ratio * BAR_WIDTH);
      parts.push(`[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`);
      parts.push(`${String(Math.floor(ratio * 100)).padStart(3)}%`);
      parts.push(`${amount(this.current)}/${amount(this.total)}`);
    } else {
      parts.push(amount(this.current));
    }
    if (rate > 0)
      parts.push(this.options.unit === 'bytes' ? `${formatBytes(rate)}/s` : `${rate.toFixed(1)} docs/s`);
    const eta =
      this.last.eta ??
      (this.total !== undefined && rate > 0 ? Math.max(0, (this.total - this.current) / rate) : undefined);
    if (eta !== undefined && eta !== null && this.current < (this.total ?? Infinity)) {
      parts.push(`ETA ${formatDuration(eta)}`);
    }
    if (this.last.suffix) parts.push(this.last.suffix);
    const line = parts.join(' ');
    const width = (this.stream.columns ?? 100) - 1;
    return line.length > width ? line.slice(0, width) : line;
  }

  private draw(): void {
    this.stream.write(`\r\x1b[2K${this.render()}`);
  }
}
