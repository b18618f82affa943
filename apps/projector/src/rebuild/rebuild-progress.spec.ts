import {
  ProgressReporter,
  RateWindow,
  etaSeconds,
  formatCount,
  formatDuration,
  progressLine,
} from './rebuild-progress';

describe('rebuild progress', () => {
  it('measures the rate over the last window only', () => {
    const window = new RateWindow(5000);
    expect(window.perSecond()).toBe(0);
    window.add(0, 0);
    expect(window.perSecond()).toBe(0);
    // 1000 ops/s for 10 s, then 100 ops/s: the window forgets the fast start.
    for (let s = 1; s <= 10; s++) window.add(s * 1000, s * 1000);
    expect(window.perSecond()).toBeCloseTo(1000);
    for (let s = 11; s <= 20; s++) window.add(s * 1000, 10_000 + (s - 10) * 100);
    expect(window.perSecond()).toBeCloseTo(100);
  });

  it('never reports a negative rate', () => {
    const window = new RateWindow(5000);
    window.add(0, 500);
    window.add(1000, 400);
    expect(window.perSecond()).toBe(0);
  });

  it('computes the ETA from what is left and the rate', () => {
    expect(etaSeconds(250, 1000, 50)).toBe(15);
    expect(etaSeconds(1000, 1000, 0)).toBe(0);
    expect(etaSeconds(1200, 1000, 10)).toBe(0);
    expect(etaSeconds(10, 1000, 0)).toBeUndefined();
  });

  it('formats durations and counts', () => {
    expect(formatDuration(undefined)).toBe('--');
    expect(formatDuration(Infinity)).toBe('--');
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(8.2)).toBe('9s');
    expect(formatDuration(75)).toBe('1m15s');
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatCount(0)).toBe('0');
    expect(formatCount(999)).toBe('999');
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatCount(1234.6)).toBe('1,235');
  });

  it('prints done/total, percentage, rate, ETA and the distance to live', () => {
    expect(progressLine({ phase: 'replaying', done: 2500, total: 10_000 }, 500)).toBe(
      'rebuild replaying: 2,500/10,000 ops (25.0%), 500 ops/s, ETA 15s',
    );
    expect(
      progressLine({ phase: 'switching', done: 10_000, total: 10_040, behindLive: 40 }, 0),
    ).toBe('rebuild switching: 10,000/10,040 ops (99.6%), 0 ops/s, ETA --, 40 behind live');
    expect(progressLine({ phase: 'replaying', done: 0, total: 0 }, 0)).toContain('(100.0%)');
  });

  it('rewrites one line on a terminal and writes one line per update otherwise', () => {
    let done = 0;
    let now = 0;
    const tty: string[] = [];
    const plain: string[] = [];
    const snapshot = () => ({ phase: 'replaying', done, total: 100 });
    const onTty = new ProgressReporter(
      snapshot,
      (t) => tty.push(t),
      true,
      1000,
      () => now,
    );
    const onPipe = new ProgressReporter(
      snapshot,
      (t) => plain.push(t),
      false,
      1000,
      () => now,
    );
    for (const reporter of [onTty, onPipe]) reporter.report();
    now = 1000;
    done = 40;
    for (const reporter of [onTty, onPipe]) {
      reporter.report();
      reporter.message('note');
    }
    expect(tty[0]).toBe('\r\x1b[Krebuild replaying: 0/100 ops (0.0%), 0 ops/s, ETA --');
    expect(tty[1]).toBe('\r\x1b[Krebuild replaying: 40/100 ops (40.0%), 40 ops/s, ETA 2s');
    expect(tty.slice(2)).toEqual(['\n', 'note\n']);
    expect(plain).toEqual([
      'rebuild replaying: 0/100 ops (0.0%), 0 ops/s, ETA --\n',
      'rebuild replaying: 40/100 ops (40.0%), 40 ops/s, ETA 2s\n',
      'note\n',
    ]);
  });
});
