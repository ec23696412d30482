/**
 * A decoded raster: interleaved samples, row-major, `channels` per pixel.
 * Channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. Depth 8 → Uint8Array, 16 → Uint16Array.
 */
export interface Raster {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  depth: 8 | 16;
  data: Uint8Array | Uint16Array;
}

export type Channels = Raster['channels'];

/** Narrows a 16-bit sample to 8 bits the way image tools do: round(v · 255 / 65535). */
export function to8(v: number): number {
  return Math.round(v / 257);
}

/** A value in [0, 1] → a byte: clamped, then round(v · 255). */
export function unitToByte(v: number): number {
  return Math.round(Math.min(1, Math.max(0, v)) * 255);
}

/** Float RGBA in [0, 1] (what the effect writes) → 8-bit pixels of `channels` (3: alpha dropped). */
export function floatRgbaTo8(rgba: ArrayLike<number>, channels: 3 | 4 = 4): Uint8Array {
  const n = Math.floor(rgba.length / 4);
  const out = new Uint8Array(n * channels);
  for (let p = 0; p < n; p++) for (let c = 0; c < channels; c++) out[p * channels + c] = unitToByte(rgba[p * 4 + c]!);
  return out;
}

function sample8(r: Raster, i: number): number {
  const v = r.data[i]!;
  return r.depth === 16 ? to8(v) : v;
}

/** Any raster → 8-bit RGBA (gray replicated, missing alpha = 255). */
export function toRgba8(r: Raster): Uint8Array {
  const n = r.width * r.height;
  const out = new Uint8Array(n * 4);
  const c = r.channels;
  for (let p = 0; p < n; p++) {
    const s = p * c;
    const o = p * 4;
    if (c <= 2) {
      const g = sample8(r, s);
      out[o] = g;
      out[o + 1] = g;
      out[o + 2] = g;
      out[o + 3] = c === 2 ? sample8(r, s + 1) : 255;
    } else {
      out[o] = sample8(r, s);
      out[o + 1] = sample8(r, s + 1);
      out[o + 2] = sample8(r, s + 2);
      out[o + 3] = c === 4 ? sample8(r, s + 3) : 255;
    }
  }
  return out;
}

/** Keeps channel `k` of every pixel of an interleaved buffer with `stride` channels. */
export function extractChannel<T extends Uint8Array | Uint16Array>(data: T, stride: number, k: number): T {
  const n = data.length / stride;
  const out = new (data.constructor as new (n: number) => T)(n);
  for (let p = 0; p < n; p++) out[p] = data[p * stride + k]!;
  return out;
}

/** Keeps the first `keep` channels of every pixel. */
export function dropChannels(data: Uint8Array, stride: number, keep: number): Uint8Array {
  const n = data.length / stride;
  const out = new Uint8Array(n * keep);
  for (let p = 0; p < n; p++) for (let k = 0; k < keep; k++) out[p * keep + k] = data[p * stride + k]!;
  return out;
}

export function hasAlpha(r: Raster): boolean {
  return r.channels === 2 || r.channels === 4;
}
