/**
 * Documents finished per time bucket (default 10 s buckets over 5 minutes), for heartbeats and the
 * dashboard's small chart.
 */
export class ThroughputMeter {
  private readonly counts: number[];
  private bucketStart: number;

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
  }

  /** Documents per second of each bucket, oldest first (the last one is the current, partial bucket). */
  series(): number[] {
    this.roll();
    return this.counts.map((c) => c / (this.bucketMs / 1000));
  }

  /** Documents per second over the last `ms` of complete buckets plus the current one. */
  rate(ms = 60_000): number {
    this.roll();
    const n = Math.max(1, Math.min(this.buckets, Math.ceil(ms / this.bucketMs)));
    const elapsedInCurrent = Math.max(1, this.now() - this.bucketStart);
    const recent = this.counts.slice(-n);
    const total = recent.reduce((a, b) => a + b, 0);
    return total / (((n - 1) * this.bucketMs + elapsedInCurrent) / 1000);
  }
}
