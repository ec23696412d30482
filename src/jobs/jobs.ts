/**
 * GPU work as serialisable jobs, so the same code runs on a device in this process (Dawn in
 * Node, or a page) or in a headless Chromium page driven from Node (runner-node.ts).
 * Typed arrays travel as base64 of their little-endian bytes.
 */
import type { ModelConfig } from '../model/config.js';
import { fromBase64, toBase64, bytesOf } from '../util/base64.js';
import type { EffectPath } from '../effect/cnn-effect.js';
import type { Arithmetic, Precision } from '../effect/precision.js';
import { CNN_OUTPUT_NODE, CnnNodeEffect } from '../effect/cnn-node-effect.js';
import { gpuAwait, type GpuContext } from '../gpu/context.js';
import { FeaturePass, type FeaturePlanes } from '../effect/feature-pass.js';
import { TextureNodes } from '../effect/nodes.js';
import { runParity, type ParityReport } from '../verify/parity.js';
import { readRgba16f } from '../gpu/readback.js';
import { randomPlanes } from '../verify/random-input.js';

export interface WirePlanes {
  width: number;
  height: number;
  albedo: string;
  normal?: string;
  depth?: string;
  matid?: string;
  shadow?: string;
  transp?: string;
}

export interface InferJob {
  config: ModelConfig;
  planes: WirePlanes;
  /** cnn_v3_weights.bin */
  weights: string;
  /** cnn_v3_film_mlp.bin (identity FiLM without it) */
  film?: string;
  cond: number[];
  /** Parity only: the weights the CPU reference uses instead (to show a mismatch is caught). */
  referenceWeights?: string;
  /** Renders to time after the first (0: just one). */
  timingFrames?: number;
  /** The effect's shaders (default: the fast path when the model fits it, else the general one). */
  path?: EffectPath;
  /** The effect's precision (default 'auto'). */
  precision?: Precision;
}

export interface InferResult {
  adapter: string;
  width: number;
  height: number;
  /** The arithmetic the effect ran. */
  precision: Arithmetic;
  /** float32 RGBA, row-major */
  rgba: string;
  /** Mean GPU ms per frame over timingFrames renders (timestamp queries when available). */
  gpuMs?: number;
  /** Mean GPU ms per pass (timestamp queries only). */
  passMs?: Record<string, number>;
  /** Wall-clock ms per frame with frames submitted back to back (feature packing included). */
  wallMs?: number;
  timestamps?: boolean;
}

/** The job for a model's two files, the planes to pack and a condition (what infer, parity and eval send). */
export function inferJob(files: { config: ModelConfig; weights: Uint8Array; film?: Uint8Array }, planes: FeaturePlanes, cond: number[]): InferJob {
  return { config: files.config, planes: encodePlanes(planes), weights: toBase64(files.weights), ...(files.film ? { film: toBase64(files.film) } : {}), cond };
}

export function encodePlanes(p: FeaturePlanes): WirePlanes {
  const opt = (a?: ArrayBufferView) => (a ? toBase64(bytesOf(a)) : undefined);
  const w: WirePlanes = { width: p.width, height: p.height, albedo: toBase64(p.albedo) };
  for (const k of ['normal', 'depth', 'matid', 'shadow', 'transp'] as const) {
    const v = opt(p[k]);
    if (v !== undefined) w[k] = v;
  }
  return w;
}

export function decodePlanes(w: WirePlanes): FeaturePlanes {
  const p: FeaturePlanes = { width: w.width, height: w.height, albedo: fromBase64(w.albedo) };
  if (w.normal) p.normal = fromBase64(w.normal);
  if (w.matid) p.matid = fromBase64(w.matid);
  if (w.shadow) p.shadow = fromBase64(w.shadow);
  if (w.transp) p.transp = fromBase64(w.transp);
  if (w.depth) {
    const b = fromBase64(w.depth);
    p.depth = new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
  }
  return p;
}

export async function runInferJob(ctx: GpuContext, job: InferJob): Promise<InferResult> {
  const nodes = new TextureNodes(ctx.device);
  const features = new FeaturePass(ctx.device);
  const cnn = new CnnNodeEffect(ctx.device, { config: job.config, ...(job.path ? { path: job.path } : {}), ...(job.precision ? { precision: job.precision } : {}) });
  const effect = cnn.effect;
  try {
    const planes = decodePlanes(job.planes);
    features.upload(planes, nodes);
    effect.uploadWeights(ctx.device.queue, fromBase64(job.weights));
    if (job.film) effect.uploadFilmMlp(fromBase64(job.film));
    effect.setFilmParams(job.cond);
    const frame = () => {
      const encoder = ctx.device.createCommandEncoder({ label: 'infer' });
      features.encode(encoder, nodes);
      cnn.render(encoder, {}, nodes);
      ctx.device.queue.submit([encoder.finish()]);
    };
    frame();
    const out = await readRgba16f(ctx.device, nodes.get(CNN_OUTPUT_NODE)!);
    const result: InferResult = { adapter: ctx.adapterName, width: planes.width, height: planes.height, precision: effect.precision, rgba: toBase64(bytesOf(out)) };
    const n = job.timingFrames ?? 0;
    if (n > 0) {
      const timestamps = effect.enableTimestamps();
      // Frames go back to back, as an engine rendering continuously submits them: a GPU that
      // waits for the CPU after every frame stays at its idle clock (seen on an H100: 345 MHz
      // instead of 1980) and times several times slower. Timestamps are read from the last
      // frame of each batch, while the GPU is busy.
      const BATCH = 20;
      const runBatch = async (k: number) => {
        for (let i = 0; i < k; i++) frame();
        return timestamps ? effect.readTimings() : (await gpuAwait(ctx.device.queue.onSubmittedWorkDone()), undefined);
      };
      await runBatch(Math.min(n, 2 * BATCH)); // warm-up: clocks up, pipelines compiled
      let total = 0;
      let batches = 0;
      const passMs: Record<string, number> = {};
      const t0 = performance.now();
      for (let done = 0; done < n; done += BATCH) {
        const t = await runBatch(Math.min(BATCH, n - done));
        batches++;
        if (!t) continue;
        total += t.total;
        for (const [k, v] of Object.entries(t.passes)) passMs[k] = (passMs[k] ?? 0) + v;
      }
      const wall = (performance.now() - t0) / n;
      result.wallMs = wall;
      result.timestamps = timestamps;
      if (timestamps) {
        result.gpuMs = total / batches;
        for (const k of Object.keys(passMs)) passMs[k]! /= batches;
        result.passMs = passMs;
      } else result.gpuMs = wall;
    }
    return result;
  } finally {
    effect.destroy();
    nodes.destroy();
  }
}

