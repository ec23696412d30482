/**
 * A sample's optional motion field, `motion.bin` (docs/formats.md, "motion.bin"): per pixel, where
 * the surface seen there was one frame earlier and where it will be one frame later, in pixels of
 * the sample (x right, y down). pack-blender writes it from Cycles' Vector pass; `eval --sequence`
 * reads it for the warping error. Training never reads it. Browser-safe.
 *
 * Layout, little-endian: ASCII `CNM1`, u32 width, u32 height, u32 channels (= 4), then
 * width·height·4 float32, row-major from the top row, per pixel (prev dx, prev dy, next dx,
 * next dy). Float32 rather than a scaled 16-bit PNG: the Vector pass is float32 already, so the
 * file holds it exactly (no range or step to choose), and 16 header bytes give every size check.
 */
import { fileError } from '../errors.js';

export { MOTION_FILE } from './layout.js';
const MAGIC = 'CNM1';
const HEADER_BYTES = 16;
const CHANNELS = 4;
/** Larger than any render this project makes; a bigger header is a damaged file, not an image. */
const MAX_SIDE = 1 << 15;

export interface MotionField {
  width: number;
  height: number;
  /** 4 floats a pixel: (prev dx, prev dy, next dx, next dy), pixels, x right, y down. */
  data: Float32Array;
}

export function encodeMotion(m: MotionField): Uint8Array {
  const n = m.width * m.height * CHANNELS;
  if (m.data.length !== n) throw new Error(`motion field of ${m.width}×${m.height} needs ${n} floats, got ${m.data.length}`);
  const out = new Uint8Array(HEADER_BYTES + n * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = MAGIC.charCodeAt(i);
  view.setUint32(4, m.width, true);
  view.setUint32(8, m.height, true);
  view.setUint32(12, CHANNELS, true);
  for (let i = 0; i < n; i++) view.setFloat32(HEADER_BYTES + i * 4, m.data[i]!, true);
  return out;
}

/**
 * Reads motion.bin; `name` goes in every message. With `expect`, the field must be that size (the
 * sample's). Throws one `name: problem` error for a short, long, foreign or non-finite file.
 */
export function decodeMotion(bytes: Uint8Array, name: string, expect?: { width: number; height: number }): MotionField {
  if (bytes.length < HEADER_BYTES) throw fileError(name, `truncated: ${bytes.length} bytes, a motion file's header alone is ${HEADER_BYTES}`);
  const magic = String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!);
  if (magic !== MAGIC) throw fileError(name, `not a cnn-v3 motion file (starts ${JSON.stringify(magic)}, expected ${JSON.stringify(MAGIC)})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(4, true);
  const height = view.getUint32(8, true);
  const channels = view.getUint32(12, true);
  if (channels !== CHANNELS) throw fileError(name, `${channels} channels a pixel; a motion file has ${CHANNELS} (prev dx, dy, next dx, dy)`);
  if (width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) throw fileError(name, `bad size ${width}×${height} in the header`);
  const want = HEADER_BYTES + width * height * CHANNELS * 4;
  if (bytes.length !== want) {
    throw fileError(name, `${bytes.length < want ? 'truncated' : 'trailing bytes'}: ${bytes.length} bytes, but a ${width}×${height} motion field takes ${want}`);
  }
  if (expect && (expect.width !== width || expect.height !== height)) {
    throw fileError(name, `is ${width}×${height} but its sample is ${expect.width}×${expect.height}`);
  }
  const data = new Float32Array(width * height * CHANNELS);
  for (let i = 0; i < data.length; i++) {
    const v = view.getFloat32(HEADER_BYTES + i * 4, true);
    if (!Number.isFinite(v)) throw fileError(name, `non-finite motion at pixel ${Math.floor(i / CHANNELS)} (${v})`);
    data[i] = v;
  }
  return { width, height, data };
}
