/**
 * The GPU a `cnnv3 train` run uses in Node: `auto` takes a hardware adapter (never a software
 * rasteriser) or none; `gpu` takes a hardware adapter, else a software one, else fails with a
 * clear message.
 */
import { CnnV3Error } from '../../errors.js';
import type { GpuContext } from '../../gpu/context.js';
import { requestAnyAdapter, requestHardwareAdapter, SWIFTSHADER_ICD } from '../../gpu/device-node.js';
import { trainContext } from './context.js';

export const NO_ADAPTER_MESSAGE =
  `cnnv3 train: --device gpu: no WebGPU adapter found (no GPU driver, and no usable Vulkan driver in VK_ICD_FILENAMES). ` +
  `Install a GPU driver, or software Vulkan (apt-get install chromium libvulkan1; VK_ICD_FILENAMES=${SWIFTSHADER_ICD}), or use --device cpu`;

export async function openTrainGpu(choice: 'auto' | 'gpu'): Promise<GpuContext | undefined> {
  if (choice === 'auto') {
    let adapter: GPUAdapter | null;
    try {
      adapter = await requestHardwareAdapter();
    } catch {
      return undefined; // no Dawn here: auto means the CPU
    }
    return adapter ? trainContext(adapter) : undefined;
  }
  const adapter = await requestAnyAdapter();
  if (!adapter) throw new CnnV3Error(NO_ADAPTER_MESSAGE, 2);
  return trainContext(adapter);
}
