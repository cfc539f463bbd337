import { ThroughputMeter } from '../../src/core/workers/throughput-meter';
import { chartPoints, niceCeiling, timeChart } from '../../src/api/admin/views/chart';

describe('ThroughputMeter.rate', () => {
  it('is responsive at the start of a batch: documents over the time since the worker got busy', () => {
    let now = 1_000_000;
    const m = new ThroughputMeter(10_000, 30, () => now);
    now += 120_000; // idle for two minutes
    m.busy(true);
    now += 5_000;
    m.add(14);
    now += 2_000;
    // 7 s into the batch: 14 documents in 7 s, not 14 over a minute (0.2/s).
    expect(m.rate(60_000)).toBeCloseTo(2, 5);
    now += 60_000;
    m.add(120);
    // Busy for over a minute: the last minute's documents over a minute.
    expect(m.rate(60_000)).toBeCloseTo(2, 5);
    m.busy(false);
    now += 61_000;
    expect(m.rate(60_000)).toBe(0);
  });

  it('keeps the busy clock over a short pause between jobs', () => {
    let now = 0;
    const m = new ThroughputMeter(10_000, 30, () => now);
    m.busy(true);
    now += 10_000;
    m.add(10);
    m.busy(false);
    now += 2_000;
    m.busy(true);
    now += 8_000;
    m.add(10);
    // 20 documents since the busy period began 20 s ago.
    expect(m.rate(60_000)).toBeCloseTo(1, 5);
  });

  it('never divides by less than a second', () => {
    const now = 0;
    const m = new ThroughputMeter(10_000, 30, () => now);
    m.busy(true);
    m.add(8);
    expect(m.rate(60_000)).toBe(8);
  });
});

describe('timeChart', () => {
  it('rounds the y axis up to 1, 2, 2.5 or 5 x 10^k', () => {
    expect([0, 0.3, 1, 1.2, 2.4, 3, 7, 12, 260].map(niceCeiling)).toEqual([
      1, 0.5, 1, 2, 2.5, 5, 10, 20, 500,
    ]);
  });

  it('plots documents per second: a bin of 600 documents over 60 s is at the top of a 10/s axis', () => {
    const [first, second] = chartPoints([0, 600], 60, 10).split(' ');
    expect(first?.split(',')[1]).toBe('180.0'); // the x axis (220 - bottom margin 40)
    expect(second?.split(',')[1]).toBe('12.0'); // the top (margin 12)
  });

  it('labels both axes, escapes series names and lists non-empty bins in its data table', () => {
    const out = timeChart({
      id: 't',
      label: 'x',
      start: Date.UTC(2026, 11, 5, 10, 0),
      binSeconds: 60,
      series: [{ name: '<b>all</b>', key: 'all', values: [0, 120, 0] }],
    }).value;
    expect(out).toContain('time (UTC)');
    expect(out).toContain('documents/s');
    expect(out).toContain('&lt;b&gt;all&lt;/b&gt;');
    expect(out).not.toContain('<b>all</b>');
    expect(out).toContain('data-bin="2026-12-05T10:01:00.000Z"');
    expect(out).not.toContain('data-bin="2026-12-05T10:00:00.000Z"');
    expect(out).toMatch(/>\s*10:00\s*</);
    expect(out).toMatch(/>\s*10:02\s*</);
  });
});
