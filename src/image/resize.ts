/**
 * Separable resampling of interleaved 8-bit images. Lanczos-3 follows the usual convention
 * (PIL's): the kernel is stretched by the scale factor when shrinking, so it antialiases, and
 * each output pixel's weights are normalised to sum to 1.
 */

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

function lanczos3(x: number): number {
  return x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
}

interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  stride: number;
}

/** Per output index, the first input index, the number of taps, and normalised weights. */
function lanczosTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 3 * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * stride);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support + 0.5));
    const hi = Math.min(inSize, Math.floor(centre + support + 0.5));
    let sum = 0;
    for (let i = lo; i < hi; i++) {
      const w = lanczos3((i + 0.5 - centre) / filterScale);
      weights[o * stride + (i - lo)] = w;
      sum += w;
    }
    if (sum !== 0) for (let i = 0; i < hi - lo; i++) weights[o * stride + i]! /= sum;
    start[o] = lo;
    count[o] = hi - lo;
  }
  return { start, count, weights, stride };
}

/** Lanczos-3 resize of an interleaved 8-bit image with `channels` channels. */
export function resizeLanczos3(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
): Uint8Array {
  if (width === outWidth && height === outHeight) return src.slice();
  const tx = lanczosTaps(width, outWidth);
  const ty = lanczosTaps(height, outHeight);
  // Horizontal pass into float rows, then vertical pass with rounding and clamping.
  const mid = new Float64Array(outWidth * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < outWidth; x++) {
      const s = tx.start[x]!;
      const n = tx.count[x]!;
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0; k < n; k++) acc += tx.weights[x * tx.stride + k]! * src[((y * width) + s + k) * channels + c]!;
        mid[(y * outWidth + x) * channels + c] = acc;
      }
    }
  }
  const out = new Uint8Array(outWidth * outHeight * channels);
  for (let y = 0; y < outHeight; y++) {
    const s = ty.start[y]!;
    const n = ty.count[y]!;
    for (let x = 0; x < outWidth; x++) {
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0; k < n; k++) acc += ty.weights[y * ty.stride + k]! * mid[((s + k) * outWidth + x) * channels + c]!;
        out[(y * outWidth + x) * channels + c] = Math.min(255, Math.max(0, Math.round(acc)));
      }
    }
  }
  return out;
}

/** Nearest-neighbour resize (for data that must not be blended: normals, depth, ids). */
export function resizeNearest<T extends Uint8Array | Uint16Array>(
  src: T,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
): T {
  const out = new (src.constructor as new (n: number) => T)(outWidth * outHeight * channels);
  for (let y = 0; y < outHeight; y++) {
    const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / outHeight));
    for (let x = 0; x < outWidth; x++) {
      const sx = Math.min(width - 1, Math.floor(((x + 0.5) * width) / outWidth));
      for (let c = 0; c < channels; c++) out[(y * outWidth + x) * channels + c] = src[(sy * width + sx) * channels + c]!;
    }
  }
  return out;
}
