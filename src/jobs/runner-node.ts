/**
 * Where Node runs GPU jobs: in this process through Dawn (the `webgpu` package; a hardware GPU
 * when there is one, else SwiftShader), or in a headless Chromium page driven by playwright-core
 * (`--gpu chromium`), which runs the very same job code (jobs.ts) on the browser's WebGPU.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { CnnV3Error } from '../errors.js';
import { createNodeGpu } from '../gpu/device-node.js';
import { deviceInfo, runFrameBenchJob, runInferJob, runParityJob, type DeviceInfo, type FrameBenchJob, type FrameBenchResult, type InferJob, type InferResult } from './jobs.js';
import type { Outcome, PageJobs } from './page-entry.js';
import type { ParityReport } from '../verify/parity.js';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * The flags that give headless Chromium WebGPU on SwiftShader with the network closed. The two
 * `--use-*=swiftshader` flags give the compositor SwiftShader too: without them a WebGPU canvas
 * cannot get its swap-chain image ("Could not find SharedImageBackingFactory") and the GPU
 * process drops the WebGPU instance at the first present.
 */
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--enable-features=Vulkan',
  '--use-angle=swiftshader',
  '--use-vulkan=swiftshader',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** The flags that point Chromium's WebGPU (and its compositor) at SwiftShader; dropped for a GPU. */
const SWIFTSHADER_ONLY = new Set(['--use-webgpu-adapter=swiftshader', '--use-angle=swiftshader', '--use-vulkan=swiftshader']);

/**
 * Chromium's arguments for an adapter: 'swiftshader' (CHROMIUM_ARGS), or 'default' (the browser's
 * own choice, a GPU where there is one). `timing` adds what unquantised timestamps need: the
 * WebGPU developer features and Dawn's timestamp_quantization toggle off.
 */
export function chromiumArgs(adapter: ChromiumAdapter = 'swiftshader', timing = false): string[] {
  const args = adapter === 'swiftshader' ? [...CHROMIUM_ARGS] : CHROMIUM_ARGS.filter((a) => !SWIFTSHADER_ONLY.has(a));
  if (timing) args.push('--enable-webgpu-developer-features', '--enable-dawn-features=allow_unsafe_apis', '--disable-dawn-features=timestamp_quantization');
  return args;
}

export type ChromiumAdapter = 'swiftshader' | 'default';

export interface GpuRunner {
  /** e.g. "dawn: NVIDIA H100 …" or "chromium: SwiftShader …" */
  readonly description: string;
  infer(job: InferJob): Promise<InferResult>;
  parity(job: InferJob): Promise<ParityReport>;
  /** The device's adapter and features. */
  info(): Promise<DeviceInfo>;
  /** Frame timing (bench:infer). */
  frames(job: FrameBenchJob): Promise<FrameBenchResult>;
  close(): Promise<void>;
}

export type RunnerChoice = 'auto' | 'dawn' | 'chromium';

export async function dawnRunner(adapter: 'auto' | 'hardware' | 'software'): Promise<GpuRunner> {
  const ctx = await createNodeGpu({ adapter });
  return {
    description: `dawn: ${ctx.adapterName}`,
    infer: (job) => runInferJob(ctx, job),
    parity: (job) => runParityJob(ctx, job),
    info: async () => deviceInfo(ctx),
    frames: (job) => runFrameBenchJob(ctx, job),
    close: async () => ctx.device.destroy(),
  };
}

/**
 * The page bundle, built beside this file (dist/jobs/page-bundle.js) by `npm run build`; from the
 * sources (tsx) the built one; CNNV3_PAGE_BUNDLE overrides both (the tests bundle the sources).
 */
export function defaultPageBundle(): string {
  const env = process.env['CNNV3_PAGE_BUNDLE'];
  if (env) return env;
  const rel = import.meta.url.endsWith('.ts') ? '../../dist/jobs/page-bundle.js' : './page-bundle.js';
  return new URL(rel, import.meta.url).pathname;
}

export async function chromiumRunner(bundlePath: string = defaultPageBundle(), executable = CHROMIUM, args: string[] = CHROMIUM_ARGS): Promise<GpuRunner> {
  if (!existsSync(executable)) {
    throw new CnnV3Error(
      `No WebGPU adapter: no hardware GPU, and no ${executable} for WebGPU on SwiftShader. ` +
        `Install software WebGPU with 'apt-get install chromium libvulkan1' (or run on a machine with a GPU)`,
    );
  }
  if (!existsSync(bundlePath)) throw new CnnV3Error(`${bundlePath}: the page bundle is missing: run npm run build`);
  const bundle = await readFile(bundlePath);
  // Cross-origin isolated (COOP + COEP): performance.now() then ticks in microseconds, not the
  // 100 µs steps of an ordinary page (bench:infer times frames with it).
  const isolated = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
  const server: Server = createServer((req, res) => {
    if (req.url === '/bundle.js') {
      res.writeHead(200, { 'content-type': 'text/javascript', ...isolated });
      res.end(bundle);
    } else if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html', ...isolated });
      res.end('<!doctype html><meta charset="utf-8"><title>cnnv3 jobs</title><script type="module" src="/bundle.js"></script>');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: executable, args });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => 'cnnv3Jobs' in globalThis);
    const call = async <T>(name: keyof PageJobs, arg?: InferJob | FrameBenchJob): Promise<T> => {
      const r = (await page.evaluate(
        ([n, a]) => (globalThis as unknown as { cnnv3Jobs: Record<string, (x?: unknown) => Promise<unknown>> }).cnnv3Jobs[n]!(a),
        [name, arg] as const,
      )) as Outcome<T>;
      if (r.ok) return r.value;
      if (r.user) throw new CnnV3Error(r.message);
      throw new Error(`in Chromium: ${r.message}`);
    };
    const adapter = await call<string>('adapter');
    return {
      description: `chromium: ${adapter}`,
      infer: (job) => call<InferResult>('infer', job),
      parity: (job) => call<ParityReport>('parity', job),
      info: () => call<DeviceInfo>('info'),
      frames: (job) => call<FrameBenchResult>('frames', job),
      close: async () => {
        await browser.close();
        server.close();
      },
    };
  } catch (e) {
    await browser.close();
    server.close();
    throw e;
  }
}

/** `auto` and `dawn`: Dawn in this process (hardware GPU, else SwiftShader); `chromium`: a page. */
export async function openGpuRunner(choice: RunnerChoice = 'auto', bundlePath?: string): Promise<GpuRunner> {
  if (choice === 'chromium') return chromiumRunner(bundlePath);
  return dawnRunner('auto');
}
