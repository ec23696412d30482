import type { CliIO } from './io.js';

/**
 * A progress bar on stderr. On a terminal it redraws one line; in a log (not a terminal) it
 * prints only the finished bar, so CI output stays short.
 */
export class ProgressBar {
  private done = 0;
  private readonly width = 24;

  constructor(
    private readonly io: CliIO,
    private readonly label: string,
    private readonly total: number,
  ) {}

  tick(detail = ''): void {
    this.advance(this.done + 1, detail);
  }

  /** Moves the bar to `done` of the total (progress reported in chunks). */
  advance(done: number, detail = ''): void {
    if (done <= this.done) return;
    this.done = Math.min(this.total, done);
    const frac = this.total === 0 ? 1 : this.done / this.total;
    const filled = Math.round(frac * this.width);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}`;
    const line = `${this.label} [${bar}] ${this.done}/${this.total}${detail ? ` ${detail}` : ''}`;
    if (this.io.isTTY) {
      this.io.stderr(`\r\x1b[K${line}`);
      if (this.done === this.total) this.io.stderr('\n');
      return;
    }
    if (this.done === this.total) this.io.stderr(`${line}\n`);
  }
}