export async function runParityJob(ctx: GpuContext, job: InferJob): Promise<ParityReport> {
  return runParity(ctx, {
    config: job.config,
    planes: decodePlanes(job.planes),
    weights: fromBase64(job.weights),
    cond: job.cond,
    ...(job.film ? { film: fromBase64(job.film) } : {}),
    ...(job.referenceWeights ? { referenceWeights: fromBase64(job.referenceWeights) } : {}),
    ...(job.path ? { path: job.path } : {}),
    ...(job.precision ? { precision: job.precision } : {}),
  });
}

/**
 * Frame timing (bench:infer's Chromium figures): the effect on seeded random planes, `frames`
 * frames after `warmup`, each one encoded (feature packing + the network), submitted and waited
 * for (onSubmittedWorkDone) before the next, timed with performance.now(): the time a frame
 * takes from the page's point of view, GPU work, submit and completion latency included. With
 * timestamp queries the GPU time of the network's passes per frame is kept too (copied aside
 * each frame, read once at the end).
 */
export interface FrameBenchJob {
  config: ModelConfig;
  weights: string;
  film?: string;
  cond: number[];
  width: number;
  height: number;
  /** randomPlanes' seed (the planes are made where the job runs: a 4K frame's would be 60 MB of JSON). */
  seed: number;
  frames: number;
  warmup: number;
  precision?: Precision;
}

export interface FrameBenchResult {
  adapter: string;
  precision: Arithmetic;
  /** Wall-clock ms per frame, one per timed frame. */
  frameMs: number[];
  /** GPU ms of the network's passes (sum) per timed frame, when timestamp queries are available. */
  gpuMs?: number[];
  /** GPU ms from the first pass's start to the last pass's end per timed frame. */
  spanMs?: number[];
}

/** What bench:infer asks a page before timing: its adapter and what it offers. */
export interface DeviceInfo {
  adapter: string;
  shaderF16: boolean;
  timestamps: boolean;
}

export function deviceInfo(ctx: GpuContext): DeviceInfo {
  return { adapter: ctx.adapterName, shaderF16: ctx.device.features.has('shader-f16'), timestamps: ctx.device.features.has('timestamp-query') };
}

export async function runFrameBenchJob(ctx: GpuContext, job: FrameBenchJob): Promise<FrameBenchResult> {
  const device = ctx.device;
  const nodes = new TextureNodes(device);
  const features = new FeaturePass(device);
  const cnn = new CnnNodeEffect(device, { config: job.config, ...(job.precision ? { precision: job.precision } : {}) });
  const effect = cnn.effect;
  let stamps: GPUBuffer | undefined;
  try {
    features.upload(randomPlanes(job.width, job.height, job.seed), nodes);
    effect.uploadWeights(device.queue, fromBase64(job.weights));
    if (job.film) effect.uploadFilmMlp(fromBase64(job.film));
    effect.setFilmParams(job.cond);
    const timestamps = effect.enableTimestamps();
    const bytes = effect.timestampBytes;
    if (timestamps) stamps = device.createBuffer({ label: 'frame bench timestamps', size: Math.max(1, job.frames) * bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    const frame = async (slot: number | undefined) => {
      const encoder = device.createCommandEncoder({ label: 'frame bench' });
      features.encode(encoder, nodes);
      cnn.render(encoder, {}, nodes);
      if (stamps && slot !== undefined) effect.copyTimestamps(encoder, stamps, slot * bytes);
      device.queue.submit([encoder.finish()]);
      await gpuAwait(device.queue.onSubmittedWorkDone());
    };
    for (let i = 0; i < job.warmup; i++) await frame(undefined);
    const frameMs: number[] = [];
    for (let i = 0; i < job.frames; i++) {
      const t0 = performance.now();
      await frame(i);
      frameMs.push(performance.now() - t0);
    }
    const result: FrameBenchResult = { adapter: ctx.adapterName, precision: effect.precision, frameMs };
    if (stamps) {
      await gpuAwait(stamps.mapAsync(GPUMapMode.READ));
      const all = new BigInt64Array(stamps.getMappedRange().slice(0));
      stamps.unmap();
      const t = Array.from({ length: job.frames }, (_, k) => effect.timingsFrom(all.subarray((k * bytes) / 8, ((k + 1) * bytes) / 8)));
      result.gpuMs = t.map((x) => x.total);
      result.spanMs = t.map((x) => x.span);
    }
    return result;
  } finally {
    stamps?.destroy();
    effect.destroy();
    nodes.destroy();
  }
}

export function decodeRgba(result: InferResult): Float32Array {
  const b = fromBase64(result.rgba);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}
