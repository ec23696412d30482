/**
 * A short training run in the page: the samples loaded in the tool go through the same steps
 * as `cnnv3 train --device gpu`: prepareImage's features and keypoints, initParams, and the one
 * training loop (train/loop.ts) on the WebGPU engine, so a run here with a seed matches the
 * CLI's run with that seed on the same sample. One epoch is awaited at a time, so the page
 * stays responsive and can stop between epochs.
 */
import { CnnV3Error } from '../errors.js';
import type { Sample } from '../dataset/sample.js';
import { exportWeights, type ExportedWeights } from '../export/export.js';
import { trainContext } from '../train/gpu/context.js';
import { GpuTrainEngine } from '../train/gpu/gpu-engine.js';
import { DEFAULT_MODEL_CONFIG, makeModelConfig, type ModelConfig, type OutputMode } from '../model/config.js';
import { initParams } from '../model/init.js';
import { buildParamTable } from '../model/params.js';
import { prepareImage } from '../train/data.js';
import type { LossKind } from '../model/loss.js';
import { TRAIN_DEFAULTS } from '../train/options.js';
import { runTrainingLoop } from '../train/loop.js';

export interface PageTrainOptions {
  epochs: number;
  patchSize: number;
  patchesPerImage: number;
  batchSize: number;
  lr: number;
  seed: number;
  outputMode: OutputMode;
  /** `--loss`: the ones the WebGPU trainer has (PAGE_LOSSES; default mse). */
  loss?: (typeof PAGE_LOSSES)[number];
  /** `--weight-decay` (AdamW on the conv weights; default 0). */
  weightDecay?: number;
}

/** The losses the page's (WebGPU) trainer runs; l1+ssim is the CPU trainer's only. */
export const PAGE_LOSSES = ['mse', 'l1'] as const satisfies readonly LossKind[];

export interface EpochReport {
  epoch: number;
  epochs: number;
  /** Mean of the epoch's step losses. */
  loss: number;
  /** Every step's loss, in order. */
  stepLosses: Float32Array;
  patchesPerSecond: number;
}

export interface TrainCallbacks {
  /** Steps finished so far in the current epoch (of `steps`). */
  progress(epoch: number, done: number, steps: number): void;
  epoch(report: EpochReport): void;
  /** Polled between epochs. */
  shouldStop(): boolean;
}

export interface PageTrainResult {
  config: ModelConfig;
  params: Float32Array;
  /** Epochs finished (fewer than asked when stopped). */
  epochs: number;
  exported: ExportedWeights;
  adapterName: string;
}

/** Integer options within the range the CLI accepts; a bad field names itself. */
export function checkOptions(o: PageTrainOptions): void {
  const int = (name: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new CnnV3Error(`train: ${name} must be a whole number from ${lo} to ${hi}; got ${v}`);
  };
  int('epochs', o.epochs, 1, 100_000);
  int('patch size', o.patchSize, 4, 512);
  int('patches per image', o.patchesPerImage, 1, 65_536);
  int('batch size', o.batchSize, 1, 4096);
  int('seed', o.seed, 0, 2 ** 31 - 1);
  if (!(o.lr > 0 && o.lr < 1)) throw new CnnV3Error(`train: learning rate must be in (0, 1); got ${o.lr}`);
  if (o.loss !== undefined && !(PAGE_LOSSES as readonly string[]).includes(o.loss)) throw new CnnV3Error(`train: loss must be one of ${PAGE_LOSSES.join(', ')}; got ${String(o.loss)}`);
  const wd = o.weightDecay ?? 0;
  if (!(wd >= 0 && o.lr * wd < 1)) throw new CnnV3Error(`train: weight decay must be at least 0 and below 1/learning rate; got ${wd}`);
}

export async function trainInPage(gpu: GPU | undefined, samples: ReadonlyArray<Sample>, o: PageTrainOptions, cb: TrainCallbacks): Promise<PageTrainResult> {
  checkOptions(o);
  if (samples.length === 0) throw new CnnV3Error('train: nothing to train on: load a photo with a target, a sample or an EXR');
  if (!gpu) throw new CnnV3Error('train: WebGPU is not available in this browser: use a recent Chrome or Edge (or Chromium with --enable-unsafe-webgpu)');
  // A device of its own, with the adapter's buffer and workgroup limits (the viewer's device
  // has the defaults), so a lost training device leaves the viewer running.
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new CnnV3Error('train: no WebGPU adapter found in this browser');
  const ctx = await trainContext(adapter);
  const config = makeModelConfig(DEFAULT_MODEL_CONFIG.encChannels, DEFAULT_MODEL_CONFIG.filmCondDim, o.outputMode);
  const table = buildParamTable(config);
  const images = samples.map((s, i) =>
    prepareImage(s, { fullImage: false, imageSize: TRAIN_DEFAULTS.imageSize, patchSize: o.patchSize, patchesPerImage: o.patchesPerImage, detector: TRAIN_DEFAULTS.detector, seed: o.seed }, i),
  );
  let engine: GpuTrainEngine | undefined;
  try {
    // Chunks of a few steps: the progress line moves within an epoch at a small cost per submit.
    engine = await GpuTrainEngine.create(ctx, table, images, {
      batchSize: o.batchSize,
      side: o.patchSize,
      channelDropoutP: TRAIN_DEFAULTS.channelDropoutP,
      seed: o.seed,
      chunk: 16,
      ...(o.loss ? { loss: o.loss } : {}),
      ...(o.weightDecay ? { weightDecay: o.weightDecay } : {}),
    });
    const result = await runTrainingLoop(
      engine,
      { table, images, valImages: [], initial: initParams(table, o.seed) },
      { epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, lrSchedule: 'constant', checkpointEvery: 0, seed: o.seed },
      undefined,
      {
        onEvent: (e) => {
          if (e.type === 'epoch-start') cb.progress(e.epoch, 0, e.steps);
          else if (e.type === 'progress') cb.progress(e.epoch, e.done, e.steps);
          else cb.epoch({ epoch: e.record.epoch, epochs: e.epochs, loss: e.record.loss, stepLosses: Float32Array.from(e.stepLosses), patchesPerSecond: e.record.patches_per_s });
        },
        shouldStop: () => cb.shouldStop(),
      },
    );
    const params = result.state.params;
    return { config, params, epochs: result.records.length, exported: exportWeights(config, params), adapterName: ctx.adapterName };
  } finally {
    await engine?.close();
    ctx.device.destroy();
  }
}
