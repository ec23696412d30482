/**
 * WebGPU in Node through the `webgpu` package (Dawn). A hardware adapter is used when there is
 * one; otherwise Vulkan is pointed at SwiftShader from Debian's chromium package. Which one was
 * taken is part of the context (`adapterName`, `software`).
 */
import { existsSync, readdirSync } from 'node:fs';
import { CnnV3Error } from '../errors.js';
import { contextFromAdapter, describeAdapter, type GpuContext } from './context.js';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

const SWIFTSHADER_HINT =
  `: install a GPU driver, or software Vulkan with 'apt-get install chromium libvulkan1' ` +
  `and VK_ICD_FILENAMES=${SWIFTSHADER_ICD}`;

/** Whether the system lists Vulkan drivers of its own (otherwise trying hardware only prints noise). */
export function hasHardwareVulkan(): boolean {
  if (process.env['VK_ICD_FILENAMES'] || process.env['VK_DRIVER_FILES']) return true;
  for (const dir of ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d']) {
    try {
      if (readdirSync(dir).some((f) => f.endsWith('.json') && !f.includes('swiftshader') && !f.includes('lvp'))) return true;
    } catch {
      // no such directory
    }
  }
  return false;
}

type WebGpuModule = { create: (flags: string[]) => GPU; globals: Record<string, unknown> };

async function loadDawn(): Promise<WebGpuModule> {
  try {
    const mod = (await import('webgpu')) as unknown as WebGpuModule;
    Object.assign(globalThis, mod.globals);
    return mod;
  } catch (e) {
    throw new CnnV3Error(`cannot load the 'webgpu' package (Dawn): ${(e as Error).message.split('\n')[0]}${SWIFTSHADER_HINT}`);
  }
}

/**
 * Every GPU object Dawn's Node binding hands out, kept reachable for the life of the process:
 * the binding frees its native instance when the JS object is garbage-collected, while devices
 * made from it still poll that instance for pending promises (a use-after-free that crashed
 * about every run with mapAsync in flight: segfaults, futex and mutex aborts).
 */
const liveGpus: GPU[] = [];

function createGpu(dawn: WebGpuModule, flags: string[] = []): GPU {
  const gpu = dawn.create(flags);
  liveGpus.push(gpu);
  return gpu;
}

export interface NodeGpuOptions {
  /** 'auto' (hardware, else SwiftShader), 'hardware' (fail without one), 'software'. */
  adapter: 'auto' | 'hardware' | 'software';
  /**
   * Flags for Dawn's Node binding, e.g. `disable-dawn-features=timestamp_quantization` (bench:infer:
   * by default Dawn rounds timestamps to 2^16 ns, too coarse for passes of a few microseconds).
   */
  dawnFlags?: string[];
}

let cached: Promise<GpuContext> | undefined;

/** One device per process, created on first use. */
export function nodeGpu(options: NodeGpuOptions = { adapter: 'auto' }): Promise<GpuContext> {
  cached ??= createNodeGpu(options);
  return cached;
}

/** A hardware adapter (not a software rasteriser), or null when the system has none. */
export async function requestHardwareAdapter(): Promise<GPUAdapter | null> {
  if (!hasHardwareVulkan()) return null;
  const adapter = await createGpu(await loadDawn()).requestAdapter({ powerPreference: 'high-performance' });
  return adapter && !describeAdapter(adapter.info).software ? adapter : null;
}

/**
 * Any adapter: a hardware one, else SwiftShader. A VK_ICD_FILENAMES set by the user is kept
 * (it names the drivers to use), so a system whose drivers all fail gets null, not a substitute.
 */
export async function requestAnyAdapter(): Promise<GPUAdapter | null> {
  const hardware = await requestHardwareAdapter();
  if (hardware) return hardware;
  const dawn = await loadDawn();
  if (!process.env['VK_ICD_FILENAMES']) {
    if (!existsSync(SWIFTSHADER_ICD)) return null;
    process.env['VK_ICD_FILENAMES'] = SWIFTSHADER_ICD;
  }
  return createGpu(dawn).requestAdapter();
}

export async function createNodeGpu(options: NodeGpuOptions = { adapter: 'auto' }): Promise<GpuContext> {
  const dawn = await loadDawn();
  if (options.adapter !== 'software' && hasHardwareVulkan()) {
    const adapter = await createGpu(dawn, options.dawnFlags).requestAdapter({ powerPreference: 'high-performance' });
    if (adapter && !describeAdapter(adapter.info).software) return contextFromAdapter(adapter);
  }
  if (options.adapter === 'hardware') throw new CnnV3Error(`No hardware WebGPU adapter found${SWIFTSHADER_HINT}`);
  if (!existsSync(SWIFTSHADER_ICD)) throw new CnnV3Error(`No WebGPU adapter found${SWIFTSHADER_HINT}`);
  // The Vulkan loader reads this when Dawn creates its next instance.
  process.env['VK_ICD_FILENAMES'] = SWIFTSHADER_ICD;
  const adapter = await createGpu(dawn, options.dawnFlags).requestAdapter();
  if (!adapter) throw new CnnV3Error(`No WebGPU adapter found, not even SwiftShader${SWIFTSHADER_HINT}`);
  return contextFromAdapter(adapter);
}

/**
 * A device on Dawn's null backend: it validates every shader and pipeline with Tint (the WGSL
 * compiler Chromium uses) and executes nothing, and it offers every feature, `shader-f16`
 * included. The f16-arithmetic shaders are type-checked there on machines whose adapters lack
 * `shader-f16` (test/precision.test.ts); nothing read back from it means anything.
 */
export async function createValidationDevice(features: GPUFeatureName[] = ['shader-f16']): Promise<GPUDevice> {
  const adapter = await createGpu(await loadDawn(), ['backend=null']).requestAdapter();
  if (!adapter) throw new CnnV3Error("Dawn's null backend is not available in this build of the 'webgpu' package");
  return adapter.requestDevice({ label: 'cnnv3 validation device (null backend)', requiredFeatures: features });
}
