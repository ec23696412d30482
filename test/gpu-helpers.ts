/** GPU runners for the tests: Dawn in this process, and Chromium over a bundle of the sources. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { build } from 'esbuild';
import { SWIFTSHADER_ICD } from '../src/gpu/device-node.js';
import { chromiumRunner, CHROMIUM, dawnRunner, type GpuRunner } from '../src/gpu/runner-node.js';
import { REPO, requireTool } from './helpers.js';

export type RunnerKind = 'dawn' | 'chromium';

export async function bundleSources(): Promise<{ path: string; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'cnnv3-bundle-'));
  const path = join(dir, 'page-bundle.js');
  await build({ entryPoints: [join(REPO, 'src/gpu/page-entry.ts')], bundle: true, format: 'esm', platform: 'browser', outfile: path, logLevel: 'silent' });
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
