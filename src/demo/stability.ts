/**
 * Temporal stability of a rendered clip (`cnnv3 demo --stability`): per second, the mean
 * frame-to-frame change of the CNN output against that of its albedo input (the flicker ratio),
 * and, over every still shot (consecutive frames whose albedo does not change at all), the drift:
 * PSNR of each later output against the shot's first. A frame without a CNN output breaks both.
 * Every frame's change is kept too, for the plot beside the frames (`stabilityPlotPng`).
 */
import { psnr } from '../image/metrics.js';
import { seriesPlotPng } from '../image/plot.js';

/** One frame's CNN output and albedo input, float RGBA of one size. */
export interface StabilityFrame {
  output: Float32Array;
  albedo: Float32Array;
}

export interface StabilityRow {
  second: number;
  pairs: number;
  output: number;
  albedo: number;
}

/** A run of frames whose input is still: the output should be too. */
export interface StillShot {
  /** Time (s) of its first frame. */
  start: number;
  frames: number;
  /** PSNR (RGB) of the last frame's output against the first's; Infinity when identical. */
  lastPsnr: number;
  /** The lowest such PSNR over the shot's frames. */
  minPsnr: number;
  /**
   * PSNR of the last frame's output against the second's (the first frame of a shot after a cut
   * has a black previous frame; from the second on, feedback should hold the picture still).
   */
  lastVsSecondPsnr: number;
}

/** One frame's change from the frame before (NaN: no pair — the first frame, or no CNN output on either). */
export interface FrameChange {
  t: number;
  output: number;
  albedo: number;
  /** The set of running effects changed at this frame (a cut; the engine's feedback restarts black). */
  cut: boolean;
}

export interface StabilityReport {
  rows: StabilityRow[];
  /** Every frame added, in order. */
  frames: FrameChange[];
  total: StabilityRow;
  /** Still shots of at least two frames. */
  still: StillShot[];
}

/** The RGB mean absolute difference of two float RGBA images. */
export function meanAbsRgb(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let p = 0; p < a.length / 4; p++) for (let c = 0; c < 3; c++) s += Math.abs(a[p * 4 + c]! - b[p * 4 + c]!);
  return s / ((a.length / 4) * 3);
}

