/**
 * `cnnv3 eval --sequence`: a dataset's samples as consecutive frames of one clip, run the way the
 * demo runs them — prev.rgb = the model's previous output, black on the first frame — and
 * measured by the demo's `StabilityMeter` (flicker ratio, per-frame change, drift on still
 * frames), with and without the feedback, next to per-frame PSNR against the targets; where every
 * frame carries its motion (Blender's Vector pass), also the warping error E_warp of Lai et al.
 * (`demo/warp-error.ts`) of both runs and of the targets themselves, its floor.
 * Browser-safe: the model and the scoring come in as functions.
 */
import { StabilityMeter, type StabilityReport } from '../demo/stability.js';
import { warpMask, warpPairError, type MotionPlanes } from '../demo/warp-error.js';

export interface SequenceFrame {
  name: string;
  width: number;
  height: number;
  /** The albedo input as float RGBA (alpha unused), 0..1. */
  albedo: Float32Array;
  /** PSNR (RGB) of an RGBA output against this frame's target. */
  psnr(output: ArrayLike<number>): number;
  /** The frame's motion (motion.bin) and its target as float RGBA 0..1: both, for E_warp. */
  motion?: MotionPlanes;
  target?: Float32Array;
}

/** E_pair of one frame against the one before (NaN on the first frame, or an empty mask). */
export interface FrameWarpError {
  feedback: number;
  no_feedback: number;
  target: number;
  /** The fraction of pixels in the mask (in frame, not occluded). */
  valid: number;
}

export interface SequenceFrameScore {
  name: string;
  /** PSNR against the target with prev = the previous output (the demo's wiring). */
  psnr: number;
  /** The same frame run on its own (prev = 0, as eval scores it without --sequence). */
  psnr_no_feedback: number;
  /** Present on every frame when every frame carries motion and a target. */
  e_warp?: FrameWarpError;
}

/** E_warp: the mean of the frames' E_pair (pairs with an empty mask left out). */
export interface WarpSummary {
  feedback: number;
  no_feedback: number;
  /** The rendered targets' own E_warp: what a perfect model would score (shading, noise, specular motion). */
  target: number;
  pairs: number;
  /** Mean fraction of pixels in the mask. */
  valid: number;
  occlusion: 'forward-backward';
}

export interface SequenceReport {
  frames: SequenceFrameScore[];
  mean: { psnr: number; psnr_no_feedback: number };
  /** The demo's figures, with t = the frame index (a row per frame pair). */
  stability: { feedback: StabilityReport; no_feedback: StabilityReport };
  /** Null when some frame carries no motion. */
  warp: WarpSummary | null;
}

const rgb = (rgba: ArrayLike<number>, n: number): Float32Array => {
  const out = new Float32Array(n * 3);
  for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = rgba[p * 4 + c]!;
  return out;
};

/**
 * Runs `model(i, prev)` over the frames in order, where prev is the previous feedback output's
 * RGB (3 floats a pixel) or undefined (black: the first frame, and every frame of the run without
 * feedback); the model returns float RGBA.
 */
export function measureSequence(frames: readonly SequenceFrame[], model: (i: number, prev: Float32Array | undefined) => ArrayLike<number>, onFrame: (score: SequenceFrameScore) => void = () => {}): SequenceReport {
  const fed = new StabilityMeter();
  const alone = new StabilityMeter();
  const scores: SequenceFrameScore[] = [];
  const withWarp = frames.every((f) => f.motion !== undefined && f.target !== undefined);
  let prev: Float32Array | undefined;
  let last: { fed: Float32Array; alone: Float32Array } | undefined;
  frames.forEach((f, i) => {
    const withFeedback = Float32Array.from(model(i, prev));
    const without = i === 0 ? withFeedback : Float32Array.from(model(i, undefined));
    const n = f.width * f.height;
    prev = rgb(withFeedback, n);
    fed.add(i, { output: withFeedback, albedo: f.albedo });
    alone.add(i, { output: without, albedo: f.albedo });
    const score: SequenceFrameScore = { name: f.name, psnr: f.psnr(withFeedback), psnr_no_feedback: f.psnr(without) };
    if (withWarp) {
      const before = frames[i - 1];
      if (i === 0 || !before || !last) score.e_warp = { feedback: NaN, no_feedback: NaN, target: NaN, valid: NaN };
      else {
        // One mask for the three images: the same frames, so the same pixels are compared.
        const mask = warpMask(f.motion!, before.motion!);
        const pair = (cur: Float32Array, old: Float32Array) => warpPairError(cur, old, f.motion!, before.motion!, mask);
        const t = pair(f.target!, before.target!);
        score.e_warp = { feedback: pair(withFeedback, last.fed).error, no_feedback: pair(without, last.alone).error, target: t.error, valid: t.valid };
      }
    }
    last = { fed: withFeedback, alone: without };
    scores.push(score);
    onFrame(score);
  });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  let warp: WarpSummary | null = null;
  if (withWarp) {
    const pairs = scores.map((s) => s.e_warp!).filter((e) => Number.isFinite(e.target));
    warp = {
      feedback: mean(pairs.map((e) => e.feedback)),
      no_feedback: mean(pairs.map((e) => e.no_feedback)),
      target: mean(pairs.map((e) => e.target)),
      pairs: pairs.length,
      valid: mean(pairs.map((e) => e.valid)),
      occlusion: 'forward-backward',
    };
    if (pairs.length === 0) warp = { ...warp, feedback: NaN, no_feedback: NaN, target: NaN, valid: 0 };
  }
  return {
    frames: scores,
    mean: { psnr: mean(scores.map((s) => s.psnr)), psnr_no_feedback: mean(scores.map((s) => s.psnr_no_feedback)) },
    stability: { feedback: fed.table(), no_feedback: alone.table() },
    warp,
  };
}
