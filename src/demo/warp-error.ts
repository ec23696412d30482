/**
 * The warping error E_warp of Lai et al. 2018 ("Learning Blind Video Temporal Consistency", §4):
 * how far each output frame is from the previous output carried along the scene's motion. Unlike
 * the flicker ratio it does not mistake motion for flicker: a moving picture that follows its
 * motion exactly scores 0.
 *
 *   E_pair(t) = Σ_p M_t(p) · ‖O_t(p) − Ô_{t−1}(p)‖² / Σ_p M_t(p),   Ô_{t−1}(p) = O_{t−1}(p + b_t(p))
 *   E_warp    = mean of E_pair over the frame pairs
 *
 * with ‖·‖² the squared distance over R, G, B in [0, 1], O_{t−1} sampled bilinearly at p + b_t(p)
 * (b_t: the motion of frame t to frame t−1), and M_t the mask of pixels with a source inside the
 * frame that is not occluded. Occlusion is found as Lai et al. find it (after Ruder et al. 2016):
 * forward–backward consistency — going back along b_t and forward again along the previous
 * frame's motion to the next frame, f_{t−1}, should land where it started; it is occluded where
 * |b + f|² > 0.01 · (|b|² + |f|²) + 0.5. Browser-safe, no dependencies.
 *
 * A rasteriser knows more than an optical flow and less than a renderer's Vector pass: the
 * demo's G-buffer motion (GBufferEffect, `RasterMotion`) is exact, but a forward renderer has no
 * motion to the next frame, so there the occlusion test is a depth test (`depthWarpMask`): the
 * point a pixel shows must have been the front-most surface where it was in the previous frame.
 * `warpBack` and `warpPairError` (given the mask) read only the first two channels, so they take
 * either kind of field.
 */

/** Per pixel (prev dx, prev dy, next dx, next dy), in pixels, x right, y down (motion.bin). */
export interface MotionPlanes {
  width: number;
  height: number;
  data: Float32Array;
}

/**
 * GBufferEffect's motion plane: per pixel (prev dx, prev dy, z_prev, z): the displacement in
 * pixels (x right, y down) to where the surface point was in the previous frame, that point's
 * view depth in the previous camera (0: it was behind it) and its view depth now (0: background,
 * no surface). The first two channels are MotionPlanes'.
 */
export type RasterMotion = MotionPlanes;

/**
 * How far (relative) the previous frame's inverse depth where a point lands may be from the
 * point's own before it is another surface. Inverse depth is affine in screen space across a
 * plane, so its bilinear sample is exact on flat surfaces whatever their slope; this leaves room
 * for curvature and for a sliver (under about 3 % of the sample's weight behind, 5 % for a
 * surface 2.5× as far) of another surface at a silhouette.
 */
export const DEPTH_TOLERANCE = 0.03;

export interface WarpPair {
  /** Σ M · ‖O_t − Ô_{t−1}‖² / Σ M; NaN when the mask is empty. */
  error: number;
  /** The fraction of pixels in the mask. */
  valid: number;
}

/**
 * Bilinear sample of channel `c` of an image with `k` channels a pixel at (x, y); the caller
 * keeps (x, y) inside [0, w−1] × [0, h−1].
 */
function bilinear(img: ArrayLike<number>, w: number, h: number, k: number, c: number, x: number, y: number): number {
  const x0 = Math.min(Math.floor(x), w - 1);
  const y0 = Math.min(Math.floor(y), h - 1);
  const x1 = Math.min(x0 + 1, w - 1);
  const y1 = Math.min(y0 + 1, h - 1);
  const fx = x - x0;
  const fy = y - y0;
  const at = (xx: number, yy: number) => img[(yy * w + xx) * k + c]!;
  return (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) + (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
}

/**
 * The mask M_t: 1 where the source p + b_t(p) lies inside the frame and, given the previous
 * frame's motion, passes the forward–backward check; without it only the frame test applies.
 */
export function warpMask(motion: MotionPlanes, previousMotion?: MotionPlanes): Uint8Array {
  const { width: w, height: h, data: m } = motion;
  if (previousMotion && (previousMotion.width !== w || previousMotion.height !== h)) {
    throw new Error(`motion fields of ${w}×${h} and ${previousMotion.width}×${previousMotion.height}`);
  }
  const mask = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const bx = m[p * 4]!;
      const by = m[p * 4 + 1]!;
      const sx = x + bx;
      const sy = y + by;
      if (!(sx >= 0 && sx <= w - 1 && sy >= 0 && sy <= h - 1)) continue;
      if (previousMotion) {
        const fx = bilinear(previousMotion.data, w, h, 4, 2, sx, sy);
        const fy = bilinear(previousMotion.data, w, h, 4, 3, sx, sy);
        const gap = (bx + fx) ** 2 + (by + fy) ** 2;
        if (gap > 0.01 * (bx * bx + by * by + fx * fx + fy * fy) + 0.5) continue;
      }
      mask[p] = 1;
    }
  }
  return mask;
}