function sameImage(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const summary = ({ start, frames, lastPsnr, minPsnr, lastVsSecondPsnr }: StillShot): StillShot => ({ start, frames, lastPsnr, minPsnr, lastVsSecondPsnr });

export class StabilityMeter {
  private last: StabilityFrame | undefined;
  private readonly rows = new Map<number, StabilityRow>();
  private shot: { first: StabilityFrame; second?: Float32Array; start: number; frames: number; lastPsnr: number; minPsnr: number; lastVsSecondPsnr: number } | undefined;
  private readonly shots: StillShot[] = [];
  private readonly frames: FrameChange[] = [];

  /**
   * Adds the frame shown at time `t` (seconds; rows group by its whole part); undefined: a frame
   * without a CNN output. `cut` only marks the frame in the per-frame record and the plot.
   */
  add(t: number, frame: StabilityFrame | undefined, cut = false): void {
    const change: FrameChange = { t, output: NaN, albedo: NaN, cut };
    if (frame && this.last && this.last.output.length === frame.output.length) {
      const second = Math.floor(t);
      const row = this.rows.get(second) ?? { second, pairs: 0, output: 0, albedo: 0 };
      change.output = meanAbsRgb(frame.output, this.last.output);
      change.albedo = meanAbsRgb(frame.albedo, this.last.albedo);
      row.pairs++;
      row.output += change.output;
      row.albedo += change.albedo;
      this.rows.set(second, row);
    }
    this.frames.push(change);
    if (frame && this.shot && this.last && sameImage(frame.albedo, this.shot.first.albedo)) {
      const p = psnr(frame.output, this.shot.first.output, 4, [0, 1, 2]);
      this.shot.frames++;
      this.shot.second ??= frame.output;
      this.shot.lastVsSecondPsnr = psnr(frame.output, this.shot.second, 4, [0, 1, 2]);
      this.shot.lastPsnr = p;
      this.shot.minPsnr = Math.min(this.shot.minPsnr, p);
    } else {
      this.endShot();
      if (frame) this.shot = { first: frame, start: t, frames: 1, lastPsnr: Infinity, minPsnr: Infinity, lastVsSecondPsnr: Infinity };
    }
    this.last = frame;
  }

  private endShot(): void {
    if (this.shot && this.shot.frames >= 2) this.shots.push(summary(this.shot));
    this.shot = undefined;
  }

  table(): StabilityReport {
    const rows = [...this.rows.values()].sort((a, b) => a.second - b.second).map((r) => ({ ...r, output: r.output / r.pairs, albedo: r.albedo / r.pairs }));
    const pairs = rows.reduce((n, r) => n + r.pairs, 0);
    const mean = (k: 'output' | 'albedo') => (pairs === 0 ? 0 : rows.reduce((s, r) => s + r[k] * r.pairs, 0) / pairs);
    const open = this.shot && this.shot.frames >= 2 ? [summary(this.shot)] : [];
    return { rows, frames: this.frames.map((f) => ({ ...f })), total: { second: -1, pairs, output: mean('output'), albedo: mean('albedo') }, still: [...this.shots, ...open] };
  }
}

const ratio = (r: StabilityRow): string => (r.albedo > 0 ? (r.output / r.albedo).toFixed(3) : '—');
const db = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)} dB` : 'identical');

/**
 * The report as text. `unit` 'frame': `t` counts frames (a sequence dataset in `cnnv3 eval`), so
 * each row is one frame's change from the one before.
 */
export function formatStability(t: StabilityReport, unit: 'second' | 'frame' = 'second'): string {
  const line = (label: string, r: StabilityRow) =>
    `${label.padStart(7)}  ${String(r.pairs).padStart(5)}  ${r.output.toFixed(5).padStart(10)}  ${r.albedo.toFixed(5).padStart(10)}  ${ratio(r).padStart(7)}\n`;
  let s = `Temporal stability: mean |Δ| between consecutive frames (RGB, 0..1)\n${unit.padStart(7)}  ${'pairs'.padStart(5)}  ${'output Δ'.padStart(10)}  ${'albedo Δ'.padStart(10)}  ${'ratio'.padStart(7)}\n`;
  for (const r of t.rows) s += line(`${r.second}`, r);
  s += line('all', t.total);
  s += t.total.pairs === 0
    ? 'No consecutive frames with a CNNv3Effect: nothing to compare.\n'
    : `ratio = output Δ / albedo Δ: ${ratio(t.total)} (below 1: the effect changes less than its input; — where the input is still)\n`;
  for (const shot of t.still) {
    const from = unit === 'frame' ? `frame ${shot.start}` : `t = ${shot.start.toFixed(2)} s`;
    s += `Drift on a still shot from ${from} (${shot.frames} frames, input unchanged): last frame vs first ${db(shot.lastPsnr)} (lowest ${db(shot.minPsnr)}), vs second ${db(shot.lastVsSecondPsnr)}\n`;
  }
  return s;
}

/** The report (or one that holds it) as JSON: Infinity (identical frames) and NaN (no pair) written as null. */
export function stabilityJson(t: StabilityReport | object): string {
  return JSON.stringify(t, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2);
}

/**
 * The per-frame change as a PNG (`DIR/stability.png` beside the demo's frames): mean |Δ| of the
 * output (red) and of its albedo input (blue) against time or frame index, a gap where a frame has
 * no pair, a dashed line at each cut.
 */
export function stabilityPlotPng(t: StabilityReport, width = 720, height = 400): Uint8Array {
  const n = t.frames.length;
  // Frame indices (eval's sequences: t = 0, 1, 2, …) or seconds (the demo: t = from + i/fps).
  const indices = t.frames.every((f, i) => f.t === i);
  const end = (f: FrameChange | undefined) => (f === undefined ? '0' : indices ? String(f.t) : f.t.toFixed(2));
  return seriesPlotPng(
    [
      { name: 'output', values: t.frames.map((f) => f.output), colour: [200, 60, 20] },
      { name: 'albedo (input)', values: t.frames.map((f) => f.albedo), colour: [30, 90, 200] },
    ],
    'mean abs change from the previous frame (rgb)',
    width,
    height,
    { xLabel: indices ? 'frame' : 'time (s)', xEnds: [end(t.frames[0]), end(t.frames[n - 1])], markers: t.frames.flatMap((f, i) => (f.cut ? [i] : [])), tight: true },
  );
}
