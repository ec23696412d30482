/**
 * The 20 feature channels of SPEC §3, computed on the whole image (before any crop).
 * Layout: float32, row-major HWC, channel fastest: `f[(y·W + x)·20 + c]`.
 */

export const NUM_FEATURES = 20;

export const FEATURE_NAMES = [
  'albedo.r', 'albedo.g', 'albedo.b',
  'normal.x', 'normal.y',
  'depth',
  'depth_grad.x', 'depth_grad.y',
  'mat_id',
  'prev.r', 'prev.g', 'prev.b',
  'mip1.r', 'mip1.g', 'mip1.b',
  'mip2.r', 'mip2.g', 'mip2.b',
  'shadow',
  'transp',
] as const;

/** Channel indices by role (used by channel dropout and the GPU packing). */
export const CH = {
  albedo: 0,
  normal: 3,
  depth: 5,
  depthGrad: 6,
  matId: 8,
  prev: 9,
  mip1: 12,
  mip2: 15,
  shadow: 18,
  transp: 19,
} as const;

/** What the features are computed from: the sample's decoded planes. */
export interface FeatureInputs {
  width: number;
  height: number;
  /** RGB, 3 bytes per pixel. */
  albedo: Uint8Array;
  /** Octahedral RG, 2 bytes per pixel. */
  normal: Uint8Array;
  depth: Uint16Array;
  matid: Uint8Array;
  shadow: Uint8Array;
  transp: Uint8Array;
}

/**
 * Computes all 20 channels. `prev` is the previous frame's output RGB (3 floats per pixel);
 * without it channels 9–11 are 0, as in training.
 */
export function computeFeatures(s: FeatureInputs, prev?: Float32Array): Float32Array {
  const { width: W, height: H } = s;
  const n = W * H;
  const f = new Float32Array(n * NUM_FEATURES);
  const mip1 = blockMeans(s.albedo, W, H, 2);
  const mip2 = blockMeans(s.albedo, W, H, 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = y * W + x;
      const o = p * NUM_FEATURES;
      for (let c = 0; c < 3; c++) {
        f[o + CH.albedo + c] = s.albedo[p * 3 + c]! / 255;
        f[o + CH.mip1 + c] = mip1[p * 3 + c]!;
        f[o + CH.mip2 + c] = mip2[p * 3 + c]!;
        f[o + CH.prev + c] = prev ? prev[p * 3 + c]! : 0;
      }
      f[o + CH.normal] = (s.normal[p * 2]! / 255) * 2 - 1;
      f[o + CH.normal + 1] = (s.normal[p * 2 + 1]! / 255) * 2 - 1;
      f[o + CH.depth] = s.depth[p]! / 65535;
      // Central difference with clamped edges: at a border the missing neighbour is the pixel itself.
      const xl = y * W + Math.max(x - 1, 0);
      const xr = y * W + Math.min(x + 1, W - 1);
      const yu = Math.max(y - 1, 0) * W + x;
      const yd = Math.min(y + 1, H - 1) * W + x;
      f[o + CH.depthGrad] = (s.depth[xr]! / 65535 - s.depth[xl]! / 65535) / 2;
      f[o + CH.depthGrad + 1] = (s.depth[yd]! / 65535 - s.depth[yu]! / 65535) / 2;
      f[o + CH.matId] = s.matid[p]! / 255;
      f[o + CH.shadow] = s.shadow[p]! / 255;
      f[o + CH.transp] = s.transp[p]! / 255;
    }
  }
  return f;
}

/**
 * Per pixel, the mean of the albedo (in [0,1]) over the aligned `block`×`block` tile holding
 * it; a tile cut by the right or bottom edge averages the pixels it has.
 */
function blockMeans(albedo: Uint8Array, W: number, H: number, block: number): Float64Array {
  const bw = Math.ceil(W / block);
  const bh = Math.ceil(H / block);
  const sums = new Float64Array(bw * bh * 3);
  const counts = new Float64Array(bw * bh);
  for (let y = 0; y < H; y++) {
    const by = Math.floor(y / block);
    for (let x = 0; x < W; x++) {
      const b = by * bw + Math.floor(x / block);
      counts[b]! += 1;
      for (let c = 0; c < 3; c++) sums[b * 3 + c]! += albedo[(y * W + x) * 3 + c]! / 255;
    }
  }
  const out = new Float64Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const by = Math.floor(y / block);
    for (let x = 0; x < W; x++) {
      const b = by * bw + Math.floor(x / block);
      for (let c = 0; c < 3; c++) out[(y * W + x) * 3 + c] = sums[b * 3 + c]! / counts[b]!;
    }
  }
  return out;
}

export interface ChannelStats {
  min: number;
  mean: number;
  max: number;
}

/** Min / mean / max of every channel of an HWC buffer. */
export function channelStats(f: Float32Array, channels: number = NUM_FEATURES): ChannelStats[] {
  const n = f.length / channels;
  const stats = Array.from({ length: channels }, () => ({ min: Infinity, mean: 0, max: -Infinity }));
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < channels; c++) {
      const v = f[p * channels + c]!;
      const s = stats[c]!;
      if (v < s.min) s.min = v;
      if (v > s.max) s.max = v;
      s.mean += v;
    }
  }
  for (const s of stats) s.mean /= n;
  return stats;
}
