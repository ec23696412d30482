/**
 * Patch centres (SPEC §5.2): corners of the albedo luminance by Harris (k = 0.04) or
 * Shi-Tomasi (min eigenvalue), from 3×3 Sobel gradients summed over a 3×3 window; the
 * strongest responses above 1% of the maximum, at least `minDistance` apart, topped up with
 * uniform random centres; or uniform random centres only.
 */
import type { Rng } from '../util/rng.js';

export const DETECTORS = ['harris', 'shi-tomasi', 'random'] as const;
export type Detector = (typeof DETECTORS)[number];

export const HARRIS_K = 0.04;

export interface Point {
  x: number;
  y: number;
}

/** Luminance 0.299 R + 0.587 G + 0.114 B of an RGB8 image, in [0, 1]. */
export function luminance(rgb: Uint8Array, W: number, H: number): Float64Array {
  const out = new Float64Array(W * H);
  for (let p = 0; p < W * H; p++) out[p] = (0.299 * rgb[p * 3]! + 0.587 * rgb[p * 3 + 1]! + 0.114 * rgb[p * 3 + 2]!) / 255;
  return out;
}

/** Corner response per pixel; borders are clamped (replicated) for the Sobel and the window. */
export function cornerResponse(lum: Float64Array, W: number, H: number, detector: 'harris' | 'shi-tomasi'): Float64Array {
  const at = (x: number, y: number) => lum[Math.min(H - 1, Math.max(0, y)) * W + Math.min(W - 1, Math.max(0, x))]!;
  const ixx = new Float64Array(W * H);
  const iyy = new Float64Array(W * H);
  const ixy = new Float64Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const gx = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1);
      const gy = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1);
      const p = y * W + x;
      ixx[p] = gx * gx;
      iyy[p] = gy * gy;
      ixy[p] = gx * gy;
    }
  }
  const r = new Float64Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let a = 0, b = 0, c = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = Math.min(H - 1, Math.max(0, y + dy));
        for (let dx = -1; dx <= 1; dx++) {
          const q = yy * W + Math.min(W - 1, Math.max(0, x + dx));
          a += ixx[q]!;
          b += ixy[q]!;
          c += iyy[q]!;
        }
      }
      const det = a * c - b * b;
      const trace = a + c;
      r[y * W + x] = detector === 'harris' ? det - HARRIS_K * trace * trace : trace / 2 - Math.sqrt(((a - c) * (a - c)) / 4 + b * b);
    }
  }
  return r;
}

/**
 * Up to `count` centres: the strongest responses above 1% of the maximum, greedily kept when at
 * least `minDistance` from every centre kept so far, then uniform random centres to fill up.
 */
export function findKeypoints(
  rgb: Uint8Array,
  W: number,
  H: number,
  detector: Detector,
  count: number,
  minDistance: number,
  rng: Rng,
): Point[] {
  const points: Point[] = [];
  if (detector !== 'random') {
    const r = cornerResponse(luminance(rgb, W, H), W, H, detector);
    let max = 0;
    for (const v of r) if (v > max) max = v;
    const candidates: number[] = [];
    if (max > 0) for (let p = 0; p < r.length; p++) if (r[p]! > 0.01 * max) candidates.push(p);
    candidates.sort((a, b) => r[b]! - r[a]! || a - b);
    // A grid of cells `minDistance` wide: only the 3×3 neighbouring cells can hold a conflict.
    const cell = Math.max(1, minDistance);
    const gw = Math.ceil(W / cell);
    const grid = new Map<number, Point[]>();
    const d2 = minDistance * minDistance;
    for (const p of candidates) {
      if (points.length >= count) break;
      const x = p % W;
      const y = (p - x) / W;
      const cx = Math.floor(x / cell);
      const cy = Math.floor(y / cell);
      let ok = true;
      for (let dy = -1; dy <= 1 && ok; dy++) {
        for (let dx = -1; dx <= 1 && ok; dx++) {
          for (const q of grid.get((cy + dy) * gw + cx + dx) ?? []) {
            if ((q.x - x) ** 2 + (q.y - y) ** 2 < d2) {
              ok = false;
              break;
            }
          }
        }
      }
      if (!ok) continue;
      const pt = { x, y };
      points.push(pt);
      const key = cy * gw + cx;
      const list = grid.get(key);
      if (list) list.push(pt);
      else grid.set(key, [pt]);
    }
  }
  while (points.length < count) points.push({ x: rng.int(W), y: rng.int(H) });
  return points;
}
