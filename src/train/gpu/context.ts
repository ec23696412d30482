/**
 * A device for training: the adapter's own buffer and workgroup-memory limits (the defaults,
 * 128 MB per storage binding and 16 KB per workgroup, would cap the batch far below what a
 * GPU holds) and timestamp queries where the adapter has them. Browser-safe.
 */
import { describeAdapter, type GpuContext } from '../../gpu/context.js';

export async function trainContext(adapter: GPUAdapter): Promise<GpuContext> {
  const timestamps = adapter.features.has('timestamp-query');
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    label: 'cnnv3 train device',
    requiredFeatures: timestamps ? ['timestamp-query'] : [],
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: Math.min(l.maxStorageBuffersPerShaderStage, 8),
    },
  });
  device.addEventListener('uncapturederror', (e) => {
    console.error(`WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  });
  const { name, software } = describeAdapter(adapter.info);
  return { device, adapter, adapterName: name, software, timestamps, shaderF16: device.features.has('shader-f16') };
}
