/**
 * The browser side of the Chromium runner (runner-node.ts): bundled for the page, it exposes
 * the GPU jobs on `window.cnnv3Jobs` using the page's own navigator.gpu.
 */
import { isCnnV3Error } from '../errors.js';
import { contextFromGpu, type GpuContext } from '../gpu/context.js';
import { deviceInfo, runFrameBenchJob, runInferJob, runParityJob, type FrameBenchJob, type InferJob } from './jobs.js';

let ctx: Promise<GpuContext> | undefined;
const device = () => (ctx ??= contextFromGpu(navigator.gpu, ' in this browser (start Chromium with --enable-unsafe-webgpu)'));

/** Errors cross back to Node as values: a user error keeps its message, anything else its stack. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; user: boolean; message: string };

async function outcome<T>(f: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    return { ok: false, user: isCnnV3Error(e), message: isCnnV3Error(e) ? e.message : String((e as Error).stack ?? e) };
  }
}

const jobs = {
  adapter: () => outcome(async () => (await device()).adapterName),
  infer: (job: InferJob) => outcome(async () => runInferJob(await device(), job)),
  parity: (job: InferJob) => outcome(async () => runParityJob(await device(), job)),
  info: () => outcome(async () => deviceInfo(await device())),
  frames: (job: FrameBenchJob) => outcome(async () => runFrameBenchJob(await device(), job)),
};

export type PageJobs = typeof jobs;

(globalThis as unknown as { cnnv3Jobs: typeof jobs }).cnnv3Jobs = jobs;
