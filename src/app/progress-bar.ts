/**
 * The replay progress bar on a TTY: percentage, rate and ETA, redrawn at most 5 times a
 * second on stderr. Called by the replay command with the pipeline's progress.
 */
import type { PipelineProgress } from '../pipeline/pipeline.js';

export class ProgressBar {
  private readonly started = Date.now();
  private last = 0;

  constructor(
    private readonly out: { write(s: string): boolean; columns?: number },
    private readonly totalBytes: number,
  ) {}

  update(p: PipelineProgress): void {
    const now = Date.now();
    if (now - this.last < 200) return;
    this.last = now;
    this.out.write('\r' + this.render(p, now) + '\x1b[K');
  }

  /** The bar line (exported for tests: no TTY needed). */
  render(p: PipelineProgress, now = Date.now()): string {
    const secs = Math.max((now - this.started) / 1000, 0.001);
    const rate = p.records / secs;
    const frac = this.totalBytes > 0 ? Math.min(p.bytes / this.totalBytes, 1) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const eta = frac > 0 ? (secs / frac) * (1 - frac) : NaN;
    const bar = this.totalBytes > 0 ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(1)}% ` : '';
    return `${bar}${fmt(p.records)} records ${fmt(rate)}/s, ${fmt(p.events)} events${Number.isFinite(eta) ? `, ETA ${clock(eta)}` : ''}${p.malformed ? `, ${p.malformed} malformed` : ''}`;
  }

  done(): void {
    this.out.write('\r\x1b[K');
  }
}

function fmt(n: number): string {
  if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
  if (n >= 1e3) return (n / 1e3).toFixed(1) + 'k';
  return String(Math.round(n));
}

function clock(s: number): string {
  const m = Math.floor(s / 60);
  const sec = Math.floor(s % 60);
  return `${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}
