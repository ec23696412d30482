/** GPU runners for the tests: Dawn in this process, and Chromium over a bundle of the sources. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, type TestContext } from 'node:test';
import { build } from 'esbuild';
import type { GpuContext } from '../src/gpu/context.js';
import { nodeGpu, SWIFTSHADER_ICD } from '../src/gpu/device-node.js';
import { chromiumRunner, CHROMIUM, dawnRunner, type GpuRunner } from '../src/jobs/runner-node.js';
import { REPO, requireTool } from './helpers.js';

export type RunnerKind = 'dawn' | 'chromium';

export async function bundleSources(): Promise<{ path: string; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'cnnv3-bundle-'));
  const path = join(dir, 'page-bundle.js');
  await build({ entryPoints: [join(REPO, 'src/jobs/page-entry.ts')], bundle: true, format: 'esm', platform: 'browser', outfile: path, logLevel: 'silent' });
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const shared = new Map<RunnerKind, Promise<{ runner: GpuRunner; cleanup: () => void }>>();

/** One runner of each kind per test file; closed by closeRunners. */
export async function testRunner(t: TestContext, kind: RunnerKind): Promise<GpuRunner | undefined> {
  // Dawn needs a Vulkan driver: SwiftShader comes with Debian's chromium (plus libvulkan1).
  if (kind === 'dawn' && !requireTool(t, '/usr/lib/x86_64-linux-gnu/libvulkan.so.1', 'libvulkan1')) return undefined;
  if (!requireTool(t, kind === 'dawn' ? SWIFTSHADER_ICD : CHROMIUM, 'chromium')) return undefined;
  let p = shared.get(kind);
  if (!p) {
    p = (async () => {
      if (kind === 'dawn') return { runner: await dawnRunner('auto'), cleanup: () => {} };
      const b = await bundleSources();
      return { runner: await chromiumRunner(b.path), cleanup: b.cleanup };
    })();
    shared.set(kind, p);
  }
  return (await p).runner;
}

export async function closeRunners(): Promise<void> {
  for (const p of shared.values()) {
    const s = await p;
    await s.runner.close();
    s.cleanup();
  }
  shared.clear();
}

/** A Dawn device in this process (SwiftShader without a GPU), or undefined where the test skipped. */
export async function testGpuContext(t: TestContext): Promise<GpuContext | undefined> {
  if (!requireTool(t, '/usr/lib/x86_64-linux-gnu/libvulkan.so.1', 'libvulkan1')) return undefined;
  if (!requireTool(t, SWIFTSHADER_ICD, 'chromium')) return undefined;
  return nodeGpu();
}

/** Registers the hook that destroys the shared Dawn device when the file's tests end (a live device keeps the process alive). */
export function destroyGpuContextAfter(): void {
  after(async () => {
    const ctx = await nodeGpu().catch(() => undefined);
    ctx?.device.destroy();
  });
}
