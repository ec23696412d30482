/**
 * The training set in memory: per image, the 20 features (HWC float32, computed on the whole
 * image), the RGBA target in [0, 1], and the patch centres (found once per run).
 */
import { computeFeatures, NUM_FEATURES } from '../dataset/features.js';
import type { Sample } from '../dataset/sample.js';
import { fitResize, type FitMode } from '../image/fit.js';
import { resizeLanczos3, resizeNearest } from '../image/resize.js';
import { roundToHalf } from '../util/half.js';
import { Rng } from '../util/rng.js';
import { findKeypoints, type Detector, type Point } from './keypoints.js';

export interface TrainImage {
  name: string;
  width: number;
  height: number;
  features: Float32Array;
  target: Float32Array;
  centres: Point[];
  /** Style coordinates from style.json, rounded to half precision (what the GPU table holds). */
  style?: [number, number];
}

/**
 * A sample brought to size×size (`fit`, default stretch; image/fit.ts): Lanczos for colour-like
 * planes, nearest for geometry and ids. `contain`'s bars are an opaque black photo region: albedo
 * and target black with target alpha 255, transp 0 (opaque), neutral normal (128, 128), depth 0,
 * matid 0, shadow 255 (lit), the values pack-photo gives a photo's own pixels.
 */
export function resizeSample(s: Sample, size: number, fit: FitMode = 'stretch'): Sample {
  const lz = (data: Uint8Array, c: number, pad: number[]) => fitResize(data, s.width, s.height, c, size, size, fit, resizeLanczos3, pad);
  const nn = <T extends Uint8Array | Uint16Array>(data: T, c: number, pad: number[]) => fitResize(data, s.width, s.height, c, size, size, fit, resizeNearest, pad);
  return {
    ...s,
    width: size,
    height: size,
    albedo: lz(s.albedo, 3, [0, 0, 0]),
    target: lz(s.target, 4, [0, 0, 0, 255]),
    shadow: lz(s.shadow, 1, [255]),
    transp: lz(s.transp, 1, [0]),
    normal: nn(s.normal, 2, [128, 128]),
    depth: nn(s.depth, 1, [0]),
    matid: nn(s.matid, 1, [0]),
  };
}

export interface TrainingSetOptions {
  fullImage: boolean;
  imageSize: number;
  /** How fullImage brings an image to imageSize² (default stretch). */
  fit?: FitMode;
  patchSize: number;
  patchesPerImage: number;
  detector: Detector;
  /** Seeds the random top-up centres, independently of the training stream. */
  seed: number;
}

export function prepareImage(sample: Sample, opts: TrainingSetOptions, index: number): TrainImage {
  const s = opts.fullImage ? resizeSample(sample, opts.imageSize, opts.fit) : sample;
  const target = new Float32Array(s.width * s.height * 4);
  for (let i = 0; i < target.length; i++) target[i] = s.target[i]! / 255;
  const centres = opts.fullImage
    ? [{ x: s.width >> 1, y: s.height >> 1 }]
    : findKeypoints(
        s.albedo,
        s.width,
        s.height,
        opts.detector,
        opts.patchesPerImage,
        Math.max(1, Math.floor(opts.patchSize / 4)),
        new Rng((opts.seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0),
      );
  const image: TrainImage = { name: s.name, width: s.width, height: s.height, features: computeFeatures(s), target, centres };
  if (sample.style) image.style = [roundToHalf(sample.style[0]), roundToHalf(sample.style[1])];
  return image;
}

/** Bytes per image held in memory while training (features + target). */
export function imageBytes(width: number, height: number): number {
  return width * height * (NUM_FEATURES + 4) * 4;
}

