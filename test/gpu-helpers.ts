/** A Chromium runner over a page bundle built from the sources, shared by a test file. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { build } from 'esbuild';
import { chromiumRunner, CHROMIUM, type GpuRunner } from '../src/gpu/runner-node.js';
import { REPO, requireTool } from './helpers.js';

export async function bundleSources(): Promise<{ path: string; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'cnnv3-bundle-'));
  const path = join(dir, 'page-bundle.js');
  await build({ entryPoints: [join(REPO, 'src/gpu/page-entry.ts')], bundle: true, format: 'esm', platform: 'browser', outfile: path, logLevel: 'silent' });
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

let shared: Promise<{ runner: GpuRunner; cleanup: () => void }> | undefined;

/** One Chromium per test file; closed when the process's tests end. */
export async function sourceRunner(t: TestContext): Promise<GpuRunner | undefined> {
  if (!requireTool(t, CHROMIUM, 'chromium')) return undefined;
  shared ??= (async () => {
    const b = await bundleSources();
    process.env['CNNV3_PAGE_BUNDLE'] = b.path; // the CLI's runners use the same source bundle
    return { runner: await chromiumRunner(b.path), cleanup: b.cleanup };
  })();
  return (await shared).runner;
}

export async function closeSharedRunner(): Promise<void> {
  if (!shared) return;
  const s = await shared;
  await s.runner.close();
  s.cleanup();
  shared = undefined;
}
