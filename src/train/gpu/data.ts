/**
 * The training set on the GPU: every image's 20 features and RGBA target uploaded once, 6 vec4
 * per pixel (features 0–3 … 16–19, then the target), plus a table of images and the epoch's
 * patch order (image, centre x, centre y) that the kernels cut patches from.
 */
import { CnnV3Error } from '../../errors.js';
import { NUM_FEATURES } from '../../dataset/features.js';
import { OUT_CHANNELS } from '../../model/config.js';
import { toHalfBits } from '../../util/half.js';

/** What the GPU needs of a training image (TrainImage of src/train/data.ts fits). */
export interface GpuImageSource {
  name: string;
  width: number;
  height: number;
  /** HWC, 20 per pixel. */
  features: Float32Array;
  /** HWC RGBA in [0, 1]. */
  target: Float32Array;
  centres: ReadonlyArray<{ x: number; y: number }>;
  /** Style coordinates (half precision), fed as style_p0/p1 when the trainer uses them. */
  style?: readonly [number, number];
}

/** The image table's fourth word: the style as two halves, or this when the image has none. */
export const NO_STYLE = 0xffffffff;

export const FLOATS_PER_PIXEL = 24;

export interface GpuTrainingSet {
  data: GPUBuffer;
  /** vec4u: [base pixel, width, height, 0] per image, then the order entries. */
  meta: GPUBuffer;
  images: number;
  /** Order entries the meta buffer holds (the patches of one epoch). */
  orderCapacity: number;
  bytes: number;
}

/** Bytes the training set takes on the GPU. */
export function trainingSetBytes(images: ReadonlyArray<Pick<GpuImageSource, 'width' | 'height'>>): number {
  return images.reduce((s, im) => s + im.width * im.height * FLOATS_PER_PIXEL * 4, 0);
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;

/**
 * Refuses, before anything is uploaded, a training set or working set larger than what the
 * device can hold in one storage buffer (the kernels index the set as one array).
 */
export function checkFits(device: GPUDevice, what: string, bytes: number, hint: string): void {
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  if (bytes > limit) {
    throw new CnnV3Error(`${what} needs ${mb(bytes)} of GPU memory in one buffer; this GPU allows ${mb(limit)}: ${hint}`);
  }
}

export function uploadTrainingSet(device: GPUDevice, images: ReadonlyArray<GpuImageSource>, orderCapacity: number): GpuTrainingSet {
  const bytes = trainingSetBytes(images);
  checkFits(device, `The training set (${images.length} images)`, bytes, 'train on fewer or smaller samples, or use --device cpu');
  const data = device.createBuffer({ label: 'cnnv3 train data', size: Math.max(16, bytes), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const table = new Uint32Array(images.length * 4);
  let base = 0;
  for (const [i, im] of images.entries()) {
    const px = im.width * im.height;
    const packed = new Float32Array(px * FLOATS_PER_PIXEL);
    for (let p = 0; p < px; p++) {
      packed.set(im.features.subarray(p * NUM_FEATURES, (p + 1) * NUM_FEATURES), p * FLOATS_PER_PIXEL);
      packed.set(im.target.subarray(p * OUT_CHANNELS, (p + 1) * OUT_CHANNELS), p * FLOATS_PER_PIXEL + NUM_FEATURES);
    }
    device.queue.writeBuffer(data, base * FLOATS_PER_PIXEL * 4, packed);
    table.set([base, im.width, im.height, im.style ? (toHalfBits(im.style[0]) | (toHalfBits(im.style[1]) << 16)) >>> 0 : NO_STYLE], i * 4);
    base += px;
  }
  const meta = device.createBuffer({
    label: 'cnnv3 train images and order',
    size: (images.length + Math.max(1, orderCapacity)) * 16,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(meta, 0, table);
  return { data, meta, images: images.length, orderCapacity, bytes };
}

/** Writes an epoch's patch order: entries of (image index, centre x, centre y). */
export function writeOrder(device: GPUDevice, set: GpuTrainingSet, order: ReadonlyArray<readonly [number, number, number]>): void {
  if (order.length > set.orderCapacity) throw new Error(`order of ${order.length} entries exceeds the capacity ${set.orderCapacity}`);
  const words = new Uint32Array(order.length * 4);
  order.forEach(([im, x, y], i) => words.set([im, x, y, 0], i * 4));
  device.queue.writeBuffer(set.meta, set.images * 16, words);
}

export function destroyTrainingSet(set: GpuTrainingSet): void {
  set.data.destroy();
  set.meta.destroy();
}
