/**
 * Temporal stability of a rendered clip (`cnnv3 demo --stability`): per second, the mean
 * frame-to-frame change of the CNN output against that of its albedo input (the flicker ratio),
 * and, over every still shot (consecutive frames whose albedo does not change at all), the drift:
 * PSNR of each later output against the shot's first. A frame without a CNN output breaks both.
 * Every frame's change is kept too, for the plot beside the frames (`stabilityPlotPng`).
 * With `warp` on (the demo), also the warping error E_warp of Lai et al. 2018 (warp-error.ts)
 * of each pair of consecutive frames that both carry the G-buffer's motion plane and are not
 * split by a cut, with the depth-tested occlusion mask of `depthWarpMask`: photo and video
 * features have no motion, and their seconds say "not available".
 */
import { psnr } from '../image/metrics.js';
import { seriesPlotPng } from '../image/plot.js';
import { depthWarpMask, warpPairError, type RasterMotion } from './warp-error.js';

/** One frame's CNN output and albedo input, float RGBA of one size. */
export interface StabilityFrame {
  output: Float32Array;
  albedo: Float32Array;
  /** The motion plane of the G-buffer the features came from (RasterMotion); none: no E_warp. */
  motion?: RasterMotion;
}

/** E_warp over the pairs of one second (or of the whole clip: second −1). */
export interface WarpRow {
  second: number;
  pairs: number;
  /** Mean E_pair; NaN without pairs. */
  error: number;
  /** Mean fraction of pixels in the mask. */
  valid: number;
}

export interface WarpReport {
  rows: WarpRow[];
  total: WarpRow;
  /** How occluded pixels are found: the previous frame's depth (warp-error.ts depthWarpMask). */
  occlusion: 'depth';
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
  /** E_pair from the frame before (meters with `warp` on only; NaN: no pair with motion). */
  warp?: number;
}

export interface StabilityReport {
  rows: StabilityRow[];
  /** Every frame added, in order. */
  frames: FrameChange[];
  total: StabilityRow;
  /** Still shots of at least two frames. */
  still: StillShot[];
  /** E_warp (meters with `warp` on only). */
  warp?: WarpReport;
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
  private readonly warpRows = new Map<number, WarpRow>();
  private readonly warp: boolean;

  /** `warp`: measure E_warp where frames carry motion (the demo; eval has its own). */
  constructor(opts: { warp?: boolean } = {}) {
    this.warp = opts.warp === true;
  }

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
    if (this.warp) change.warp = this.addWarp(t, frame, cut);
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

  /** E_pair of this frame against the last, where both have motion of this size and no cut parts them. */
  private addWarp(t: number, frame: StabilityFrame | undefined, cut: boolean): number {
    const last = this.last;
    if (cut || !frame?.motion || !last?.motion || last.output.length !== frame.output.length) return NaN;
    const { motion } = frame;
    if (motion.width * motion.height * 4 !== frame.output.length || last.motion.width !== motion.width || last.motion.height !== motion.height) return NaN;
    const pair = warpPairError(frame.output, last.output, motion, undefined, depthWarpMask(motion, last.motion));
    // An empty mask (everything moved out of frame or was uncovered) says nothing: left out, as eval does.
    if (!Number.isFinite(pair.error)) return NaN;
    const second = Math.floor(t);
    const row = this.warpRows.get(second) ?? { second, pairs: 0, error: 0, valid: 0 };
    row.pairs++;
    row.error += pair.error;
    row.valid += pair.valid;
    this.warpRows.set(second, row);
    return pair.error;
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
    const report: StabilityReport = { rows, frames: this.frames.map((f) => ({ ...f })), total: { second: -1, pairs, output: mean('output'), albedo: mean('albedo') }, still: [...this.shots, ...open] };
    if (this.warp) {
      const sums = [...this.warpRows.values()].sort((a, b) => a.second - b.second);
      const n = sums.reduce((k, r) => k + r.pairs, 0);
      const all = sums.reduce((a, r) => ({ ...a, error: a.error + r.error, valid: a.valid + r.valid }), { second: -1, pairs: n, error: 0, valid: 0 });
      const average = (r: WarpRow): WarpRow => ({ ...r, error: r.pairs === 0 ? NaN : r.error / r.pairs, valid: r.pairs === 0 ? 0 : r.valid / r.pairs });
      report.warp = { rows: sums.map(average), total: average(all), occlusion: 'depth' };
    }
    return report;
  }
}

const ratio = (r: StabilityRow): string => (r.albedo > 0 ? (r.output / r.albedo).toFixed(3) : '—');
const db = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)} dB` : 'identical');

/**
 * The report as text. `unit` 'frame': `t` counts frames (a sequence dataset in `cnnv3 eval`), so
 * each row is one frame's change from the one before.
 */
export function formatStability(t: StabilityReport, unit: 'second' | 'frame' = 'second'): string {
  const w = t.warp;
  const warpCol = (r: WarpRow | undefined) => (w ? `  ${(r && r.pairs > 0 ? r.error.toFixed(6) : 'n/a').padStart(9)}` : '');
  const line = (label: string, r: StabilityRow, wr: WarpRow | undefined) =>
    `${label.padStart(7)}  ${String(r.pairs).padStart(5)}  ${r.output.toFixed(5).padStart(10)}  ${r.albedo.toFixed(5).padStart(10)}  ${ratio(r).padStart(7)}${warpCol(wr)}\n`;
  let s = `Temporal stability: mean |Δ| between consecutive frames (RGB, 0..1)\n${unit.padStart(7)}  ${'pairs'.padStart(5)}  ${'output Δ'.padStart(10)}  ${'albedo Δ'.padStart(10)}  ${'ratio'.padStart(7)}${w ? `  ${'E_warp'.padStart(9)}` : ''}\n`;
  for (const r of t.rows) s += line(`${r.second}`, r, w?.rows.find((x) => x.second === r.second));
  s += line('all', t.total, w?.total);
  s += t.total.pairs === 0
    ? 'No consecutive frames with a CNNv3Effect: nothing to compare.\n'
    : `ratio = output Δ / albedo Δ: ${ratio(t.total)} (below 1: the effect changes less than its input; — where the input is still)\n`;
  if (w) {
    s += w.total.pairs > 0
      ? `Warping error E_warp (Lai et al. 2018; RGB 0..1, squared, along the G-buffer's motion; ${w.total.pairs} frame pairs, ${Math.round(w.total.valid * 100)}% of pixels in frame and not occluded by the depth test): ${w.total.error.toFixed(6)}${w.rows.length < t.rows.length ? ' (n/a: seconds without G-buffer motion)' : ''}\n`
      : 'Warping error E_warp: not available (no consecutive frames with G-buffer motion: photo and video features have none)\n';
  }
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