/**
 * The mask M_t for a rasteriser's motion (`RasterMotion`): 1 where the source p + b_t(p) lies
 * inside the frame and the previous frame's surface there is the one p shows now: the previous
 * frame's inverse view depth 1/z, sampled bilinearly at the source as the colour is, within
 * `tolerance` (relative) of 1/z_prev of p's point (0 for background: background must meet
 * background). Where something else was in front (occluded) or the sample straddles a
 * silhouette it differs. A pixel whose point was behind the previous camera is left out.
 */
export function depthWarpMask(motion: RasterMotion, previous: RasterMotion, tolerance = DEPTH_TOLERANCE): Uint8Array {
  const { width: w, height: h, data: m } = motion;
  if (previous.width !== w || previous.height !== h) throw new Error(`motion fields of ${w}×${h} and ${previous.width}×${previous.height}`);
  const inverse = new Float32Array(w * h);
  for (let p = 0; p < w * h; p++) {
    const z = previous.data[p * 4 + 3]!;
    inverse[p] = z > 0 ? 1 / z : 0;
  }
  const mask = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const sx = x + m[p * 4]!;
      const sy = y + m[p * 4 + 1]!;
      if (!(sx >= 0 && sx <= w - 1 && sy >= 0 && sy <= h - 1)) continue;
      const zPrev = m[p * 4 + 2]!;
      const background = m[p * 4 + 3]! === 0;
      if (!background && !(zPrev > 0)) continue;
      const want = background ? 0 : 1 / zPrev;
      const got = bilinear(inverse, w, h, 1, 0, sx, sy);
      if (Math.abs(got - want) <= tolerance * Math.max(want, got)) mask[p] = 1;
    }
  }
  return mask;
}

/** O_{t−1} carried to frame t along b_t (RGBA in and out, k = 4; alpha carried too). */
export function warpBack(previous: ArrayLike<number>, motion: MotionPlanes): Float32Array {
  const { width: w, height: h, data: m } = motion;
  const out = new Float32Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      // Outside the frame the mask drops the pixel; clamping only keeps the read in bounds.
      const sx = Math.min(w - 1, Math.max(0, x + m[p * 4]!));
      const sy = Math.min(h - 1, Math.max(0, y + m[p * 4 + 1]!));
      for (let c = 0; c < 4; c++) out[p * 4 + c] = bilinear(previous, w, h, 4, c, sx, sy);
    }
  }
  return out;
}

/**
 * E_pair for one frame pair: `current` and `previous` float RGBA (0..1) of the motion's size,
 * `motion` frame t's field, `previousMotion` frame t−1's (for the occlusion test; the frame test
 * alone without it). `mask` may be passed in when several images share one pair of frames.
 */
export function warpPairError(current: ArrayLike<number>, previous: ArrayLike<number>, motion: MotionPlanes, previousMotion?: MotionPlanes, mask: Uint8Array = warpMask(motion, previousMotion)): WarpPair {
  const n = motion.width * motion.height;
  if (current.length !== n * 4 || previous.length !== n * 4) throw new Error(`images of ${current.length / 4} and ${previous.length / 4} pixels for a ${motion.width}×${motion.height} motion field`);
  const warped = warpBack(previous, motion);
  let sum = 0;
  let count = 0;
  for (let p = 0; p < n; p++) {
    if (mask[p] !== 1) continue;
    count++;
    for (let c = 0; c < 3; c++) sum += (current[p * 4 + c]! - warped[p * 4 + c]!) ** 2;
  }
  return { error: count === 0 ? NaN : sum / count, valid: count / n };
}
