/**
 * Texture uploads through a mapped staging buffer and copyBufferToTexture. Not
 * queue.writeTexture: under Dawn in Node with SwiftShader it crashed the process in about 40%
 * of runs here (segfaults and futex aborts), where the staging copy never did.
 */
export function uploadTexture(device: GPUDevice, texture: GPUTexture, data: Uint8Array, bytesPerTexel: number): void {
  const { width, height } = texture;
  const rowBytes = width * bytesPerTexel;
  if (data.byteLength !== rowBytes * height) throw new Error(`uploadTexture ${texture.label}: ${data.byteLength} bytes for ${width}×${height}×${bytesPerTexel}`);
  const padded = Math.ceil(rowBytes / 256) * 256;
  const staging = device.createBuffer({ label: `upload ${texture.label}`, size: padded * height, usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
  const mapped = new Uint8Array(staging.getMappedRange());
  for (let y = 0; y < height; y++) mapped.set(data.subarray(y * rowBytes, (y + 1) * rowBytes), y * padded);
  staging.unmap();
  const encoder = device.createCommandEncoder({ label: `upload ${texture.label}` });
  encoder.copyBufferToTexture({ buffer: staging, bytesPerRow: padded, rowsPerImage: height }, { texture }, { width, height });
  device.queue.submit([encoder.finish()]);
  staging.destroy();
}
