/**
 * The GPU form of the features (SPEC §3): two rgba32uint texels per pixel.
 * feat0 = pack2x16float (ch0,ch1) (ch2,ch3) (ch4,ch5) (ch6,ch7);
 * feat1 = pack4x8unorm (ch8..11) (ch12..15) (ch16..19), fourth word 0.
 * These functions reproduce WGSL's packing bit for bit on the CPU, so the reference can see
 * exactly what the shaders see. f16 rounding is round-to-nearest-even.
 */
import { fromHalfBits, toHalfBits } from '../util/half.js';
import { NUM_FEATURES } from './features.js';

/** WGSL pack4x8unorm: each component → floor(0.5 + 255 · clamp(e, 0, 1)), e[0] in the low byte. */
export function pack4x8unorm(a: number, b: number, c: number, d: number): number {
  const q = (v: number) => Math.floor(0.5 + 255 * Math.min(1, Math.max(0, v)));
  return (q(a) | (q(b) << 8) | (q(c) << 16) | (q(d) << 24)) >>> 0;
}

export function unpack4x8unorm(word: number): [number, number, number, number] {
  return [(word & 0xff) / 255, ((word >>> 8) & 0xff) / 255, ((word >>> 16) & 0xff) / 255, (word >>> 24) / 255];
}

/** WGSL pack2x16float: a in the low half, b in the high half. */
export function pack2x16float(a: number, b: number): number {
  return (toHalfBits(a) | (toHalfBits(b) << 16)) >>> 0;
}

export function unpack2x16float(word: number): [number, number] {
  return [fromHalfBits(word & 0xffff), fromHalfBits(word >>> 16)];
}

export interface PackedFeatures {
  width: number;
  height: number;
  /** 4 u32 per pixel (rgba32uint texel), row-major. */
  feat0: Uint32Array;
  /** 4 u32 per pixel (rgba32uint texel), row-major; word 3 is 0. */
  feat1: Uint32Array;
}

export function packFeatures(f: Float32Array, width: number, height: number): PackedFeatures {
  const n = width * height;
  if (f.length !== n * NUM_FEATURES) throw new Error(`packFeatures: ${f.length} floats for ${width}×${height}×20`);
  const feat0 = new Uint32Array(n * 4);
  const feat1 = new Uint32Array(n * 4);
  for (let p = 0; p < n; p++) {
    const o = p * NUM_FEATURES;
    for (let k = 0; k < 4; k++) feat0[p * 4 + k] = pack2x16float(f[o + 2 * k]!, f[o + 2 * k + 1]!);
    for (let k = 0; k < 3; k++) {
      const c = o + 8 + 4 * k;
      feat1[p * 4 + k] = pack4x8unorm(f[c]!, f[c + 1]!, f[c + 2]!, f[c + 3]!);
    }
  }
  return { width, height, feat0, feat1 };
}

export function unpackFeatures(packed: PackedFeatures): Float32Array {
  const { width, height, feat0, feat1 } = packed;
  const n = width * height;
  const f = new Float32Array(n * NUM_FEATURES);
  for (let p = 0; p < n; p++) {
    const o = p * NUM_FEATURES;
    for (let k = 0; k < 4; k++) {
      const [a, b] = unpack2x16float(feat0[p * 4 + k]!);
      f[o + 2 * k] = a;
      f[o + 2 * k + 1] = b;
    }
    for (let k = 0; k < 3; k++) f.set(unpack4x8unorm(feat1[p * 4 + k]!), o + 8 + 4 * k);
  }
  return f;
}

/** The features as the shaders will see them: through the GPU packing and back. */
export function quantiseFeatures(f: Float32Array, width: number, height: number): Float32Array {
  return unpackFeatures(packFeatures(f, width, height));
}

/**
 * Packed features with `zeroed` channels set to 0 (a copy): a channel is a half of a feat0 word
 * or a byte of a feat1 word, and 0 packs to all-zero bits in both, so this is exactly packing
 * the features with those channels 0 — what `eval --ablate` feeds the reference.
 */
export function zeroPackedChannels(feat0: Uint32Array, feat1: Uint32Array, zeroed: readonly number[]): { feat0: Uint32Array; feat1: Uint32Array } {
  const keep0 = new Uint32Array(4).fill(0xffffffff);
  const keep1 = Uint32Array.of(0xffffffff, 0xffffffff, 0xffffffff, 0);
  for (const c of zeroed) {
    if (!Number.isInteger(c) || c < 0 || c >= NUM_FEATURES) throw new Error(`zeroPackedChannels: no channel ${c}`);
    if (c < 8) keep0[c >> 1]! &= ~(0xffff << (16 * (c & 1)));
    else keep1[(c - 8) >> 2]! &= ~(0xff << (8 * ((c - 8) & 3)));
  }
  const mask = (words: Uint32Array, keep: Uint32Array) => words.map((w, i) => (w & keep[i & 3]!) >>> 0);
  return { feat0: mask(feat0, keep0), feat1: mask(feat1, keep1) };
}
