/**
 * The training set in memory: per image, the 20 features (HWC float32, computed on the whole
 * image), the RGBA target in [0, 1], and the patch centres (found once per run).
 */
import { computeFeatures, NUM_FEATURES } from '../dataset/features.js';
import type { Sample } from '../dataset/sample.js';
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

/** A sample resized to size×size: Lanczos for colour-like planes, nearest for geometry and ids. */
export function resizeSample(s: Sample, size: number): Sample {
  const lz = (data: Uint8Array, c: number) => resizeLanczos3(data, s.width, s.height, c, size, size);
  const nn = <T extends Uint8Array | Uint16Array>(data: T, c: number) => resizeNearest(data, s.width, s.height, c, size, size);
  return {
    ...s,
    width: size,
    height: size,
    albedo: lz(s.albedo, 3),
    target: lz(s.target, 4),
    shadow: lz(s.shadow, 1),
    transp: lz(s.transp, 1),
    normal: nn(s.normal, 2),
    depth: nn(s.depth, 1),
    matid: nn(s.matid, 1),
  };
}

export interface TrainingSetOptions {
  fullImage: boolean;
  imageSize: number;
  patchSize: number;
  patchesPerImage: number;
  detector: Detector;
  /** Seeds the random top-up centres, independently of the training stream. */
  seed: number;
}

export function prepareImage(sample: Sample, opts: TrainingSetOptions, index: number): TrainImage {
  const s = opts.fullImage ? resizeSample(sample, opts.imageSize) : sample;
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

