/**
 * Copies a texture back to the CPU (bytes per row padded to 256 as WebGPU requires). Every layer
 * of a texture array, one after the other.
 */
import { fromHalfBits } from '../util/half.js';
import { gpuAwait } from './context.js';

const BYTES_PER_TEXEL: Partial<Record<GPUTextureFormat, number>> = {
  rgba16float: 8,
  rgba32uint: 16,
  rgba32float: 16,
  rgba8unorm: 4,
  r32float: 4,
};

export async function readTextureBytes(device: GPUDevice, texture: GPUTexture): Promise<Uint8Array> {
  const bpt = BYTES_PER_TEXEL[texture.format];
  if (!bpt) throw new Error(`readTexture: format ${texture.format} not supported`);
  const { width, height, depthOrArrayLayers: layers } = texture;
  const rowBytes = width * bpt;
  const padded = Math.ceil(rowBytes / 256) * 256;
  const rows = height * layers;
  const buffer = device.createBuffer({ label: `readback ${texture.label}`, size: padded * rows, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const encoder = device.createCommandEncoder({ label: `readback ${texture.label}` });
  encoder.copyTextureToBuffer({ texture }, { buffer, bytesPerRow: padded, rowsPerImage: height }, { width, height, depthOrArrayLayers: layers });
  device.queue.submit([encoder.finish()]);
  await gpuAwait(buffer.mapAsync(GPUMapMode.READ));
  const mapped = new Uint8Array(buffer.getMappedRange());
  const out = new Uint8Array(rowBytes * rows);
  for (let y = 0; y < rows; y++) out.set(mapped.subarray(y * padded, y * padded + rowBytes), y * rowBytes);
  buffer.unmap();
  buffer.destroy();
  return out;
}

/** An rgba16float texture as float32, 4 per pixel (layer by layer for an array). */
export async function readRgba16f(device: GPUDevice, texture: GPUTexture): Promise<Float32Array> {
  const bytes = await readTextureBytes(device, texture);
  const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  return Float32Array.from(halves, (h) => fromHalfBits(h));
}

/** An rgba32uint texture as u32, 4 per pixel. */
export async function readRgba32u(device: GPUDevice, texture: GPUTexture): Promise<Uint32Array> {
  const bytes = await readTextureBytes(device, texture);
  return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
}

/** An rgba32float texture as float32, 4 per pixel. */
export async function readRgba32f(device: GPUDevice, texture: GPUTexture): Promise<Float32Array> {
  const bytes = await readTextureBytes(device, texture);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
}
