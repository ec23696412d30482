/**
 * A WebGPU device with what the effect needs to know about it. Browser-safe: the page passes
 * `navigator.gpu`; Node passes the `webgpu` package's GPU (device-node.ts).
 */
import { CnnV3Error } from '../errors.js';

export interface GpuContext {
  device: GPUDevice;
  /**
   * Held for the device's lifetime: Chromium drops its WebGPU instance when the adapter is
   * garbage-collected ("Instance dropped" errors on a live device), as Dawn in Node does with
   * its GPU object.
   */
  adapter: GPUAdapter;
  /** Adapter description for logs and the page, e.g. "NVIDIA H100 (vulkan)". */
  adapterName: string;
  /** True for a software rasteriser such as SwiftShader. */
  software: boolean;
  /** Whether timestamp queries are available (per-pass GPU timing). */
  timestamps: boolean;
  /** Whether the device has `shader-f16` (the effect's f16 arithmetic). */
  shaderF16: boolean;
}

export function describeAdapter(info: GPUAdapterInfo): { name: string; software: boolean } {
  const parts = [info.description, info.vendor, info.architecture, info.device].filter((s) => s && s.length > 0);
  const name = parts.length > 0 ? Array.from(new Set(parts)).join(' / ') : 'unknown adapter';
  const software = /swiftshader|llvmpipe|software|warp|cpu/i.test(name);
  return { name, software };
}

export async function contextFromAdapter(adapter: GPUAdapter, label = 'cnnv3'): Promise<GpuContext> {
  const timestamps = adapter.features.has('timestamp-query');
  // shader-f16 whenever the adapter offers it, so the effect's precision 'auto' can pick f16
  // arithmetic (a device has only the features it was created with).
  const f16 = adapter.features.has('shader-f16');
  const device = await adapter.requestDevice({
    label: `${label} device`,
    requiredFeatures: [...(timestamps ? (['timestamp-query'] as const) : []), ...(f16 ? (['shader-f16'] as const) : [])],
  });
  const { name, software } = describeAdapter(adapter.info);
  device.addEventListener('uncapturederror', (e) => {
    console.error(`WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  });
  return { device, adapter, adapterName: name, software, timestamps, shaderF16: f16 };
}

export async function contextFromGpu(gpu: GPU | undefined, hint = ''): Promise<GpuContext> {
  if (!gpu) throw new CnnV3Error(`WebGPU is not available${hint}`);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new CnnV3Error(`No WebGPU adapter found${hint}`);
  return contextFromAdapter(adapter);
}

/**
 * Awaits a GPU promise while holding a timer: Dawn in Node does not keep the event loop alive
 * for pending GPU work, so without one the process can exit mid-await.
 */
export async function gpuAwait<T>(p: Promise<T>): Promise<T> {
  const timer = setInterval(() => {}, 50);
  try {
    return await p;
  } finally {
    clearInterval(timer);
  }
}
