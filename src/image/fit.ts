/**
 * Fitting an image into a frame of another shape: the one geometry behind every `--fit`.
 *
 * - `stretch`: the whole source onto the whole frame; the aspect ratio changes.
 * - `contain`: the whole source, scaled to fit inside the frame and centred; the rest of the
 *   frame is padding (letterbox or pillarbox bars).
 * - `cover`: scaled to cover the frame and centre-cropped; the source rect is the centred part
 *   of the image with the frame's aspect ratio.
 *
 * Rects are whole pixels; a centred rect puts the odd pixel on the right or bottom.
 */

export const FIT_MODES = ['stretch', 'contain', 'cover'] as const;
export type FitMode = (typeof FIT_MODES)[number];

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** `src`: the part of the source that is shown; `dst`: where it lands in the frame (resized to its size). */
export interface FitRects {
  src: Rect;
  dst: Rect;
}

const positiveInt = (v: number): boolean => Number.isSafeInteger(v) && v > 0;

/** round(a / b) for non-negative integers a and positive b, exactly (ties away from zero, as Math.round). */
const roundDiv = (a: number, b: number): number => Math.floor((2 * a + b) / (2 * b));

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** The source rect and the frame rect of fitting a srcWidth×srcHeight image into dstWidth×dstHeight. */
export function fitRects(srcWidth: number, srcHeight: number, dstWidth: number, dstHeight: number, mode: FitMode): FitRects {
  if (![srcWidth, srcHeight, dstWidth, dstHeight].every(positiveInt)) {
    throw new RangeError(`fitRects: sizes must be positive integers, got ${srcWidth}×${srcHeight} → ${dstWidth}×${dstHeight}`);
  }
  const full = (width: number, height: number): Rect => ({ x: 0, y: 0, width, height });
  // The frame is at least as wide, relative to its height, as the source (compared exactly).
  const frameWider = dstWidth * srcHeight >= dstHeight * srcWidth;
  switch (mode) {
    case 'stretch':
      return { src: full(srcWidth, srcHeight), dst: full(dstWidth, dstHeight) };
    case 'contain': {
      // Heights match when the frame is wider (bars left and right), else widths (bars above and below).
      const width = frameWider ? clamp(roundDiv(srcWidth * dstHeight, srcHeight), 1, dstWidth) : dstWidth;
      const height = frameWider ? dstHeight : clamp(roundDiv(srcHeight * dstWidth, srcWidth), 1, dstHeight);
      return { src: full(srcWidth, srcHeight), dst: { x: Math.floor((dstWidth - width) / 2), y: Math.floor((dstHeight - height) / 2), width, height } };
    }
    case 'cover': {
      // Widths match when the frame is wider (rows cut above and below), else heights (columns cut at the sides).
      const width = frameWider ? srcWidth : clamp(roundDiv(srcHeight * dstWidth, dstHeight), 1, srcWidth);
      const height = frameWider ? clamp(roundDiv(srcWidth * dstHeight, dstWidth), 1, srcHeight) : srcHeight;
      return { src: { x: Math.floor((srcWidth - width) / 2), y: Math.floor((srcHeight - height) / 2), width, height }, dst: full(dstWidth, dstHeight) };
    }
    default:
      throw new RangeError(`fitRects: unknown mode ${JSON.stringify(mode)}`);
  }
}

/** Whether two aspect ratios (width/height) differ by more than `tolerance` (relative; default 1%). */
export function aspectDiffers(aWidth: number, aHeight: number, bWidth: number, bHeight: number, tolerance = 0.01): boolean {
  const a = aWidth / aHeight;
  const b = bWidth / bHeight;
  return Math.max(a, b) / Math.min(a, b) - 1 > tolerance;
}

/** A resampler of interleaved pixels (resizeLanczos3, resizeNearest). */
export type Resampler<T extends Uint8Array | Uint16Array> = (src: T, width: number, height: number, channels: number, outWidth: number, outHeight: number) => T;

/**
 * An interleaved image fitted into outWidth×outHeight: the source rect cut out, resized by
 * `resample` to the frame rect, and placed on a frame filled with `pad` (one value per channel;
 * only `contain` leaves any of it showing).
 */
export function fitResize<T extends Uint8Array | Uint16Array>(
  src: T,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  mode: FitMode,
  resample: Resampler<T>,
  pad: readonly number[],
): T {
  if (pad.length !== channels) throw new RangeError(`fitResize: pad has ${pad.length} values for ${channels} channels`);
  if (src.length !== width * height * channels) throw new RangeError(`fitResize: ${src.length} values for ${width}×${height}×${channels}`);
  const r = fitRects(width, height, outWidth, outHeight, mode);
  const make = (n: number) => new (src.constructor as new (n: number) => T)(n);
  let crop = src;
  if (r.src.width !== width || r.src.height !== height) {
    crop = make(r.src.width * r.src.height * channels);
    for (let y = 0; y < r.src.height; y++) {
      const from = ((r.src.y + y) * width + r.src.x) * channels;
      crop.set(src.subarray(from, from + r.src.width * channels), y * r.src.width * channels);
    }
  }
  const scaled = resample(crop, r.src.width, r.src.height, channels, r.dst.width, r.dst.height);
  if (r.dst.width === outWidth && r.dst.height === outHeight) return scaled;
  const out = make(outWidth * outHeight * channels);
  for (let p = 0; p < outWidth * outHeight; p++) for (let c = 0; c < channels; c++) out[p * channels + c] = pad[c]!;
  for (let y = 0; y < r.dst.height; y++) {
    out.set(scaled.subarray(y * r.dst.width * channels, (y + 1) * r.dst.width * channels), ((r.dst.y + y) * outWidth + r.dst.x) * channels);
  }
  return out;
}

/** "1.778" (16:9): an aspect ratio as messages print it. */
export const formatAspect = (width: number, height: number): string => (width / height).toFixed(3);
