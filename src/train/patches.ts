/**
 * Training examples (SPEC §5.2–5.4): patches cut from whole-image features, channel dropout
 * by group, and random FiLM conditions.
 * Layout: HWC float32, as in fast.ts.
 */
import { NUM_FEATURES } from '../dataset/features.js';
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
