/**
 * Documents finished per time bucket (default 10 s buckets over 5 minutes), for heartbeats and the
 * dashboard's small chart, and a responsive current rate ({@link ThroughputMeter.rate}).
 */
export class ThroughputMeter {
  private readonly counts: number[];
  private bucketStart: number;
  /** Recent additions as [time ms, documents], oldest first, at most {@link MAX_EVENTS}. */
  private readonly events: Array<[number, number]> = [];
  /** Start of the current busy period (see {@link busy}); -Infinity before the first. */
  private busySince = -Infinity;
  /** When the last busy period ended; -Infinity while none ended. */
  private idleSince = -Infinity;
  private isBusy = false;

  constructor(
    readonly bucketMs = 10_000,
    readonly buckets = 30,
    private readonly now: () => number = Date.now,
  ) {
    this.counts = new Array<number>(buckets).fill(0);
    this.bucketStart = Math.floor(now() / bucketMs) * bucketMs;
  }

  private roll(): void {
    const cur = Math.floor(this.now() / this.bucketMs) * this.bucketMs;
    const steps = Math.min(this.buckets, Math.round((cur - this.bucketStart) / this.bucketMs));
    for (let i = 0; i < steps; i++) {
      this.counts.shift();
      this.counts.push(0);
    }
    this.bucketStart = cur;
  }

  add(n: number): void {
    this.roll();
    this.counts[this.counts.length - 1]! += n;
    this.events.push([this.now(), n]);
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
  }

  /**
   * The worker started working (its first job after being idle) or stopped (`false`: no job left).
   * A busy period that starts after an idle spell longer than the rate window restarts the rate's
   * clock, so the rate is documents over the time actually spent since, not over a whole window.
   */
  busy(on: boolean, windowMs = 60_000): void {
    const t = this.now();
    if (on && !this.isBusy) {
      if (t - this.idleSince > windowMs || this.busySince === -Infinity) this.busySince = t;
    } else if (!on && this.isBusy) this.idleSince = t;
    this.isBusy = on;
  }

  /** Documents per second of each bucket, oldest first (the last one is the current, partial bucket). */
  series(): number[] {
    this.roll();
    return this.counts.map((c) => c / (this.bucketMs / 1000));
  }

  /**
   * Documents per second over the last `ms`, or over the time since the current busy period began
   * when that is shorter (at least one second): 7 s into a batch it is the documents of those 7 s
   * over 7 s, not over a minute.
   */
  rate(ms = 60_000): number {
    const t = this.now();
    const from = t - ms;
    while (this.events.length > 0 && this.events[0]![0] <= t - MAX_WINDOW_MS) this.events.shift();
    let docs = 0;
    for (const [at, n] of this.events) if (at > from) docs += n;
    if (docs === 0) return 0;
    const start = Math.max(from, this.busySince);
    return docs / (Math.max(1000, t - start) / 1000);
  }
}

/** Additions kept for {@link ThroughputMeter.rate} (its window is at most this long). */
const MAX_WINDOW_MS = 5 * 60_000;
const MAX_EVENTS = 10_000;
