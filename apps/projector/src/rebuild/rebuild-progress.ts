/** Speed over the last few seconds, so the ETA follows the current pace rather than the average. */
export class RateWindow {
  private readonly samples: { atMs: number; done: number }[] = [];

  constructor(private readonly windowMs = 5000) {}

  add(atMs: number, done: number): void {
    this.samples.push({ atMs, done });
    // Keep one sample older than the window, so the rate spans the whole window.
    while (this.samples.length > 2 && this.samples[1].atMs <= atMs - this.windowMs) {
      this.samples.shift();
    }
  }

  /** Units per second between the oldest kept sample and the newest; 0 until time has passed. */
  perSecond(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const seconds = (last.atMs - first.atMs) / 1000;
    if (seconds <= 0) return 0;
    return Math.max(0, (last.done - first.done) / seconds);
  }
}

/** Seconds left at `rate` per second, undefined when the rate says nothing (zero). */
export function etaSeconds(done: number, total: number, rate: number): number | undefined {
  if (done >= total) return 0;
  if (!(rate > 0)) return undefined;
  return (total - done) / rate;
}

/** 75 -> "1m15s", 3725 -> "1h02m", 9 -> "9s"; undefined -> "--". */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '--';
  const whole = Math.ceil(Math.max(0, seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = whole % 60;
  if (hours > 0) return `${hours}h${String(minutes).padStart(2, '0')}m`;
  if (minutes > 0) return `${minutes}m${String(secs).padStart(2, '0')}s`;
  return `${secs}s`;
}

/** 1234567 -> "1,234,567". */
export function formatCount(value: number): string {
  return Math.round(value)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export interface ProgressSnapshot {
  /** What the rebuild is doing: replaying, switching, ... */
  phase: string;
  /** Offsets applied into the new tables (summed over partitions). */
  done: number;
  /** End of the topic (summed over partitions); grows while ops keep arriving. */
  total: number;
  /** Offsets the new tables trail the live ones by, when known. */
  behindLive?: number;
}

export function progressLine(snapshot: ProgressSnapshot, rate: number): string {
  const { phase, done, total } = snapshot;
  const percent = total > 0 ? Math.min(100, (done / total) * 100) : 100;
  const parts = [
    `rebuild ${phase}: ${formatCount(done)}/${formatCount(total)} ops (${percent.toFixed(1)}%)`,
    `${formatCount(rate)} ops/s`,
    `ETA ${formatDuration(etaSeconds(done, total, rate))}`,
  ];
  if (snapshot.behindLive !== undefined) {
    parts.push(`${formatCount(snapshot.behindLive)} behind live`);
  }
  return parts.join(', ');
}

/**
 * Prints a progress line every interval: rewritten in place on a terminal, one line per update
 * otherwise (logs and pipes keep every line).
 */
export class ProgressReporter {
  private readonly rate = new RateWindow();
  private timer: NodeJS.Timeout | undefined;
  private lastLength = 0;

  constructor(
    private readonly snapshot: () => ProgressSnapshot,
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.report();
    this.timer = setInterval(() => this.report(), this.intervalMs);
    this.timer.unref();
  }

  report(): void {
    const snapshot = this.snapshot();
    this.rate.add(this.now(), snapshot.done);
    const line = progressLine(snapshot, this.rate.perSecond());
    this.lastLength = line.length;
    this.write(this.tty ? `\r\x1b[K${line}` : `${line}\n`);
  }

  /** A message between progress lines: on a terminal, ends the rewritten line first. */
  message(text: string): void {
    if (this.tty && this.lastLength > 0) this.write('\n');
    this.lastLength = 0;
    this.write(`${text}\n`);
  }

  /** Ends the updates; the last line printed stays as it is. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty && this.lastLength > 0) this.write('\n');
    this.lastLength = 0;
  }
}
