/**
 * Training examples (SPEC §5.2–5.4): patches cut from whole-image features, channel dropout
 * by group, and random FiLM conditions.
 * Layout: HWC float32, as in fast.ts.
 */
import { CH, NUM_FEATURES } from '../dataset/features.js';
import { STYLE_COND_INDEX } from '../model/config.js';
import type { Rng } from '../util/rng.js';

/** Top-left corner of a `size` window centred on `c`, shifted to lie inside [0, n). */
export function patchOrigin(c: number, size: number, n: number): number {
  if (n <= size) return 0;
  return Math.min(n - size, Math.max(0, c - Math.floor(size / 2)));
}

/**
 * Copies a size×size window of an HWC image (C channels) at (x0, y0) into `out`; where the image
 * is smaller than the window, the rest is zero.
 */
export function cropHwc(src: Float32Array, W: number, H: number, C: number, x0: number, y0: number, size: number, out: Float32Array): void {
  out.fill(0, 0, size * size * C);
  const w = Math.min(size, W - x0);
  const h = Math.min(size, H - y0);
  for (let y = 0; y < h; y++) {
    const from = ((y0 + y) * W + x0) * C;
    out.set(src.subarray(from, from + w * C), y * size * C);
  }
}

/** Channel groups zeroed as a whole, with their drop probabilities as a function of p. */
export const DROPOUT_GROUPS = [
  { name: 'geometric', channels: [3, 4, 5, 6, 7], p: (p: number) => p },
  { name: 'context', channels: [8, 18, 19], p: (p: number) => p * 0.67 },
  { name: 'temporal', channels: [9, 10, 11], p: () => 0.5 },
] as const;

/** Zeroes the dropped groups of an HWC patch; one draw per group, in the order above. */
export function applyChannelDropout(x: Float32Array, pixels: number, p: number, rng: Rng): void {
  for (const group of DROPOUT_GROUPS) {
    if (rng.next() >= group.p(p)) continue;
    for (let q = 0; q < pixels; q++) for (const c of group.channels) x[q * NUM_FEATURES + c] = 0;
  }
}

export function randomCondition(dim: number, rng: Rng, out: Float32Array): void {
  for (let i = 0; i < dim; i++) out[i] = rng.next();
}

/**
 * The condition controls of a run (ModelConfig.styleConds / strengthCond) applied to one patch,
 * after its condition was drawn: the image's style coordinates replace style_p0/p1, and the
 * strength entry s moves the target from the untouched input (albedo, 1 − transp) to the style:
 * `t ← u + s·(t − u)`. Pixels outside the image (zero padding) keep their zero target.
 */
export function applyConditionControls(
  image: { width: number; height: number; features: Float32Array; style?: readonly [number, number] },
  controls: { strengthCond?: number; styleConds?: boolean },
  cond: Float32Array,
  target: Float32Array,
  x0: number,
  y0: number,
  side: number,
): void {
  if (controls.styleConds && image.style && cond.length > STYLE_COND_INDEX[1]) {
    cond[STYLE_COND_INDEX[0]] = image.style[0];
    cond[STYLE_COND_INDEX[1]] = image.style[1];
  }
  if (controls.strengthCond === undefined) return;
  const s = cond[controls.strengthCond]!;
  for (let y = 0; y < side; y++) {
    const sy = y0 + y;
    if (sy < 0 || sy >= image.height) continue;
    for (let x = 0; x < side; x++) {
      const sx = x0 + x;
      if (sx < 0 || sx >= image.width) continue;
      const f = (sy * image.width + sx) * NUM_FEATURES;
      const t = (y * side + x) * 4;
      for (let c = 0; c < 4; c++) {
        const plain = c < 3 ? image.features[f + c]! : 1 - image.features[f + 19]!;
        target[t + c] = plain + s * (target[t + c]! - plain);
      }
    }
  }
}

/** A previous frame as training sees it (`--feedback-p`): where it was, how it was lit. */
export interface FeedbackView {
  dx: number;
  dy: number;
  exposure: number;
}

/** Largest shift (pixels) and exposure change of a simulated previous frame. */
export const FEEDBACK_MAX_SHIFT = 3;
export const FEEDBACK_MAX_EXPOSURE = 0.05;

/**
 * The views of a feedback chain, oldest first: one or two earlier frames (an unroll of one or two
 * steps), each a few pixels further away and slightly differently exposed. Draws from `rng`.
 */
export function drawFeedbackViews(rng: Rng): FeedbackView[] {
  const steps = rng.next() < 0.5 ? 1 : 2;
  const views: FeedbackView[] = [];
  let dx = 0;
  let dy = 0;
  for (let s = 0; s < steps; s++) {
    dx += Math.floor(rng.next() * (2 * FEEDBACK_MAX_SHIFT + 1)) - FEEDBACK_MAX_SHIFT;
    dy += Math.floor(rng.next() * (2 * FEEDBACK_MAX_SHIFT + 1)) - FEEDBACK_MAX_SHIFT;
    views.unshift({ dx, dy, exposure: 1 + (rng.next() * 2 - 1) * FEEDBACK_MAX_EXPOSURE });
  }
  return views;
}

/** Scales a patch's colour channels (albedo and its means) by `exposure`, clamped to [0, 1]. */
export function exposePatch(x: Float32Array, px: number, exposure: number): void {
  for (let p = 0; p < px; p++) {
    const o = p * NUM_FEATURES;
    for (const base of [CH.albedo, CH.mip1, CH.mip2]) {
      for (let c = 0; c < 3; c++) x[o + base + c] = Math.min(1, x[o + base + c]! * exposure);
    }
  }
}

/** Adds uniform noise in ±σ to a patch's albedo (a frame's sensor noise), clamped to [0, 1]. */
export function addAlbedoNoise(x: Float32Array, px: number, sigma: number, rng: Rng): void {
  for (let p = 0; p < px; p++) {
    for (let c = 0; c < 3; c++) {
      const i = p * NUM_FEATURES + CH.albedo + c;
      x[i] = Math.min(1, Math.max(0, x[i]! + (rng.next() * 2 - 1) * sigma));
    }
  }
}

/** Writes an RGBA output (px × 4) into a patch's prev.rgb channels (SPEC §3 channels 9–11). */
export function setPrev(x: Float32Array, px: number, rgba: ArrayLike<number>): void {
  for (let p = 0; p < px; p++) for (let c = 0; c < 3; c++) x[p * NUM_FEATURES + CH.prev + c] = rgba[p * 4 + c]!;
}
