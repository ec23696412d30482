/**
 * `cnnv3 eval --sequence`: a dataset's samples as consecutive frames of one clip, run the way the
 * demo runs them — prev.rgb = the model's previous output, black on the first frame — and
 * measured by the demo's `StabilityMeter` (flicker ratio, per-frame change, drift on still
 * frames), with and without the feedback, next to per-frame PSNR against the targets.
 * Browser-safe: the model and the scoring come in as functions.
 */
import { StabilityMeter, type StabilityReport } from '../demo/stability.js';

export interface SequenceFrame {
  name: string;
  width: number;
  height: number;
  /** The albedo input as float RGBA (alpha unused), 0..1. */
  albedo: Float32Array;
  /** PSNR (RGB) of an RGBA output against this frame's target. */
  psnr(output: ArrayLike<number>): number;
}

export interface SequenceFrameScore {
  name: string;
  /** PSNR against the target with prev = the previous output (the demo's wiring). */
  psnr: number;
  /** The same frame run on its own (prev = 0, as eval scores it without --sequence). */
  psnr_no_feedback: number;
}

export interface SequenceReport {
  frames: SequenceFrameScore[];
  mean: { psnr: number; psnr_no_feedback: number };
  /** The demo's figures, with t = the frame index (a row per frame pair). */
  stability: { feedback: StabilityReport; no_feedback: StabilityReport };
}

/**
 * Runs `model(i, prev)` over the frames in order, where prev is the previous feedback output's
 * RGB (3 floats a pixel) or undefined (black: the first frame, and every frame of the run without
 * feedback); the model returns float RGBA.
 */
export function measureSequence(frames: readonly SequenceFrame[], model: (i: number, prev: Float32Array | undefined) => ArrayLike<number>, onFrame: (score: SequenceFrameScore) => void = () => {}): SequenceReport {
  const fed = new StabilityMeter();
  const alone = new StabilityMeter();
  const scores: SequenceFrameScore[] = [];
  let prev: Float32Array | undefined;
  frames.forEach((f, i) => {
    const withFeedback = Float32Array.from(model(i, prev));
    const without = i === 0 ? withFeedback : Float32Array.from(model(i, undefined));
    const n = f.width * f.height;
    prev = new Float32Array(n * 3);
    for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) prev[p * 3 + c] = withFeedback[p * 4 + c]!;
    fed.add(i, { output: withFeedback, albedo: f.albedo });
    alone.add(i, { output: without, albedo: f.albedo });
    const score = { name: f.name, psnr: f.psnr(withFeedback), psnr_no_feedback: f.psnr(without) };
    scores.push(score);
    onFrame(score);
  });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    frames: scores,
    mean: { psnr: mean(scores.map((s) => s.psnr)), psnr_no_feedback: mean(scores.map((s) => s.psnr_no_feedback)) },
    stability: { feedback: fed.table(), no_feedback: alone.table() },
  };
}
